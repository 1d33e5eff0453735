//! A Llama decoder as the frontends find it: hyperparameters and weights, independent of the file
//! format. Both the ONNX recognizer and the GGUF reader produce a [`Llama`]; [`emit`] turns it
//! into tensor IR, so the decode-step structure is written once.

mod emit;

pub use emit::emit;

/// A dense row-major matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows · cols` numbers, row-major.
    pub data: Vec<f32>,
}

impl Matrix {
    /// The transpose.
    pub fn transposed(&self) -> Matrix {
        let mut data = vec![0f32; self.data.len()];
        for r in 0..self.rows {
            for c in 0..self.cols {
                data[c * self.rows + r] = self.data[r * self.cols + c];
            }
        }
        Matrix {
            rows: self.cols,
            cols: self.rows,
            data,
        }
    }
}

/// An RMSNorm: gain and epsilon.
#[derive(Debug, Clone, PartialEq)]
pub struct Norm {
    /// Per-channel gain.
    pub gain: Vec<f32>,
    /// Epsilon added to the mean square.
    pub eps: f32,
}

/// Attention hyperparameters of one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionParams {
    /// Query heads.
    pub q_heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Head size.
    pub head_dim: usize,
    /// Score scale.
    pub scale: f32,
    /// RoPE inverse frequency per pair (`head_dim/2`), Llama-3 scaling applied, rotate-half layout.
    pub inv_freq: Vec<f32>,
}

/// One decoder layer. Projection matrices are `[in, out]` (`y = x · W`).
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Norm before attention.
    pub attn_norm: Norm,
    /// Query projection `[hidden, q_heads·head_dim]`.
    pub wq: Matrix,
    /// Key projection `[hidden, kv_heads·head_dim]`.
    pub wk: Matrix,
    /// Value projection `[hidden, kv_heads·head_dim]`.
    pub wv: Matrix,
    /// Output projection `[q_heads·head_dim, hidden]`.
    pub wo: Matrix,
    /// Attention hyperparameters.
    pub attn: AttentionParams,
    /// Norm before the MLP.
    pub mlp_norm: Norm,
    /// Gate projection `[hidden, ffn]` (SiLU branch).
    pub w_gate: Matrix,
    /// Up projection `[hidden, ffn]`.
    pub w_up: Matrix,
    /// Down projection `[ffn, hidden]`.
    pub w_down: Matrix,
}

/// A Llama decoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Llama {
    /// Token embedding table `[vocab, hidden]`.
    pub embed: Matrix,
    /// Decoder layers.
    pub layers: Vec<Layer>,
    /// Final norm.
    pub final_norm: Norm,
    /// LM head `[vocab, hidden]`, or `None` when tied to the embedding table.
    pub lm_head: Option<Matrix>,
}
