//! The rewrite API: the only way to change a module's program. Append, insert before/after an op, replace an
//! op, replace all uses of a value, remove an op. None of these check types; run the verifier afterwards
//! (the pass manager does, in tests and debug builds).

use super::module::{Link, Module, OpData, OpId, Value, ValueId};
use super::op::Op;
use super::types::Type;
use crate::error::{IrError, Result};

impl Module {
    /// Appends `op` at the end of the program with one result per entry of `types`.
    pub fn push_op(&mut self, op: Op, types: Vec<Type>) -> (OpId, Vec<ValueId>) {
        let (id, results) = self.create_op(op, types);
        self.link_between(id, self.tail, None);
        (id, results)
    }

    /// Inserts `op` just before `anchor` (which must be in the program).
    pub fn insert_before(
        &mut self,
        anchor: OpId,
        op: Op,
        types: Vec<Type>,
    ) -> Result<(OpId, Vec<ValueId>)> {
        self.check_live(anchor)?;
        let (id, results) = self.create_op(op, types);
        let prev = self.links[anchor.index()].prev;
        self.link_between(id, prev, Some(anchor));
        Ok((id, results))
    }

    /// Inserts `op` just after `anchor` (which must be in the program).
    pub fn insert_after(
        &mut self,
        anchor: OpId,
        op: Op,
        types: Vec<Type>,
    ) -> Result<(OpId, Vec<ValueId>)> {
        self.check_live(anchor)?;
        let (id, results) = self.create_op(op, types);
        let next = self.links[anchor.index()].next;
        self.link_between(id, Some(anchor), next);
        Ok((id, results))
    }

    /// Replaces op `id` by `op` in place, keeping its result ids and giving them `types`
    /// (one per existing result).
    pub fn replace_op(&mut self, id: OpId, op: Op, types: Vec<Type>) -> Result<()> {
        self.check_live(id)?;
        let results = self.ops[id].results.clone();
        if results.len() != types.len() {
            return Err(IrError::Rewrite {
                op: id.index(),
                message: format!(
                    "replacement has {} result types, the op has {} results",
                    types.len(),
                    results.len()
                ),
            });
        }
        for (r, ty) in results.iter().zip(types) {
            self.values[*r].ty = ty;
        }
        self.ops[id].op = op;
        Ok(())
    }

    /// Makes every op that uses `old` use `new` instead; returns how many operands changed.
    pub fn replace_all_uses(&mut self, old: ValueId, new: ValueId) -> usize {
        let mut changed = 0;
        let mut cursor = self.head;
        while let Some(id) = cursor {
            self.ops[id].op.visit_operands_mut(|v| {
                if *v == old {
                    *v = new;
                    changed += 1;
                }
            });
            cursor = self.links[id.index()].next;
        }
        changed
    }

    /// Removes op `id` from the program. Its results must no longer be used (the verifier reports a use of a
    /// removed op's result).
    pub fn remove_op(&mut self, id: OpId) -> Result<()> {
        self.check_live(id)?;
        let Link { prev, next, .. } = self.links[id.index()];
        match prev {
            Some(p) => self.links[p.index()].next = next,
            None => self.head = next,
        }
        match next {
            Some(n) => self.links[n.index()].prev = prev,
            None => self.tail = prev,
        }
        self.links[id.index()] = Link::default();
        self.live_ops -= 1;
        Ok(())
    }

    fn check_live(&self, id: OpId) -> Result<()> {
        if self.is_live(id) {
            Ok(())
        } else {
            Err(IrError::Rewrite {
                op: id.index(),
                message: "op is not in the program".into(),
            })
        }
    }

    fn create_op(&mut self, op: Op, types: Vec<Type>) -> (OpId, Vec<ValueId>) {
        let id = self.ops.push(OpData {
            op,
            results: Vec::with_capacity(types.len()),
        });
        let results: Vec<ValueId> = types
            .into_iter()
            .enumerate()
            .map(|(i, ty)| {
                self.values.push(Value {
                    ty,
                    def: id,
                    result_index: i as u32,
                })
            })
            .collect();
        self.ops[id].results = results.clone();
        self.links.push(Link::default());
        (id, results)
    }

    fn link_between(&mut self, id: OpId, prev: Option<OpId>, next: Option<OpId>) {
        self.links[id.index()] = Link {
            prev,
            next,
            live: true,
        };
        match prev {
            Some(p) => self.links[p.index()].next = Some(id),
            None => self.head = Some(id),
        }
        match next {
            Some(n) => self.links[n.index()].prev = Some(id),
            None => self.tail = Some(id),
        }
        self.live_ops += 1;
    }
}
