#!/usr/bin/env python3
"""Side-by-side with Lattigo on this machine: a full-slot bootstrap at Lattigo's default
N16QP1546H192H32 (the anchor's set) and MulRelin + Rescale at 25 + 5 limbs, through two PyPI wheels
that link upstream Lattigo v6.2.0 (`orion-v2-lattigo`: keys, encryption; `orion-v2-evaluator`:
an evaluator of `.orion` v2 graphs with `bootstrap` and `quad` ops). Each op is run as a tiny graph
built here; the evaluator's own cost per call (ciphertext (de)serialization, measured on an
identity graph) is subtracted. Values are real, uniform in [-1, 1].

    python3 -m venv /tmp/lattigo
    /tmp/lattigo/bin/pip install orion-v2-lattigo==6.2.4 orion-v2-evaluator==2.1.8
    GOMAXPROCS=1 /tmp/lattigo/bin/python scripts/anchors/lattigo_side_by_side.py boot 2
    GOMAXPROCS=1 /tmp/lattigo/bin/python scripts/anchors/lattigo_side_by_side.py mul 2

Compare in the same window with `cachemir-run bench bootstrap --threads 1` and
`cachemir-run bench primitives --limbs 25+5 --threads 1` (`mul_relin_rescale_ms`).
"""
import json
import math
import random
import struct
import sys
import time

from lattigo.ckks import Encoder, Parameters
from lattigo.rlwe import (BootstrapParams, Ciphertext, Decryptor, Encryptor, KeyGenerator,
                          MemEvaluationKeySet)
from orion_evaluator import Evaluator, Model


def container(header: dict) -> bytes:
    h = json.dumps(header).encode()
    return b"ORION\x00\x02\x00" + struct.pack("<I", len(h)) + h + struct.pack("<I", 0)


def model(params: dict, nodes: list, slots: list, needs_rlk: bool, input_level: int) -> bytes:
    names = ["x"] + [n["name"] for n in nodes]
    full = [dict(name="x", op="flatten", level=input_level, depth=0, shape={}, config={},
                 blob_refs={})]
    for n in nodes:
        full.append(dict(shape={}, blob_refs={}, depth=1, **n))
    edges = [dict(src=a, dst=b) for a, b in zip(names, names[1:])]
    header = dict(
        version=2,
        params=dict(logn=params["logn"], logq=params["logq"], logp=params["logp"],
                    logscale=params["log_default_scale"], h=params["h"],
                    ring_type="standard", boot_logp=params.get("boot_logp", [])),
        config=dict(margin=1, embedding_method="hybrid", fuse_modules=False),
        manifest=dict(galois_elements=[], bootstrap_slots=slots,
                      boot_logp=params.get("boot_logp", []), needs_rlk=needs_rlk),
        input_level=input_level,
        cost=dict(bootstrap_count=len(slots), galois_key_count=0, bootstrap_key_count=0),
        graph=dict(input="x", output=names[-1], nodes=full, edges=edges),
        blob_count=0,
    )
    return container(header)


def precision_bits(want, got):
    err = [abs(a - b) for a, b in zip(want, got)]
    return -math.log2(sum(err) / len(err)), -math.log2(max(err))


def main():
    what = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    if what == "boot":
        params = dict(logn=16, logq=[60] + [40] * 9, logp=[61] * 3, log_default_scale=40, h=192,
                      boot_logp=[61] * 5)
        level = 0
        slots = 1 << 15
        nodes = [dict(name="b", op="bootstrap", level=level,
                      config=dict(input_level=level, input_min=-1.0, input_max=1.0,
                                  prescale=1.0, postscale=1.0, constant=0.0, slots=slots))]
    else:
        params = dict(logn=16, logq=[60] + [45] * 24, logp=[61] * 5, log_default_scale=45, h=192)
        level = 24
        slots = 1 << 15
        nodes = [dict(name=f"q{i}", op="quad", level=level - i - 1, config={}) for i in range(8)]
    ckks = Parameters(params["logn"], params["logq"], params["logp"], params["log_default_scale"],
                      "standard", h=params["h"])
    kg = KeyGenerator(ckks)
    sk = kg.gen_secret_key()
    pk = kg.gen_public_key(sk)
    t = time.time()
    btp_bytes = None
    if what == "boot":
        btp = BootstrapParams(ckks, logn=16, logp=params["boot_logp"], h=params["h"],
                              log_slots=15)
        evk, btp_keys = btp.gen_eval_keys(sk)
        keys = evk.marshal_binary()
        btp_bytes = btp_keys.marshal_binary()
    else:
        keys = MemEvaluationKeySet(kg.gen_relin_key(sk)).marshal_binary()
    keygen_s = time.time() - t
    key_bytes = len(keys) + len(btp_bytes or b"")
    enc = Encoder(ckks)
    rng = random.Random(7)
    values = [rng.uniform(-1, 1) for _ in range(slots)]
    scale = 2 ** params["log_default_scale"]
    ct = Encryptor(ckks, pk).encrypt_new(enc.encode(values, level, scale)).marshal_binary()
    identity = Model.load(model(params, [dict(name="i", op="flatten", level=level, config={})],
                                [], what != "boot", level))
    m = Model.load(model(params, nodes, [slots] if what == "boot" else [], True, level))
    ev = Evaluator({k: v for k, v in params.items()} | {"ring_type": "standard"}, keys, btp_bytes)
    overhead = min(timed(lambda: ev.forward(identity, [ct])) for _ in range(3))
    times = []
    for _ in range(runs):
        t = time.time()
        out = ev.forward(m, [ct])
        times.append(time.time() - t - overhead)
    dec = Decryptor(ckks, sk)
    got = enc.decode(dec.decrypt_new(Ciphertext.unmarshal_binary(out[0])), slots)
    want = values if what == "boot" else [v ** (2 ** len(nodes)) for v in values]
    mean, worst = precision_bits(want, got)
    per = sorted(times)[len(times) // 2] / (1 if what == "boot" else len(nodes))
    print(json.dumps(dict(op=what, per_op_s=round(per, 3), runs=[round(x, 2) for x in times],
                          forward_overhead_s=round(overhead, 3), keygen_s=round(keygen_s, 1),
                          key_bytes=key_bytes, precision_mean_bits=round(mean, 2),
                          precision_min_bits=round(worst, 2))))


def timed(f):
    t = time.time()
    f()
    return time.time() - t


if __name__ == "__main__":
    main()
