#!/usr/bin/env python3
"""Side-by-side with Lattigo on this machine: a full-slot bootstrap at Lattigo's default
N16QP1546H192H32 (the anchor's set) and MulRelin + Rescale at 25 + 5 limbs, through two PyPI wheels
that link upstream Lattigo v6.2.0 (`orion-v2-lattigo`: keys, encryption; `orion-v2-evaluator`:
an evaluator of `.orion` v2 graphs with `bootstrap` and `quad` ops). Each op is run as a tiny graph
built here; the evaluator's own cost per call (ciphertext (de)serialization, measured on an
identity graph) is subtracted. Values are real, uniform in [-1, 1].

`boot`: keys are made in a child process (with a Go memory limit) and written to a temporary
directory without Python copies; the evaluator decodes the bootstrapping keys from a memory map,
closed once decoded. Three in-memory copies of ~9 GB of keys (client, bytes, evaluator) do not fit in
24 GiB. The evaluator's bootstrap op multiplies by a plaintext first (its "prescale"), so the input is
at level 1, and it builds its bootstrapper on first use: one untimed bootstrap comes first. Even so the
evaluator process peaks near 23 GB here (Lattigo alone: 17.9 GB in `../shared/anchors/ckks.md`) and
pays page faults, which on some nights made its bootstrap slower through these wheels than natively
(34.5-47.8 s on 2026-11-24) and on others did not (20.0-23.8 s on 2026-11-25; natively 20.7-21.7 s).

    python3 -m venv /tmp/lattigo
    /tmp/lattigo/bin/pip install orion-v2-lattigo==6.2.4 orion-v2-evaluator==2.1.8
    GOMAXPROCS=1 /tmp/lattigo/bin/python scripts/anchors/lattigo_side_by_side.py boot 2
    GOMAXPROCS=1 /tmp/lattigo/bin/python scripts/anchors/lattigo_side_by_side.py mul 2 [25+5]
    GOMAXPROCS=1 /tmp/lattigo/bin/python scripts/anchors/lattigo_side_by_side.py rotate 3 [25+5 [8]]

`mul` and `rotate` take the limb shape Q+P (default 25+5: a 60-bit q_0, 45-bit primes, 61-bit P
primes; Lattigo splits key switching into ceil(Q/P) digits). `rotate` times K rotations (default 8:
a rotate-and-sum by slots/2, slots/4, …, slots/2^K after a one-diagonal transform) and divides by K:
the difference of two timings of one rotation is lost in the evaluator's ~250 ms per call. The
transform rescales, so the output is one level below the input (printed as `output_level`): the
rotations run at Q or at Q-1 limbs, which the wheel does not say.

Compare in the same window with `cachemir-run bench bootstrap --threads 1` and
`cachemir-run bench primitives --limbs 25+5 --threads 1` (`mul_relin_rescale_ms`, `rotate_ms`).
"""
import ctypes
import json
import math
import mmap
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lattigo import ffi as lattigo_ffi
from lattigo.ckks import Encoder, Parameters
from lattigo.rlwe import (BootstrapParams, Ciphertext, Decryptor, Encryptor, KeyGenerator,
                          MemEvaluationKeySet, PublicKey, SecretKey)
from orion_evaluator import Evaluator, Model
from orion_evaluator import ffi as evaluator_ffi
from orion_evaluator.gohandle import GoHandle


def container(header: dict, blobs: list) -> bytes:
    h = json.dumps(header).encode()
    out = b"ORION\x00\x02\x00" + struct.pack("<I", len(h)) + h + struct.pack("<I", len(blobs))
    return out + b"".join(struct.pack("<Q", len(b)) + b for b in blobs)


def model(params: dict, nodes: list, slots: list, needs_rlk: bool, input_level: int,
          galois: list = (), blobs: list = (), fan_out: bool = False) -> bytes:
    """A graph `x → nodes[0] → nodes[1] …`, or with `fan_out` every node reading `x` (the output
    is the last node)."""
    names = ["x"] + [n["name"] for n in nodes]
    full = [dict(name="x", op="flatten", level=input_level, depth=0, shape={}, config={},
                 blob_refs={})]
    for n in nodes:
        full.append(dict(dict(shape={}, blob_refs={}, depth=1), **n))
    edges = [dict(src="x" if fan_out else a, dst=b) for a, b in zip(names, names[1:])]
    header = dict(
        version=2,
        params=dict(logn=params["logn"], logq=params["logq"], logp=params["logp"],
                    logscale=params["log_default_scale"], h=params["h"],
                    ring_type="standard", boot_logp=params.get("boot_logp", [])),
        config=dict(margin=1, embedding_method="hybrid", fuse_modules=False),
        manifest=dict(galois_elements=list(galois), bootstrap_slots=slots,
                      boot_logp=params.get("boot_logp", []), btp_logn=params["logn"],
                      needs_rlk=needs_rlk),
        input_level=input_level,
        cost=dict(bootstrap_count=len(slots), galois_key_count=0, bootstrap_key_count=0),
        graph=dict(input="x", output=names[-1], nodes=full, edges=edges),
        blob_count=len(blobs),
    )
    return container(header, list(blobs))


def precision_bits(want, got):
    err = [abs(a - b) for a, b in zip(want, got)]
    return -math.log2(sum(err) / len(err)), -math.log2(max(err))


def identity_transform(node: str, level: int, output_rotations: int) -> dict:
    """A one-diagonal linear transform (the identity) followed by `output_rotations` rotations."""
    return dict(name=node, op="linear_transform", level=level, blob_refs={"diag_0_0": 0},
                config=dict(bsgs_ratio=1.0, output_rotations=output_rotations))


def diagonal_blob(slots: int) -> bytes:
    return struct.pack("<I", 1) + struct.pack("<i", 0) + struct.pack(f"<{slots}d", *[1.0] * slots)


BOOT_PARAMS = dict(logn=16, logq=[60] + [40] * 9, logp=[61] * 3, log_default_scale=40, h=192,
                   boot_logp=[61] * 5)


def ckks_parameters(params: dict) -> Parameters:
    return Parameters(params["logn"], params["logq"], params["logp"],
                      params["log_default_scale"], "standard", h=params["h"])


def write_marshalled(path: Path, func_name: str, handle: GoHandle):
    """Writes a Go object's binary form to `path` straight from the C array the library returns
    (the wheel's `marshal_binary` copies it twice more in Python: ~9 GB each for bootstrapping keys)."""
    lib = lattigo_ffi._lib_call()
    err = lattigo_ffi._make_errout()
    n = ctypes.c_ulong(0)
    ptr = getattr(lib, func_name)(lattigo_ffi._uintptr(handle.raw), ctypes.byref(n),
                                  ctypes.byref(err))
    lattigo_ffi._check_err(err)
    with open(path, "wb") as f:
        f.write(memoryview((ctypes.c_char * n.value).from_address(ptr)))
    lib.FreeCArray(ptr)


def boot_keys_to(directory: Path, log_slots: int):
    """Child process: the secret, public, relinearization and bootstrapping keys, as files."""
    ckks = ckks_parameters(BOOT_PARAMS)
    kg = KeyGenerator(ckks)
    sk = kg.gen_secret_key()
    t = time.time()
    btp = BootstrapParams(ckks, logn=16, logp=BOOT_PARAMS["boot_logp"], h=BOOT_PARAMS["h"],
                          log_slots=log_slots)
    _, btp_keys = btp.gen_eval_keys(sk)
    (directory / "keygen_s").write_text(str(time.time() - t))
    write_marshalled(directory / "btp", "BootstrapEvalKeysMarshal", btp_keys._handle)
    (directory / "sk").write_bytes(sk.marshal_binary())
    (directory / "pk").write_bytes(kg.gen_public_key(sk).marshal_binary())
    rlk = MemEvaluationKeySet(kg.gen_relin_key(sk))
    (directory / "rlk").write_bytes(rlk.marshal_binary())


def mapped_evaluator(params: dict, keys: bytes, btp_path: Path) -> Evaluator:
    """An evaluator that decodes its bootstrapping keys from a memory map of `btp_path`; the map is
    closed once the evaluator holds its own copy, so the file's pages do not stay next to its heap."""
    with open(btp_path, "rb") as f:
        btp = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    view = (ctypes.c_char * len(btp)).from_buffer(btp)
    keys_buf = (ctypes.c_char * len(keys)).from_buffer_copy(keys)
    lib = evaluator_ffi._lib_call()
    err = evaluator_ffi._make_errout()
    handle = lib.EvalNewEvaluator(json.dumps(dict(params, ring_type="standard")).encode(),
                                  ctypes.cast(keys_buf, ctypes.c_void_p),
                                  ctypes.c_ulong(len(keys)), ctypes.c_void_p(ctypes.addressof(view)),
                                  ctypes.c_ulong(len(btp)), ctypes.byref(err))
    evaluator_ffi._check_err(err)
    del view
    btp.close()
    ev = object.__new__(Evaluator)
    ev._handle = GoHandle(int(handle), tag="Evaluator", delete_fn=evaluator_ffi._delete_handle)
    return ev


def median(xs):
    return sorted(xs)[len(xs) // 2]


def main():
    what = sys.argv[1]
    if what == "_keys":  # the child of `boot`
        boot_keys_to(Path(sys.argv[2]), int(sys.argv[3]))
        return
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    rotations = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    if what == "boot":
        params = BOOT_PARAMS
        level = 1  # the evaluator's bootstrap op starts with a plaintext product (its "prescale")
        slots = 1 << 15
    else:
        q, p = (int(x) for x in (sys.argv[3] if len(sys.argv) > 3 else "25+5").split("+"))
        params = dict(logn=16, logq=[60] + [45] * (q - 1), logp=[61] * p, log_default_scale=45,
                      h=192)
        level = q - 1
        slots = 1 << 15
    ckks = ckks_parameters(params)
    galois = []
    if what == "boot":
        tmp = Path(tempfile.mkdtemp(prefix="lattigo-keys-"))
        # A memory limit makes the child's garbage collector keep its heap near the live keys.
        subprocess.run([sys.executable, __file__, "_keys", str(tmp), str(slots.bit_length() - 1)],
                       check=True, env=dict(os.environ, GOMEMLIMIT="14GiB"))
        sk = SecretKey.unmarshal_binary((tmp / "sk").read_bytes())
        pk = PublicKey.unmarshal_binary((tmp / "pk").read_bytes())
        keygen_s = float((tmp / "keygen_s").read_text())
        keys = (tmp / "rlk").read_bytes()
        key_bytes = len(keys) + (tmp / "btp").stat().st_size
        ev = mapped_evaluator(params, keys, tmp / "btp")
        shutil.rmtree(tmp)
    else:
        kg = KeyGenerator(ckks)
        sk = kg.gen_secret_key()
        pk = kg.gen_public_key(sk)
        t = time.time()
        galois = [ckks.galois_element(slots >> r) for r in range(1, rotations + 1)]
        keys = MemEvaluationKeySet(kg.gen_relin_key(sk),
                                   [kg.gen_galois_key(sk, g) for g in galois]).marshal_binary()
        keygen_s = time.time() - t
        key_bytes = len(keys)
        ev = Evaluator(dict(params, ring_type="standard"), keys)
    enc = Encoder(ckks)
    rng = random.Random(7)
    values = [rng.uniform(-1, 1) for _ in range(slots)]
    scale = 2 ** params["log_default_scale"]
    ct = Encryptor(ckks, pk).encrypt_new(enc.encode(values, level, scale)).marshal_binary()

    def load(nodes, blobs=(), fan_out=False):
        boot_slots = [slots] if what == "boot" else []
        return Model.load(model(params, nodes, boot_slots, True, level, galois, blobs, fan_out))

    def run(m):
        t = time.time()
        out = ev.forward(m, [ct])
        return time.time() - t, out

    if what == "boot":
        graph = [dict(name="b", op="bootstrap", level=level,
                      config=dict(input_level=level, input_min=-1.0, input_max=1.0,
                                  prescale=1.0, postscale=1.0, constant=0.0, slots=slots))]
        baseline, ops, want = load([dict(name="i", op="flatten", level=level, config={})]), 1, values
        m = load(graph)
    elif what == "mul":
        ops = 8  # eight squarings of x, all at the top level
        graph = [dict(name=f"q{i}", op="quad", level=level - 1, config={}) for i in range(ops)]
        baseline, want = load([dict(name="i", op="flatten", level=level, config={})]), None
        m = load(graph, fan_out=True)
    else:  # rotate: the identity transform with K output rotations, minus the transform alone
        blob = [diagonal_blob(slots)]
        baseline = load([identity_transform("t", level, 0)], blob)
        m = load([identity_transform("t", level, rotations)], blob)
        ops, want = rotations, None
    base = median([run(baseline)[0] for _ in range(3)])
    if what == "boot":
        run(m)  # the evaluator builds its bootstrapper (encodes the DFT matrices) on first use
    times, out = [], None
    for _ in range(runs):
        dt, out = run(m)
        times.append((dt - base) / ops)
    dec = Decryptor(ckks, sk)
    result = Ciphertext.unmarshal_binary(out[0])
    got = enc.decode(dec.decrypt_new(result), slots)
    if what == "mul":
        want = [v * v for v in values]
    elif what == "rotate":  # the sum over the subgroup the K steps generate
        stride = slots >> rotations
        want = [sum(values[(i + t * stride) % slots] for t in range(1 << rotations))
                for i in range(slots)]
    mean, worst = precision_bits(want, got)
    shape = f"{len(params['logq'])}+{len(params['logp'])}"
    print(json.dumps(dict(op=what, shape=shape, lattigo_ms=round(median(times) * 1e3, 1),
                          runs_ms=[round(x * 1e3, 1) for x in times],
                          baseline_ms=round(base * 1e3, 1), keygen_s=round(keygen_s, 1),
                          key_bytes=key_bytes, output_level=result.level(),
                          precision_mean_bits=round(mean, 2),
                          precision_min_bits=round(worst, 2))))


if __name__ == "__main__":
    main()
