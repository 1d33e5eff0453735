//! Where bootstrapping's error comes from: one full-slot bootstrap at `N16_BOOT` under a variant,
//! through the bootstrapping bench (its JSON: `precision_mean_bits` is the complex norm our tables
//! report, `precision_real_mean_bits` the real parts' error, Lattigo's measure). Keys are generated
//! each run (about a minute).
//!
//! `cargo run --release -p cachemir-runtime --example bootstrap_precision -- [h192] [RATIO]`
//!
//! - `h192`: a main secret of Hamming weight 192 (Lattigo's; not rated secure at `N16_BOOT`'s
//!   log2 QP = 1661) instead of the dense one, to see what the secret's rounding noise costs;
//! - `RATIO`: `log2(q_0/Δ)` at ModRaise (default 8): EvalMod amplifies errors made before it by
//!   `2^RATIO`.
//!
//! Findings and figures: `docs/design/ckks.md`, Bootstrapping.

use cachemir_runtime::ckks::bootstrap::{bench, BootstrapConfig};
use cachemir_runtime::ckks::{Parameters, SecretDistribution};
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sparse = args.iter().any(|a| a == "h192");
    let mut literal = Parameters::named("N16_BOOT")?.literal().clone();
    if sparse {
        literal.secret = SecretDistribution::FixedHamming(192);
    }
    let params = Arc::new(Parameters::new(literal)?);
    let mut config = BootstrapConfig::for_named_set("N16_BOOT", &params, params.max_slots())?;
    if let Some(ratio) = args.iter().find_map(|a| a.parse::<u32>().ok()) {
        config.log_message_ratio = ratio;
    }
    let name = format!(
        "N16_BOOT, {} secret, log_message_ratio {}",
        if sparse { "h = 192" } else { "dense" },
        config.log_message_ratio
    );
    let report = bench::bench(&name, params, config, 1, None, |phase| eprintln!("{phase}"))?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
