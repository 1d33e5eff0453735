//! The cost model: predicted seconds of every FHE-IR op, from a [`CostTable`] of the engine's measured
//! times by level (and by slot count for bootstraps) on one machine.
//!
//! `cachemir-run bench cost-model` measures a table (`docs/design/cost-model.md` documents the JSON
//! format and how each entry is measured); [`CostTable::builtin`] holds the committed ones. An op is
//! charged at the level of its ciphertext operand:
//!
//! - a relinearization or linear transform is charged without its rescale, and the rescale that follows
//!   it separately, so a fused pair costs what the engine's fused form costs;
//! - a linear transform costs `diagonals·lt_diagonal + rotations·lt_rotation` (its encoding on the
//!   fly included), its rotations the distinct baby and giant steps the runtime executes;
//! - a polynomial costs its ciphertext products ([`poly_products`]) at the level halfway down its
//!   depth, plus one scalar product per coefficient;
//! - a bootstrap costs the table's time at its slot count (the nearest larger measured count if that
//!   one was not measured).

use crate::fhe::{Module, Op, OpId, Type};
use crate::{CkksParamsLiteral, IrError, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Seconds of each primitive at one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelCosts {
    /// Ciphertext + ciphertext (or a scalar).
    pub add: f64,
    /// Ciphertext + plaintext row, the row's encoding included.
    pub add_plain: f64,
    /// Ciphertext × plaintext row, the row's encoding included.
    pub mul_plain: f64,
    /// Ciphertext × scalar.
    pub mul_const: f64,
    /// Ciphertext × ciphertext, tensoring only.
    pub mul_ct: f64,
    /// Relinearization, its rescale excluded (the fused relinearize-and-rescale less a rescale).
    pub relinearize: f64,
    /// Rescale.
    pub rescale: f64,
    /// Dropping to a lower level.
    pub level_drop: f64,
    /// One rotation (one key switch).
    pub rotate: f64,
    /// Each further rotation of a hoisted batch (sharing the first one's decomposition).
    pub rotate_hoisted: f64,
    /// Each diagonal of a linear transform: its encoding and its product.
    pub lt_diagonal: f64,
    /// Each baby- or giant-step rotation of a linear transform.
    pub lt_rotation: f64,
}

/// Measured costs of one parameter set on one machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostTable {
    /// Parameter set name.
    pub params_name: String,
    /// The parameters measured (a plan is predicted only from a table of its own parameters).
    pub params: CkksParamsLiteral,
    /// rayon threads of the measurement.
    pub threads: usize,
    /// The CPU, as `/proc/cpuinfo` names it.
    pub machine: String,
    /// When it was measured (RFC 3339, UTC).
    pub measured_at: String,
    /// The costs at level `l` are `levels[l]`.
    pub levels: Vec<LevelCosts>,
    /// Seconds of one bootstrap, by slot count.
    pub bootstrap: BTreeMap<u32, f64>,
}

/// The predicted seconds of a program's ops.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// `(op, seconds)` in program order.
    pub ops: Vec<(OpId, f64)>,
}

impl Prediction {
    /// Seconds of the whole program.
    pub fn total(&self) -> f64 {
        self.ops.iter().map(|(_, s)| s).sum()
    }

    /// Seconds by op kind (mnemonic).
    pub fn by_kind(&self, module: &Module) -> BTreeMap<&'static str, f64> {
        let mut out = BTreeMap::new();
        for &(id, s) in &self.ops {
            *out.entry(module.op(id).op.mnemonic()).or_insert(0.0) += s;
        }
        out
    }
}

const BUILTIN: &[&str] = &[include_str!("../cost-tables/N16_BOOT.json")];

impl CostTable {
    /// Parses a table from its JSON text; `source` names it in errors.
    pub fn from_json(text: &str, source: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| IrError::CostTable {
            table: source.to_string(),
            message: e.to_string(),
        })
    }

    /// The committed table measured for `params`, if there is one.
    pub fn builtin(params: &CkksParamsLiteral) -> Option<Self> {
        BUILTIN
            .iter()
            .filter_map(|text| Self::from_json(text, "built-in table").ok())
            .find(|t| &t.params == params)
    }

    fn at(&self, level: u32, op: OpId) -> Result<&LevelCosts> {
        self.levels
            .get(level as usize)
            .ok_or_else(|| IrError::CostTable {
                table: self.params_name.clone(),
                message: format!(
                    "op #{}: level {level} is beyond the table's {} levels",
                    op.index(),
                    self.levels.len()
                ),
            })
    }

    /// Seconds of one bootstrap at `slots`: the measured time at that count, else at the nearest larger
    /// count measured, else at the largest; `None` for a table without bootstrap times.
    pub fn bootstrap(&self, slots: u32) -> Option<f64> {
        self.bootstrap
            .range(slots..)
            .next()
            .or_else(|| self.bootstrap.iter().next_back())
            .map(|(_, &s)| s)
    }

    fn bootstrap_seconds(&self, slots: u32, op: OpId) -> Result<f64> {
        self.bootstrap(slots).ok_or_else(|| IrError::CostTable {
            table: self.params_name.clone(),
            message: format!("op #{}: the table has no bootstrap time", op.index()),
        })
    }

    /// Predicts every op of `module`, whose parameters must be the table's.
    pub fn predict(&self, module: &Module) -> Result<Prediction> {
        if module.params != self.params {
            return Err(IrError::CostTable {
                table: self.params_name.clone(),
                message: "the table was measured for other CKKS parameters than the program's"
                    .into(),
            });
        }
        let ops = module
            .op_ids()
            .map(|id| Ok((id, self.op_seconds(module, id)?)))
            .collect::<Result<_>>()?;
        Ok(Prediction { ops })
    }

    fn op_seconds(&self, module: &Module, id: OpId) -> Result<f64> {
        let op = &module.op(id).op;
        let ct_of = |v| module.value_type(v).and_then(Type::as_ct);
        let Some(input) = op.operands().into_iter().find_map(ct_of) else {
            return Ok(0.0);
        };
        let c = self.at(input.level.0, id)?;
        Ok(match op {
            Op::Add { rhs, .. } | Op::Sub { rhs, .. } => match module.value_type(*rhs) {
                Some(Type::Pt(_)) => c.add_plain,
                _ => c.add,
            },
            Op::MulPlain { .. } => c.mul_plain,
            Op::MulConst { .. } => c.mul_const,
            Op::MulCt { .. } => c.mul_ct,
            Op::Relinearize { .. } => c.relinearize,
            Op::Rescale { .. } => c.rescale,
            Op::LevelDrop { .. } => c.level_drop,
            Op::Rotate { .. } | Op::Conjugate { .. } => c.rotate,
            Op::RotateHoisted { steps, .. } => {
                c.rotate + c.rotate_hoisted * steps.len().saturating_sub(1) as f64
            }
            Op::KvAppend { .. } => c.rotate + c.add,
            Op::LinearTransform {
                offsets, baby_step, ..
            } => {
                let (babies, giants) = bsgs_steps(
                    offsets.iter().map(|o| i64::from(o.0)),
                    *baby_step,
                    input.slots.0,
                );
                offsets.len() as f64 * c.lt_diagonal + (babies + giants) as f64 * c.lt_rotation
            }
            Op::PolyEval {
                coeffs, interval, ..
            } => {
                let depth = Op::poly_depth(coeffs.len(), *interval);
                let mid = self.at(input.level.0.saturating_sub(depth / 2), id)?;
                poly_products(coeffs.len()) as f64 * (mid.mul_ct + mid.relinearize + mid.rescale)
                    + coeffs.len() as f64 * mid.mul_const
            }
            Op::Bootstrap { .. } => self.bootstrap_seconds(input.slots.0, id)?,
            Op::Input { .. }
            | Op::Output { .. }
            | Op::Const { .. }
            | Op::Plain { .. }
            | Op::KvRead { .. } => 0.0,
        })
    }
}

/// The distinct non-zero baby and giant rotation steps of a baby-step/giant-step transform with the
/// given diagonal offsets (modulo `slots`) and baby-step size.
pub fn bsgs_steps(
    offsets: impl Iterator<Item = i64>,
    baby_step: u32,
    slots: u32,
) -> (usize, usize) {
    let n = i64::from(slots.max(1));
    let n1 = i64::from(baby_step.max(1));
    let mut baby = BTreeSet::new();
    let mut giant = BTreeSet::new();
    for o in offsets {
        let k = o.rem_euclid(n);
        if k % n1 != 0 {
            baby.insert(k % n1);
        }
        if k - k % n1 != 0 {
            giant.insert(k - k % n1);
        }
    }
    (baby.len(), giant.len())
}

/// Ciphertext products of the runtime's baby-step/giant-step Chebyshev evaluation of a dense
/// polynomial with `num_coeffs` coefficients (`runtime::ckks::poly_eval`): the same recursion, counting
/// instead of computing. Powers `T_i` are built on demand (`T_i = 2T_aT_b − T_{a−b}`, `a` the power of
/// two below `i`), one product each; the polynomial is split at the largest power of two `m ≤ d` into
/// `q·T_m + r`, one product per non-constant `q`, until a piece of degree ≤ `g = 2^⌈log2(d+1)/2⌉` fits
/// its level.
pub fn poly_products(num_coeffs: usize) -> usize {
    fn ceil_log2(i: usize) -> usize {
        i.next_power_of_two().trailing_zeros() as usize
    }
    fn ensure(powers: &mut BTreeSet<usize>, i: usize) -> usize {
        if !powers.insert(i) {
            return 0;
        }
        let a = 1 << (ceil_log2(i) - 1);
        let b = i - a;
        let mut n = 1 + ensure(powers, a) + ensure(powers, b);
        if a != b {
            n += ensure(powers, a - b);
        }
        n
    }
    // `level` counts up from the output's level; `T_i` sits `⌈log2 i⌉` below the input at `depth`.
    fn tree(
        powers: &mut BTreeSet<usize>,
        d: usize,
        level: usize,
        depth: usize,
        giant: usize,
    ) -> usize {
        let fits = d == 0 || ceil_log2(d) < depth - level;
        if d == 0 || (d <= giant && fits) {
            return (1..=d).map(|i| ensure(powers, i)).sum();
        }
        let m = 1 << (usize::BITS - 1 - d.leading_zeros());
        let mut n = ensure(powers, m);
        if d > m {
            n += tree(powers, d - m, level + 1, depth, giant) + 1;
        }
        if m > 1 {
            n += tree(powers, m - 1, level, depth, giant);
        }
        n
    }
    let d = num_coeffs.saturating_sub(1);
    let depth = ceil_log2(d + 1).max(1);
    let giant = 1 << ceil_log2(d + 1).div_ceil(2);
    let mut powers = BTreeSet::from([1]);
    tree(&mut powers, d, 0, depth, giant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tables_parse_and_cover_their_parameters() {
        let sets = crate::params::named_sets();
        for text in BUILTIN {
            let t = CostTable::from_json(text, "built-in").unwrap();
            let (_, literal) = sets.iter().find(|(n, _)| *n == t.params_name).unwrap();
            assert_eq!(&t.params, literal, "{}", t.params_name);
            assert_eq!(t.levels.len(), literal.log_q.len());
            assert!(CostTable::builtin(literal).is_some());
            assert!(t.bootstrap.contains_key(&((1u32 << literal.log_n) / 2)));
        }
    }

    fn table_for(module: &Module) -> CostTable {
        // Level l's entries are distinct multiples of (l + 1), so a wrong level shows.
        let at = |l: usize| {
            let k = (l + 1) as f64;
            LevelCosts {
                add: 1e-6 * k,
                add_plain: 2e-6 * k,
                mul_plain: 3e-6 * k,
                mul_const: 4e-6 * k,
                mul_ct: 5e-6 * k,
                relinearize: 6e-6 * k,
                rescale: 7e-6 * k,
                level_drop: 8e-6 * k,
                rotate: 9e-6 * k,
                rotate_hoisted: 10e-6 * k,
                lt_diagonal: 11e-6 * k,
                lt_rotation: 12e-6 * k,
            }
        };
        CostTable {
            params_name: "test".into(),
            params: module.params.clone(),
            threads: 1,
            machine: "test".into(),
            measured_at: "test".into(),
            levels: (0..module.params.log_q.len()).map(at).collect(),
            bootstrap: BTreeMap::from([(4, 1.0), (16, 5.0)]),
        }
    }

    #[test]
    fn each_op_is_charged_its_entry_at_its_operand_level() {
        use crate::text::TextForm;
        let module = Module::from_text(
            r#"
params { log_n=5, log_q=[50, 40, 40, 40], log_p=[60], log_default_scale=40, secret=dense }
keys { rotations=[1, 2, 4], conjugate=false, bootstrap=true }
weight "d" { rows=3, cols=8 }
%0 = input "x" : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%1 = linear_transform %0, diagonals="d", offsets=[0, 3, 5], baby_step=2, scale=40 : ct<level=3, scale=80, slots=8, layout=strided(len=8, stride=1)>
%2 = rescale %1 : ct<level=2, scale=40, slots=8, layout=strided(len=8, stride=1)>
%3 = mul_ct %2, %2 : ct<level=2, scale=80, slots=8, layout=strided(len=8, stride=1), degree=2>
%4 = relinearize %3 : ct<level=2, scale=80, slots=8, layout=strided(len=8, stride=1)>
%5 = rescale %4 : ct<level=1, scale=40, slots=8, layout=strided(len=8, stride=1)>
%6 = rotate %5, step=1 : ct<level=1, scale=40, slots=8, layout=strided(len=8, stride=1)>
%7 = bootstrap %6, target=3 : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
output "y", %7
"#,
        )
        .unwrap();
        let t = table_for(&module);
        let l = &t.levels;
        // Offsets 0, 3, 5 with baby step 2: baby 1, giants 2 and 4. The 8-slot bootstrap takes the
        // 16-slot time (the nearest larger count measured).
        let expected = 3.0 * l[3].lt_diagonal
            + 3.0 * l[3].lt_rotation
            + l[3].rescale
            + l[2].mul_ct
            + l[2].relinearize
            + l[2].rescale
            + l[1].rotate
            + 5.0;
        let p = t.predict(&module).unwrap();
        assert!(
            (p.total() - expected).abs() < 1e-12,
            "{} vs {expected}",
            p.total()
        );
        assert_eq!(p.by_kind(&module)["bootstrap"], 5.0);

        let mut other = t.clone();
        other.params.log_q.pop();
        assert!(matches!(
            other.predict(&module),
            Err(IrError::CostTable { .. })
        ));
    }

    #[test]
    fn bsgs_steps_count_distinct_nonzero_steps() {
        // Offsets 0..8 with baby step 4: babies 1, 2, 3; giant 4.
        assert_eq!(bsgs_steps(0..8, 4, 64), (3, 1));
        // Negative offsets wrap: −1 ≡ 63 = 60 + 3.
        assert_eq!(bsgs_steps([0, -1].into_iter(), 4, 64), (1, 1));
        assert_eq!(bsgs_steps([0].into_iter(), 4, 64), (0, 0));
    }
}
