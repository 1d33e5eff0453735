//! `rotation-key-collection`: declares exactly the evaluation keys the program uses.

use crate::error::PassError;
use crate::pass::{Changed, Pass, PassCx};
use cachemir_ir::fhe::infer::needed_rotations;
use cachemir_ir::fhe::{KeySet, Module, Op};

/// Sets the module's key set to what its ops need: every normalized rotation step of `rotate`,
/// `rotate_hoisted`, `linear_transform` (baby and giant steps) and `kv_append`; the conjugation key iff a
/// `conjugate` is present; bootstrapping keys iff a `bootstrap` is present. Unused keys are dropped (each
/// rotation key costs the client upload and server memory). Run it after any pass that adds or removes
/// rotations, before writing a plan. No options.
#[derive(Debug, Clone, Copy, Default)]
pub struct RotationKeyCollection;

impl Pass for RotationKeyCollection {
    fn name(&self) -> &'static str {
        "rotation-key-collection"
    }

    fn run(&self, module: &mut Module, cx: &mut PassCx) -> Result<Changed, PassError> {
        let mut keys = KeySet::default();
        for id in module.op_ids() {
            let op = &module.op(id).op;
            keys.rotations.extend(needed_rotations(module, op));
            keys.conjugate |= matches!(op, Op::Conjugate { .. });
            keys.bootstrap |= matches!(op, Op::Bootstrap { .. });
        }
        cx.bump(
            "rotation-key-collection.rotation-keys",
            keys.rotations.len() as u64,
        );
        let changed = keys != module.keys;
        module.keys = keys;
        Ok(Changed::from_bool(changed))
    }
}
