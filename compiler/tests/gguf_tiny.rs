//! The GGUF path end to end without the 93 MB model: the tiny fixture Llama written as a GGUF
//! file the way llama.cpp's converter lays it out (ggml `[in, out]` dims, Q/K rows permuted for
//! ggml's RoPE, Llama-3 scaling as `rope_freqs.weight`), read back, and run against onnxruntime's
//! reference.json of the same weights.

use std::path::PathBuf;

use cachemir_compiler::llama::Matrix;
use cachemir_compiler::model::load_tensor_ir;
use cachemir_compiler::onnx::load_model;
use cachemir_compiler::recognize::recognize;
use cachemir_compiler::reference::generate;

struct Writer {
    meta: Vec<u8>,
    n_meta: u64,
    infos: Vec<u8>,
    data: Vec<u8>,
    n_tensors: u64,
}

fn string(b: &mut Vec<u8>, s: &str) {
    b.extend((s.len() as u64).to_le_bytes());
    b.extend(s.as_bytes());
}

impl Writer {
    fn u32(&mut self, k: &str, v: u32) {
        string(&mut self.meta, k);
        self.meta.extend(4u32.to_le_bytes());
        self.meta.extend(v.to_le_bytes());
        self.n_meta += 1;
    }
    fn f32(&mut self, k: &str, v: f32) {
        string(&mut self.meta, k);
        self.meta.extend(6u32.to_le_bytes());
        self.meta.extend(v.to_le_bytes());
        self.n_meta += 1;
    }
    fn str(&mut self, k: &str, v: &str) {
        string(&mut self.meta, k);
        self.meta.extend(8u32.to_le_bytes());
        string(&mut self.meta, v);
        self.n_meta += 1;
    }
    /// An F32 tensor with ggml dims `ne` (fastest first).
    fn tensor(&mut self, name: &str, ne: &[usize], values: &[f32]) {
        assert_eq!(ne.iter().product::<usize>(), values.len());
        string(&mut self.infos, name);
        self.infos.extend((ne.len() as u32).to_le_bytes());
        for &d in ne {
            self.infos.extend((d as u64).to_le_bytes());
        }
        self.infos.extend(0u32.to_le_bytes());
        self.infos.extend((self.data.len() as u64).to_le_bytes());
        for v in values {
            self.data.extend(v.to_le_bytes());
        }
        while !self.data.len().is_multiple_of(32) {
            self.data.push(0);
        }
        self.n_tensors += 1;
    }
    /// A linear layer `W` (`[in, out]`, y = x·W) as ggml stores it: `out` rows of `in`.
    fn linear(&mut self, name: &str, w: &Matrix, permute_heads: Option<usize>) {
        let mut rows: Vec<Vec<f32>> = (0..w.cols)
            .map(|o| (0..w.rows).map(|i| w.data[i * w.cols + o]).collect())
            .collect();
        if let Some(heads) = permute_heads {
            // llama.cpp's convert: reshape(n_head, 2, hd/2, in).swapaxes(1, 2).
            let hd = w.cols / heads;
            let half = hd / 2;
            let hf = rows.clone();
            for h in 0..heads {
                for j in 0..2 {
                    for i in 0..half {
                        rows[h * hd + i * 2 + j] = hf[h * hd + j * half + i].clone();
                    }
                }
            }
        }
        let flat: Vec<f32> = rows.concat();
        self.tensor(name, &[w.rows, w.cols], &flat);
    }
    fn finish(self) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(self.n_tensors.to_le_bytes());
        b.extend(self.n_meta.to_le_bytes());
        b.extend(self.meta);
        b.extend(self.infos);
        while !b.len().is_multiple_of(32) {
            b.push(0);
        }
        b.extend(self.data);
        b
    }
}

#[test]
fn tiny_llama_as_gguf_matches_onnxruntime() {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny-llama/optimum");
    let llama = recognize(&load_model(&dir.join("model.onnx")).unwrap()).unwrap();
    let a = &llama.layers[0].attn;
    let hidden = llama.embed.cols;
    let mut w = Writer {
        meta: vec![],
        n_meta: 0,
        infos: vec![],
        data: vec![],
        n_tensors: 0,
    };
    w.str("general.architecture", "llama");
    w.u32("llama.block_count", llama.layers.len() as u32);
    w.u32("llama.embedding_length", hidden as u32);
    w.u32(
        "llama.feed_forward_length",
        llama.layers[0].w_gate.cols as u32,
    );
    w.u32("llama.attention.head_count", a.q_heads as u32);
    w.u32("llama.attention.head_count_kv", a.kv_heads as u32);
    w.f32("llama.attention.layer_norm_rms_epsilon", 1e-5);
    w.f32("llama.rope.freq_base", 500_000.0);
    w.u32("llama.rope.dimension_count", a.head_dim as u32);
    let factors: Vec<f32> = a
        .inv_freq
        .iter()
        .enumerate()
        .map(|(i, &f)| {
            (1.0 / 500_000f64.powf((2 * i) as f64 / a.head_dim as f64) / f64::from(f)) as f32
        })
        .collect();
    w.tensor("rope_freqs.weight", &[a.head_dim / 2], &factors);
    w.tensor(
        "token_embd.weight",
        &[hidden, llama.embed.rows],
        &llama.embed.data,
    );
    for (i, l) in llama.layers.iter().enumerate() {
        w.tensor(
            &format!("blk.{i}.attn_norm.weight"),
            &[hidden],
            &l.attn_norm.gain,
        );
        w.linear(&format!("blk.{i}.attn_q.weight"), &l.wq, Some(a.q_heads));
        w.linear(&format!("blk.{i}.attn_k.weight"), &l.wk, Some(a.kv_heads));
        w.linear(&format!("blk.{i}.attn_v.weight"), &l.wv, None);
        w.linear(&format!("blk.{i}.attn_output.weight"), &l.wo, None);
        w.tensor(
            &format!("blk.{i}.ffn_norm.weight"),
            &[hidden],
            &l.mlp_norm.gain,
        );
        w.linear(&format!("blk.{i}.ffn_gate.weight"), &l.w_gate, None);
        w.linear(&format!("blk.{i}.ffn_up.weight"), &l.w_up, None);
        w.linear(&format!("blk.{i}.ffn_down.weight"), &l.w_down, None);
    }
    w.tensor("output_norm.weight", &[hidden], &llama.final_norm.gain);
    let head = llama.lm_head.as_ref().unwrap();
    w.tensor("output.weight", &[hidden, head.rows], &head.data);

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("tiny.gguf");
    std::fs::write(&path, w.finish()).unwrap();
    let module = load_tensor_ir(&path).unwrap();

    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let ids = |k: &str| -> Vec<u32> {
        reference[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect()
    };
    let out = generate(&module, &ids("prompt_ids"), 8).unwrap();
    assert_eq!(out.generated_ids, ids("generated_ids"));
    for (step, row) in out.logits.iter().enumerate() {
        let want: Vec<f32> = reference["logits"][step]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let diff = row
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff <= 1e-4, "step {step}: {diff:e}");
    }
}
