//! The tensor-IR ops. Each variant's doc gives its operands and typing rule; `n` is the length
//! of a `vec<n>` operand.

/// One op of a decode step.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// The new token's embedded hidden vector. No operands. The client looks the token up in the
    /// `embedding` table (`[vocab, hidden]`) and sends that row. Result: `vec<hidden>`.
    Input {
        /// Name of the embedding table weight (`embed_tokens`).
        embedding: String,
    },
    /// `y = x · W` with `W` of shape `[in, out]`. Operand `x: vec<in>`. Result: `vec<out>`.
    MatVec {
        /// Name of the `[in, out]` matrix.
        weight: String,
    },
    /// `y = x / sqrt(mean(x²) + eps) ⊙ gain`. Operand `x: vec<n>`, gain `[n]`. Result: `vec<n>`.
    RmsNorm {
        /// Name of the `[n]` gain vector.
        gain: String,
        /// Epsilon added to the mean square.
        eps: f32,
    },
    /// Rotary position embedding at position `p` = the step's past length, rotate-half layout:
    /// for each head `h` and pair `i < head_dim/2`, with `θ = p · inv_freq[i]`,
    /// `(x[i], x[i + head_dim/2]) ↦ (x[i]·cos θ − x[i+half]·sin θ, x[i+half]·cos θ + x[i]·sin θ)`.
    /// Operand `x: vec<heads·head_dim>`. Result: same type.
    Rope {
        /// Number of heads in the operand.
        heads: usize,
        /// Size of each head (even).
        head_dim: usize,
        /// Inverse frequency of each pair, `head_dim/2` entries, Llama-3 scaling already applied.
        inv_freq: Vec<f32>,
    },
    /// Causal self-attention of the new token over the KV cache of `layer`: appends `k`, `v` as
    /// the cache's new last row, then for each query head `h` (KV head `h / (q_heads/kv_heads)`)
    /// `out_h = softmax(scale · q_h · K_hᵀ) · V_h` over the past and new rows.
    /// Operands `q: vec<q_heads·head_dim>`, `k: vec<kv_heads·head_dim>`, `v: vec<kv_heads·head_dim>`
    /// (`q`, `k` after RoPE). Result: `vec<q_heads·head_dim>`.
    Attention {
        /// Layer index: names the KV cache (each layer has its own, appended once per step).
        layer: usize,
        /// Query heads.
        q_heads: usize,
        /// Key/value heads (divides `q_heads`; GQA when smaller).
        kv_heads: usize,
        /// Size of each head.
        head_dim: usize,
        /// Score scale (usually `1/sqrt(head_dim)`).
        scale: f32,
    },
    /// `y = x · sigmoid(x)`. Operand `x: vec<n>`. Result: `vec<n>`.
    Silu,
    /// Elementwise product. Operands `a, b: vec<n>`. Result: `vec<n>`.
    Mul,
    /// Elementwise sum (residual connections). Operands `a, b: vec<n>`. Result: `vec<n>`.
    Add,
    /// `softmax(x)` over all entries. Operand `x: vec<n>`. Result: `vec<n>`.
    Softmax,
    /// Logits `z = E · x` with the `[vocab, hidden]` table `E` (the embedding table when tied).
    /// Operand `x: vec<hidden>`. Result: `vec<vocab>`.
    LmHead {
        /// Name of the `[vocab, hidden]` table.
        weight: String,
    },
    /// Marks its operand as a result of the step (the logits). One operand, no result.
    Output,
}

impl Op {
    /// The text-form keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::MatVec { .. } => "mat_vec",
            Op::RmsNorm { .. } => "rms_norm",
            Op::Rope { .. } => "rope",
            Op::Attention { .. } => "attention",
            Op::Silu => "silu",
            Op::Mul => "mul",
            Op::Add => "add",
            Op::Softmax => "softmax",
            Op::LmHead { .. } => "lm_head",
            Op::Output => "output",
        }
    }

    /// Number of operands the op takes.
    pub fn arity(&self) -> usize {
        match self {
            Op::Input { .. } => 0,
            Op::MatVec { .. }
            | Op::RmsNorm { .. }
            | Op::Rope { .. }
            | Op::Silu
            | Op::Softmax
            | Op::LmHead { .. }
            | Op::Output => 1,
            Op::Mul | Op::Add => 2,
            Op::Attention { .. } => 3,
        }
    }

    /// Whether the op defines a value.
    pub fn has_result(&self) -> bool {
        !matches!(self, Op::Output)
    }

    /// Names of the weights the op reads.
    pub fn weights(&self) -> Vec<&str> {
        match self {
            Op::Input { embedding } => vec![embedding],
            Op::MatVec { weight } | Op::LmHead { weight } => vec![weight],
            Op::RmsNorm { gain, .. } => vec![gain],
            _ => vec![],
        }
    }
}
