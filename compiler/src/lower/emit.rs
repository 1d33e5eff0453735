//! The emitter: appends FHE ops with *nominal* types (every ciphertext at the working level and the default
//! scale). Levels and scales are made exact afterwards by `bootstrap-placement` and `rescale-insertion`,
//! which retype the program forward; layouts declared here are kept.

use cachemir_ir::fhe::OpId;
use cachemir_ir::fhe::{
    CtType, KvCacheDecl, Layout, Level, LogScale, Module, Op, PtType, RotStep, SlotCount, Type,
    ValueId, WeightDecl, WeightRef,
};
use cachemir_ir::weights::{Weight, Weights};
use cachemir_ir::CkksParamsLiteral;
use std::collections::BTreeMap;

/// Appends ops to a module being lowered and collects the weights they refer to.
#[derive(Debug, Clone)]
pub struct Emitter {
    /// The program being built.
    pub module: Module,
    /// The weights the program refers to.
    pub weights: Weights,
    /// Slot count of every value.
    pub slots: u32,
    level: Level,
    scale: LogScale,
    /// The region (`layer 0`, `head`, ...) new ops are attributed to, for per-layer reports.
    pub region: String,
    /// Region of every op the emitter appended.
    pub regions: BTreeMap<OpId, String>,
    /// The tensor-IR node new ops are lowered from, if any.
    pub node: Option<usize>,
    /// Tensor-IR node of every op appended while [`Emitter::node`] was set.
    pub nodes: BTreeMap<OpId, usize>,
}

impl Emitter {
    /// An empty program over `params` whose values use `slots` slots and live at `working_level`.
    pub fn new(params: CkksParamsLiteral, slots: u32, working_level: u32) -> Self {
        let scale = LogScale(f64::from(params.log_default_scale));
        Self {
            module: Module::new(params),
            weights: Weights::new(),
            slots,
            level: Level(working_level),
            scale,
            region: "input".into(),
            regions: BTreeMap::new(),
            node: None,
            nodes: BTreeMap::new(),
        }
    }

    /// The nominal ciphertext type with `layout`.
    pub fn ct_type(&self, layout: Layout) -> CtType {
        CtType {
            level: self.level,
            scale: self.scale,
            slots: SlotCount(self.slots),
            layout,
            degree: 1,
        }
    }

    fn push(&mut self, op: Op, types: Vec<Type>) -> Vec<ValueId> {
        let (id, r) = self.module.push_op(op, types);
        self.regions.insert(id, self.region.clone());
        if let Some(n) = self.node {
            self.nodes.insert(id, n);
        }
        r
    }

    fn push1(&mut self, op: Op, ty: Type) -> ValueId {
        self.push(op, vec![ty])[0]
    }

    fn ct(&mut self, op: Op, layout: Layout) -> ValueId {
        let ty = Type::Ct(self.ct_type(layout));
        self.push1(op, ty)
    }

    /// Declares weight `name` with `rows` rows of `slots` numbers each (stored as f32), unless it exists.
    pub fn weight(&mut self, name: &str, rows: impl FnOnce() -> Vec<Vec<f64>>) {
        if self.module.weights.contains_key(name) {
            return;
        }
        let rows = rows();
        let cols = rows.first().map_or(0, Vec::len) as u32;
        let data: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
        let n = rows.len() as u32;
        self.module
            .weights
            .insert(name.into(), WeightDecl { rows: n, cols });
        if let Some(w) = Weight::f32(n, cols, data) {
            self.weights.insert(name.into(), w);
        }
    }

    /// Whether weight `name` is declared.
    pub fn has_weight(&self, name: &str) -> bool {
        self.module.weights.contains_key(name)
    }

    /// A client input of `layout`.
    pub fn input(&mut self, name: &str, layout: Layout) -> ValueId {
        self.ct(Op::Input { name: name.into() }, layout)
    }

    /// Returns `value` to the client.
    pub fn output(&mut self, name: &str, value: ValueId) {
        self.push(
            Op::Output {
                name: name.into(),
                value,
            },
            vec![],
        );
    }

    /// Plaintext of row `index` of weight `name`.
    pub fn plain(&mut self, name: &str, index: u32) -> ValueId {
        let ty = Type::Pt(PtType {
            level: self.level,
            scale: self.scale,
            slots: SlotCount(self.slots),
        });
        let op = Op::Plain {
            weight: WeightRef {
                name: name.into(),
                index,
            },
        };
        self.push1(op, ty)
    }

    /// A scalar constant.
    pub fn constant(&mut self, value: f64) -> ValueId {
        self.push1(Op::Const { value }, Type::Scalar)
    }

    /// `a + b` (ct + ct).
    pub fn add(&mut self, a: ValueId, b: ValueId) -> ValueId {
        let layout = self.layout_agree(a, b);
        self.ct(Op::Add { lhs: a, rhs: b }, layout)
    }

    /// `a + c` for a scalar `c`.
    pub fn add_scalar(&mut self, a: ValueId, c: f64) -> ValueId {
        let k = self.constant(c);
        let layout = self.layout(a);
        self.ct(Op::Add { lhs: a, rhs: k }, layout)
    }

    /// `a + row` of weight `name` (encoded at the ciphertext's level and scale; no level).
    pub fn add_plain(&mut self, a: ValueId, name: &str, index: u32) -> ValueId {
        let pt = self.plain(name, index);
        let layout = self.layout(a);
        self.ct(Op::Add { lhs: a, rhs: pt }, layout)
    }

    /// `a − pt` (a plaintext of the ciphertext's scale; no level).
    pub fn sub_plain(&mut self, a: ValueId, pt: ValueId) -> ValueId {
        let layout = self.layout(a);
        self.ct(Op::Sub { lhs: a, rhs: pt }, layout)
    }

    /// `a · c` for a real scalar `c` encoded at the default scale (costs a level).
    pub fn mul_scalar(&mut self, a: ValueId, c: f64) -> ValueId {
        let k = self.constant(c);
        let layout = self.layout(a);
        let scale = self.scale;
        self.ct(
            Op::MulConst {
                ct: a,
                constant: k,
                scale,
            },
            layout,
        )
    }

    /// `a · c` for an integer `c` (scale 0: no level).
    pub fn mul_int(&mut self, a: ValueId, c: i32) -> ValueId {
        let k = self.constant(f64::from(c));
        let layout = self.layout(a);
        self.ct(
            Op::MulConst {
                ct: a,
                constant: k,
                scale: LogScale(0.0),
            },
            layout,
        )
    }

    /// `a ⊙ row` of weight `name`; the result is declared with `layout`.
    pub fn mul_plain(&mut self, a: ValueId, name: &str, index: u32, layout: Layout) -> ValueId {
        let pt = self.plain(name, index);
        self.ct(Op::MulPlain { ct: a, pt }, layout)
    }

    /// Declares row `index` of weight `name` times `scale` plus `shift` as a one-row weight (named after
    /// the three, so equal rows are shared) and returns its name; `None` if the row is unknown.
    pub fn affine_weight(
        &mut self,
        name: &str,
        index: u32,
        scale: f64,
        shift: f64,
    ) -> Option<String> {
        let row = self.weights.get(name)?.row(index)?;
        let mapped = format!(
            "{name}.{index}.affine.{:x}.{:x}",
            scale.to_bits(),
            shift.to_bits()
        );
        self.weight(&mapped, || {
            vec![row.iter().map(|v| scale * v + shift).collect()]
        });
        Some(mapped)
    }

    /// `scale·a + shift` at `a`'s level, when `a` is a plaintext product `x ⊙ P`: the product is emitted
    /// again with `scale·P` ([`Self::affine_weight`]) and the shift added, no level spent; `None` for any
    /// other `a`. The old product stays for its other uses (dead-code elimination drops it otherwise).
    pub fn affine_of_plain_product(
        &mut self,
        a: ValueId,
        scale: f64,
        shift: f64,
    ) -> Option<ValueId> {
        let Op::MulPlain { ct, pt } = self.module.op(self.module.value(a)?.def).op.clone() else {
            return None;
        };
        let Op::Plain { weight } = self.module.op(self.module.value(pt)?.def).op.clone() else {
            return None;
        };
        let name = self.affine_weight(&weight.name, weight.index, scale, 0.0)?;
        let layout = self.layout(a);
        let y = self.mul_plain(ct, &name, 0, layout);
        Some(self.add_scalar(y, shift))
    }

    /// `a ⊙ b` (ct × ct), relinearized.
    pub fn mul(&mut self, a: ValueId, b: ValueId) -> ValueId {
        let layout = self.layout_agree(a, b);
        let mut ty = self.ct_type(layout.clone());
        ty.degree = 2;
        let raw = self.push1(Op::MulCt { lhs: a, rhs: b }, Type::Ct(ty));
        self.ct(Op::Relinearize { input: raw }, layout)
    }

    /// Left rotation by `step` slots (no op for a multiple of the slot count); declared with `layout`.
    pub fn rotate(&mut self, a: ValueId, step: i64, layout: Layout) -> ValueId {
        let s = step.rem_euclid(i64::from(self.slots));
        if s == 0 {
            return a;
        }
        self.module.keys.rotations.insert(RotStep(s as i32));
        self.ct(
            Op::Rotate {
                input: a,
                step: RotStep(s as i32),
            },
            layout,
        )
    }

    /// `a + rotate(a, step)` (the rotation declared with `a`'s layout, so the sum keeps it).
    pub fn add_rotated(&mut self, a: ValueId, step: i64) -> ValueId {
        let layout = self.layout(a);
        let r = self.rotate(a, step, layout.clone());
        if r == a {
            return self.add(a, a);
        }
        self.ct(Op::Add { lhs: a, rhs: r }, layout)
    }

    /// A BSGS linear transform by the diagonals in weight `name` at `offsets`.
    pub fn linear_transform(
        &mut self,
        a: ValueId,
        name: &str,
        offsets: Vec<i64>,
        baby_step: u32,
        layout: Layout,
    ) -> ValueId {
        let scale = self.scale;
        let offsets = offsets.into_iter().map(|o| RotStep(o as i32)).collect();
        self.ct(
            Op::LinearTransform {
                input: a,
                diagonals: name.into(),
                offsets,
                baby_step,
                scale,
            },
            layout,
        )
    }

    /// Chebyshev polynomial on `interval`.
    pub fn poly(&mut self, a: ValueId, coeffs: Vec<f64>, interval: (f64, f64)) -> ValueId {
        let layout = self.layout(a);
        self.ct(
            Op::PolyEval {
                input: a,
                coeffs,
                interval,
            },
            layout,
        )
    }

    /// Declares KV cache `name`.
    pub fn kv_cache(&mut self, name: &str, decl: KvCacheDecl) {
        self.module.kv_caches.insert(name.into(), decl);
    }

    /// Reads chunk `chunk` of cache `name`.
    pub fn kv_read(&mut self, name: &str, chunk: u32) -> ValueId {
        let ty = Type::Ct(self.module.kv_caches[name].chunk.clone());
        self.push1(
            Op::KvRead {
                cache: name.into(),
                chunk,
            },
            ty,
        )
    }

    /// Appends `value` to cache `name`.
    pub fn kv_append(&mut self, name: &str, value: ValueId) {
        self.push(
            Op::KvAppend {
                cache: name.into(),
                value,
            },
            vec![],
        );
    }

    /// The declared layout of ciphertext `v`.
    pub fn layout(&self, v: ValueId) -> Layout {
        self.module
            .value_type(v)
            .and_then(Type::as_ct)
            .map_or(Layout::Opaque, |t| t.layout.clone())
    }

    fn layout_agree(&self, a: ValueId, b: ValueId) -> Layout {
        let (la, lb) = (self.layout(a), self.layout(b));
        if la == lb {
            la
        } else {
            Layout::Opaque
        }
    }

    /// Sets the declared layout of `v`.
    pub fn set_layout(&mut self, v: ValueId, layout: Layout) {
        if let Some(Type::Ct(t)) = self.module.value_type_mut(v) {
            t.layout = layout;
        }
    }
}
