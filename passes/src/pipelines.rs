//! Pipelines as plain functions returning the passes in order, and the registry of passes by name.

use crate::bootstrap::BootstrapPlacement;
use crate::check::Verify;
use crate::cleanup::{CommonSubexpressionElimination, DeadCodeElimination};
use crate::error::PassError;
use crate::keys::RotationKeyCollection;
use crate::pass::Pass;
use crate::scale::RescaleInsertion;

/// Every FHE pass, in a canonical order (the registry behind [`pass_by_name`]).
pub fn all_fhe_passes() -> Vec<Box<dyn Pass>> {
    vec![
        Box::new(Verify),
        Box::new(RescaleInsertion),
        Box::new(CommonSubexpressionElimination),
        Box::new(DeadCodeElimination),
        Box::new(RotationKeyCollection),
        Box::new(BootstrapPlacement::default()),
        Box::new(BootstrapPlacement::ilp()),
    ]
}

/// The FHE pass named `name` (kebab-case), for the CLI and filetests.
pub fn pass_by_name(name: &str) -> Result<Box<dyn Pass>, PassError> {
    let all = all_fhe_passes();
    let known = all.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ");
    all.into_iter()
        .find(|p| p.name() == name)
        .ok_or(PassError::UnknownPass {
            name: name.to_string(),
            known,
        })
}

/// Level management after lowering: rescale insertion and level alignment, cleanup, then the key set.
pub fn fhe_management() -> Vec<Box<dyn Pass>> {
    vec![
        Box::new(RescaleInsertion),
        Box::new(DeadCodeElimination),
        Box::new(RotationKeyCollection),
    ]
}

/// Cleanup only.
pub fn fhe_cleanup() -> Vec<Box<dyn Pass>> {
    vec![Box::new(DeadCodeElimination)]
}

/// The passes named in a comma-separated list (e.g. the CLI's `--passes rescale-insertion,dead-code-elimination`).
pub fn from_names(list: &str) -> Result<Vec<Box<dyn Pass>>, PassError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(pass_by_name)
        .collect()
}
