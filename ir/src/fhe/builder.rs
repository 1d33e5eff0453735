//! A convenience for producing FHE programs: appends ops with result types computed by the typing rules.

use super::infer::{infer, Rule};
use super::module::{Module, ValueId};
use super::op::{Op, WeightRef};
use super::types::{CtType, Layout, PtType, Type};
use crate::error::{IrError, Result};

/// Appends ops to a module, typing their results by [`infer`]. Ops whose layout is free get
/// [`Layout::Opaque`]; give them a layout with [`Builder::set_layout`].
pub struct Builder<'m> {
    module: &'m mut Module,
}

impl<'m> Builder<'m> {
    /// A builder appending to `module`.
    pub fn new(module: &'m mut Module) -> Self {
        Self { module }
    }

    /// The module being built.
    pub fn module(&self) -> &Module {
        self.module
    }

    /// Appends `op` and returns its results. Fails (naming the op kind) if the typing rule rejects it.
    pub fn op(&mut self, op: Op) -> Result<Vec<ValueId>> {
        let label = format!("new {}", op.mnemonic());
        let types = match infer(self.module, &op, None)
            .map_err(|problem| IrError::Verify { op: label, problem })?
        {
            Rule::Exact(t) | Rule::FreeLayout(t) => t,
            Rule::Declared => unreachable!("infer without declared types never answers Declared"),
        };
        Ok(self.module.push_op(op, types).1)
    }

    /// Appends a single-result `op` and returns its result.
    pub fn op1(&mut self, op: Op) -> Result<ValueId> {
        let mnemonic = op.mnemonic();
        self.op(op)?
            .into_iter()
            .next()
            .ok_or_else(|| IrError::Rewrite {
                op: self.module.num_ops(),
                message: format!("{mnemonic} has no result"),
            })
    }

    /// Appends an input of type `ty`.
    pub fn input(&mut self, name: &str, ty: CtType) -> ValueId {
        self.module
            .push_op(Op::Input { name: name.into() }, vec![Type::Ct(ty)])
            .1[0]
    }

    /// Appends a plaintext of weight row `name[index]` of type `ty`.
    pub fn plain(&mut self, name: &str, index: u32, ty: PtType) -> ValueId {
        let op = Op::Plain {
            weight: WeightRef {
                name: name.into(),
                index,
            },
        };
        self.module.push_op(op, vec![Type::Pt(ty)]).1[0]
    }

    /// Sets the layout of ciphertext `value` (for ops whose layout is free).
    pub fn set_layout(&mut self, value: ValueId, layout: Layout) {
        if let Some(Type::Ct(t)) = self.module.value_type_mut(value) {
            t.layout = layout;
        }
    }
}
