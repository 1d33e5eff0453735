//! The ops of the FHE IR. Each variant's doc states its typing rule; [`super::infer`] implements the rules
//! and the verifier checks every op against them.
//!
//! Notation: `in`, `lhs`, `rhs`, `ct`, `pt` are the operand types, `out` the result type, `L` the top level,
//! `log_q[l]` the bit size of the modulus dropped when rescaling at level `l`. "Layout kept" means
//! `out.layout = in.layout`; "layout free" means the result declares any layout (the op moves slots).
//! Unless stated, ciphertext operands must be relinearized (degree 1) and `out.degree = 1`.

use super::module::ValueId;
use super::units::{Level, LogScale, RotStep};
use serde::{Deserialize, Serialize};

/// A plaintext vector stored in the plan's weights: row `index` of the weight matrix `name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WeightRef {
    /// Name of the weight (a key of the module's weight table).
    pub name: String,
    /// Row of the weight matrix; a row holds exactly one plaintext's slots.
    pub index: u32,
}

/// The largest [`Op::Bootstrap`] boost.
pub const MAX_BOOST: u32 = 30;

/// One FHE IR operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// A ciphertext the client encrypts. `out` is declared; its layout must not be opaque (it is the client's
    /// encoding rule), `out.level ≤ L`, `out.degree = 1`. Names are unique among inputs.
    Input {
        /// Input name the client uses.
        name: String,
    },
    /// A ciphertext returned to the client, who decodes it with `value`'s layout (not opaque). No result.
    /// Names are unique among outputs.
    Output {
        /// Output name.
        name: String,
        /// The ciphertext returned.
        value: ValueId,
    },
    /// A real constant. `out = scalar`; `value` is finite.
    Const {
        /// The constant.
        value: f64,
    },
    /// A plaintext encoding of a weight row. `out = pt` as declared: `out.level ≤ L`; the weight exists, has a
    /// row `index`, and its rows have exactly `out.slots` entries.
    Plain {
        /// The weight row.
        weight: WeightRef,
    },
    /// `lhs + rhs`. `lhs` is a ct. If `rhs` is a ct: same level, scale (within tolerance) and slots;
    /// `out.degree = max`; layout kept if both layouts agree, else opaque. If `rhs` is a pt: same level, scale,
    /// slots; layout kept. If `rhs` is a scalar (encoded at `lhs`'s scale): `out = lhs`.
    Add {
        /// Left operand (ct).
        lhs: ValueId,
        /// Right operand (ct, pt or scalar).
        rhs: ValueId,
    },
    /// `lhs − rhs`, typed as [`Op::Add`].
    Sub {
        /// Left operand (ct).
        lhs: ValueId,
        /// Right operand (ct, pt or scalar).
        rhs: ValueId,
    },
    /// Slot-wise `ct · pt`. Same level and slots; `out.scale = ct.scale + pt.scale`; `out.degree = ct.degree`;
    /// layout free (a mask moves data out of the layout).
    MulPlain {
        /// Ciphertext operand.
        ct: ValueId,
        /// Plaintext operand.
        pt: ValueId,
    },
    /// `ct · c` for a scalar `c` encoded at scale `2^scale`. `out.scale = ct.scale + scale`; level, slots,
    /// degree and layout kept.
    MulConst {
        /// Ciphertext operand.
        ct: ValueId,
        /// Scalar operand.
        constant: ValueId,
        /// log2 of the scale the constant is encoded at (0 for an integer constant).
        scale: LogScale,
    },
    /// Slot-wise `lhs · rhs` without relinearization. Both degree 1, same level and slots;
    /// `out.scale = lhs.scale + rhs.scale`; `out.degree = 2`; layout kept if both layouts agree, else opaque.
    MulCt {
        /// Left operand.
        lhs: ValueId,
        /// Right operand.
        rhs: ValueId,
    },
    /// Key switching of a degree-2 ciphertext back to degree 1. `in.degree = 2`; `out = in` with degree 1.
    Relinearize {
        /// Degree-2 ciphertext.
        input: ValueId,
    },
    /// Divides by the last modulus. `in.level ≥ 1`; `out.level = in.level − 1`;
    /// `out.scale = in.scale − log_q[in.level]`; slots, degree and layout kept. Values are unchanged.
    Rescale {
        /// Ciphertext to rescale.
        input: ValueId,
    },
    /// Drops moduli without dividing. `to ≤ in.level`; `out.level = to`; everything else kept.
    LevelDrop {
        /// Ciphertext.
        input: ValueId,
        /// Target level.
        to: Level,
    },
    /// Cyclic left rotation: `out[i] = in[(i + step) mod slots]`. The module's key set holds
    /// `step mod slots` (non-zero); level, scale and slots kept; layout free.
    Rotate {
        /// Ciphertext.
        input: ValueId,
        /// Rotation step.
        step: RotStep,
    },
    /// Several rotations of one ciphertext sharing one key-switch decomposition: result `k` is
    /// `rotate(input, steps[k])`. One result per step; each step needs its key; layouts free.
    RotateHoisted {
        /// Ciphertext.
        input: ValueId,
        /// Rotation steps, one result each (at least one).
        steps: Vec<RotStep>,
    },
    /// Complex conjugation of every slot. The key set has the conjugation key; type kept except layout (free).
    Conjugate {
        /// Ciphertext.
        input: ValueId,
    },
    /// Matrix-vector product by generalized diagonals, evaluated baby-step/giant-step:
    /// `out[i] = Σ_k diag_k[i] · in[(i + offsets[k]) mod slots]`, with `diag_k` row `k` of weight `diagonals`
    /// (one row per offset, `slots` entries each), encoded at `in.level` and scale `2^scale`.
    /// Writing each normalized offset as `g · baby_step + b` (`0 ≤ b < baby_step`), the key set holds every
    /// non-zero `b` and every non-zero `g · baby_step`. `out.scale = in.scale + scale`; level, slots kept;
    /// layout free. The result is not rescaled.
    LinearTransform {
        /// Ciphertext.
        input: ValueId,
        /// Weight holding one diagonal per row.
        diagonals: String,
        /// Diagonal offsets, distinct, one per weight row.
        offsets: Vec<RotStep>,
        /// Baby-step size `n1 ≥ 1`.
        baby_step: u32,
        /// log2 of the diagonals' encoding scale.
        scale: LogScale,
    },
    /// Slot-wise polynomial `p(x) = Σ_k coeffs[k] · T_k((2x − a − b)/(b − a))` in the Chebyshev basis over the
    /// interval `[a, b] = interval` (`a < b`, finite). With `depth =` [`Op::poly_depth`]:
    /// `in.level ≥ depth`, `out.level = in.level − depth`; scale, slots and layout kept (the evaluator manages
    /// its internal scales so the output lands at the input scale). At least one coefficient.
    PolyEval {
        /// Ciphertext.
        input: ValueId,
        /// Chebyshev coefficients, lowest degree first.
        coeffs: Vec<f64>,
        /// Approximation interval `(a, b)`.
        interval: (f64, f64),
    },
    /// Refreshes the modulus: values unchanged (up to noise). The key set enables bootstrapping;
    /// `out.level = target ≤ L`; `out.scale = log_default_scale`; slots and layout kept;
    /// `boost ≤` [`MAX_BOOST`].
    Bootstrap {
        /// Ciphertext.
        input: ValueId,
        /// Level after bootstrapping.
        target: Level,
        /// The input is multiplied by `2^boost` (an exact integer product) before the refresh and the
        /// output divided by it (folded into EvalMod's target scale): a small input keeps its relative
        /// precision, as the refresh's absolute error is divided by `2^boost`.
        boost: u32,
    },
    /// Reads chunk `chunk` of the encrypted KV cache `cache` (zero if never written). `out` equals the cache's
    /// declared chunk type; `chunk < chunks`.
    KvRead {
        /// Cache name (a key of the module's KV-cache table).
        cache: String,
        /// Chunk index.
        chunk: u32,
    },
    /// Appends this step's token to cache `cache`: with `p` tokens already stored and `t = tokens_per_chunk`,
    /// chunk `p / t` becomes `chunk + rotate(value, −(p mod t) · token_stride)` and `p` grows by one.
    /// `value` has exactly the cache's chunk type (its layout places the token at position 0); the key set
    /// holds every `−j · token_stride` for `0 < j < t`. At most one append per cache per step. No result.
    KvAppend {
        /// Cache name.
        cache: String,
        /// The new token's entry.
        value: ValueId,
    },
}

impl Op {
    /// The text mnemonic (snake_case), also used as the op kind in `inspect` and error messages.
    pub fn mnemonic(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Output { .. } => "output",
            Op::Const { .. } => "const",
            Op::Plain { .. } => "plain",
            Op::Add { .. } => "add",
            Op::Sub { .. } => "sub",
            Op::MulPlain { .. } => "mul_plain",
            Op::MulConst { .. } => "mul_const",
            Op::MulCt { .. } => "mul_ct",
            Op::Relinearize { .. } => "relinearize",
            Op::Rescale { .. } => "rescale",
            Op::LevelDrop { .. } => "level_drop",
            Op::Rotate { .. } => "rotate",
            Op::RotateHoisted { .. } => "rotate_hoisted",
            Op::Conjugate { .. } => "conjugate",
            Op::LinearTransform { .. } => "linear_transform",
            Op::PolyEval { .. } => "poly_eval",
            Op::Bootstrap { .. } => "bootstrap",
            Op::KvRead { .. } => "kv_read",
            Op::KvAppend { .. } => "kv_append",
        }
    }

    /// The value operands, in field order.
    pub fn operands(&self) -> Vec<ValueId> {
        let mut out = Vec::with_capacity(2);
        self.visit_operands(|v| out.push(*v));
        out
    }

    /// Calls `f` on every value operand, in field order.
    pub fn visit_operands(&self, mut f: impl FnMut(&ValueId)) {
        // Reuse the mutable visitor on a clone-free path: match by reference.
        match self {
            Op::Input { .. } | Op::Const { .. } | Op::Plain { .. } | Op::KvRead { .. } => {}
            Op::Output { value, .. } | Op::KvAppend { value, .. } => f(value),
            Op::Add { lhs, rhs } | Op::Sub { lhs, rhs } | Op::MulCt { lhs, rhs } => {
                f(lhs);
                f(rhs)
            }
            Op::MulPlain { ct, pt } => {
                f(ct);
                f(pt)
            }
            Op::MulConst { ct, constant, .. } => {
                f(ct);
                f(constant)
            }
            Op::Relinearize { input }
            | Op::Rescale { input }
            | Op::LevelDrop { input, .. }
            | Op::Rotate { input, .. }
            | Op::RotateHoisted { input, .. }
            | Op::Conjugate { input }
            | Op::LinearTransform { input, .. }
            | Op::PolyEval { input, .. }
            | Op::Bootstrap { input, .. } => f(input),
        }
    }

    /// Calls `f` on every value operand so it can be rewritten (used by replace-all-uses).
    pub fn visit_operands_mut(&mut self, mut f: impl FnMut(&mut ValueId)) {
        match self {
            Op::Input { .. } | Op::Const { .. } | Op::Plain { .. } | Op::KvRead { .. } => {}
            Op::Output { value, .. } | Op::KvAppend { value, .. } => f(value),
            Op::Add { lhs, rhs } | Op::Sub { lhs, rhs } | Op::MulCt { lhs, rhs } => {
                f(lhs);
                f(rhs)
            }
            Op::MulPlain { ct, pt } => {
                f(ct);
                f(pt)
            }
            Op::MulConst { ct, constant, .. } => {
                f(ct);
                f(constant)
            }
            Op::Relinearize { input }
            | Op::Rescale { input }
            | Op::LevelDrop { input, .. }
            | Op::Rotate { input, .. }
            | Op::RotateHoisted { input, .. }
            | Op::Conjugate { input }
            | Op::LinearTransform { input, .. }
            | Op::PolyEval { input, .. }
            | Op::Bootstrap { input, .. } => f(input),
        }
    }

    /// How many results the op defines.
    pub fn num_results(&self) -> usize {
        match self {
            Op::Output { .. } | Op::KvAppend { .. } => 0,
            Op::RotateHoisted { steps, .. } => steps.len(),
            _ => 1,
        }
    }

    /// Whether the op matters beyond its results (client interface or persistent state): never dead code.
    pub fn has_effect(&self) -> bool {
        matches!(
            self,
            Op::Input { .. } | Op::Output { .. } | Op::KvAppend { .. }
        )
    }

    /// Levels a Chebyshev polynomial with `num_coeffs` coefficients on `interval` consumes, as the CKKS
    /// evaluator spends them: `max(1, ⌈log2(num_coeffs)⌉)`, plus one for the change of variable onto
    /// `[−1, 1]` when the interval is another one.
    pub fn poly_depth(num_coeffs: usize, interval: (f64, f64)) -> u32 {
        let products = num_coeffs.max(2).next_power_of_two().trailing_zeros();
        products + u32::from(interval != (-1.0, 1.0))
    }
}
