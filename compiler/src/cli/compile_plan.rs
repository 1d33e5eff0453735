//! `cachemir compile MODEL -o PLAN`: lowering, level management and plan emission.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use cachemir_compiler::calibrate::{
    bootstrap_inputs, condition_bootstraps, held_out_risks, observe, passage_sequences,
    text_sequences, BootstrapInput,
};
use cachemir_compiler::error::CompileError;
use cachemir_compiler::lower::report::Counts;
use cachemir_compiler::lower::{self, params, Options, Strategy};
use cachemir_compiler::model::load_tokenizer;
use cachemir_ir::plan::text::TextCodec;
use cachemir_ir::plan::Plan;
use cachemir_ir::tensor::Module;
use cachemir_ir::tensor::NodeId;
use cachemir_passes::bootstrap::{IlpLimits, Placement};
use std::collections::BTreeMap;

/// Options of `cachemir compile` that produce a plan.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Where to write the `.plan`.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// CKKS parameter set (N16_BOOT, N15; INSECURE_N12_BOOT, INSECURE_N12 and INSECURE_N10 need --insecure-test-params).
    #[arg(long, default_value = "N16_BOOT")]
    pub params: String,
    /// Allow an insecure test parameter set (tests only; never for real data).
    #[arg(long)]
    pub insecure_test_params: bool,
    /// Packing strategy.
    #[arg(long, value_enum, default_value_t = Strategy::Cachemir)]
    pub strategy: Strategy,
    /// Calibration tokens: comma-separated ids with `;` between sequences, or a file of ids (one sequence
    /// per line). Default: the built-in English passage for a model with a tokenizer, else 16 fixed
    /// pseudo-random ids (the output says which).
    #[arg(long, conflicts_with = "calibrate_text")]
    pub calibrate: Option<String>,
    /// Calibration text: a UTF-8 file tokenized with the model's tokenizer, one sequence per paragraph
    /// (paragraphs separated by blank lines).
    #[arg(long)]
    pub calibrate_text: Option<PathBuf>,
    /// Print per-layer counts of multiplies, rotations, key switches, bootstraps and levels.
    #[arg(long)]
    pub report: bool,
    /// Print one JSON object (`bootstraps`, `key_switches`, `ops` by kind, `regions`,
    /// `range_violations`, ...) on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Compile even when a calibrated value exceeds its limit (a bootstrap input above the
    /// bootstrapping limit): the plan may then lose precision.
    #[arg(long)]
    pub allow_range_risk: bool,
    /// Slots per ciphertext for the cachemir strategy (default: min(N/2, D²), D the packing dimension).
    #[arg(long)]
    pub slots: Option<u32>,
    /// Tokens the encrypted KV cache holds at most.
    #[arg(long, default_value_t = 128)]
    pub max_context: usize,
    /// The cost table predicted seconds come from (`cachemir-run bench cost-model -o FILE`); default:
    /// the built-in table of the parameter set, if any.
    #[arg(long)]
    pub cost_table: Option<PathBuf>,
    /// Bootstrap placement: `greedy` (in program order, where levels run out) or `ilp` (a mixed-integer
    /// program minimizing the bootstraps' predicted seconds, solved by CBC).
    #[arg(long, default_value = "greedy", value_parser = parse_placement)]
    pub placement: Placement,
    /// The ILP solver's time limit per window of the program, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub ilp_seconds: f64,
}

fn parse_placement(name: &str) -> Result<Placement, String> {
    Placement::from_name(name).ok_or_else(|| {
        format!(
            "unknown placement {name:?} (known: {})",
            Placement::NAMES.join(", ")
        )
    })
}

fn parse_ids(text: &str, what: &str) -> anyhow::Result<Vec<u32>> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u32>()
                .with_context(|| format!("{what}: {s:?} is not a token id"))
        })
        .collect()
}

fn calibration_sequences(
    a: &PlanArgs,
    codec: Option<&TextCodec>,
    vocab: usize,
) -> anyhow::Result<(Vec<Vec<u32>>, String)> {
    let ids_of = |text: &str, what: &str, sep: char| -> anyhow::Result<Vec<Vec<u32>>> {
        text.split(sep)
            .map(|seq| parse_ids(seq, what))
            .filter(|seq| seq.as_ref().map_or(true, |s| !s.is_empty()))
            .collect()
    };
    if let Some(path) = &a.calibrate_text {
        let codec = codec.context("--calibrate-text needs a model with a tokenizer")?;
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let seqs = text_sequences(codec, &text).with_context(|| path.display().to_string())?;
        return Ok((seqs, format!("text {}", path.display())));
    }
    match a.calibrate.as_deref() {
        Some(c) if Path::new(c).is_file() => {
            let text = std::fs::read_to_string(c).with_context(|| format!("reading {c}"))?;
            Ok((ids_of(&text, c, '\n')?, format!("file {c}")))
        }
        Some(c) => Ok((ids_of(c, "--calibrate", ';')?, "--calibrate".into())),
        None => match codec {
            Some(codec) => Ok((
                passage_sequences(codec)?,
                "the built-in English passage (no --calibrate or --calibrate-text given)".into(),
            )),
            None => {
                let ids = (0..16u64)
                    .map(|i| ((i * 2_654_435_761 + 7) % vocab.max(1) as u64) as u32)
                    .collect();
                Ok((
                    vec![ids],
                    "16 built-in pseudo-random tokens (no --calibrate given; the model has no tokenizer)"
                        .into(),
                ))
            }
        },
    }
}

/// Compiles `tensor` (from `model`) into a plan as `a` says.
pub fn run(model: &Path, tensor: &Module, a: &PlanArgs) -> anyhow::Result<()> {
    let Some(set) = params::by_name(&a.params) else {
        let known: Vec<&str> = params::named_sets().iter().map(|s| s.name).collect();
        bail!(
            "unknown parameter set {:?} (known: {})",
            a.params,
            known.join(", ")
        );
    };
    if set.is_insecure() && !a.insecure_test_params {
        bail!(
            "parameter set {} is INSECURE (tests only); pass --insecure-test-params to use it anyway",
            set.name
        );
    }
    if set.is_insecure() {
        eprintln!(
            "WARNING: compiling with INSECURE test parameters {}: never use this plan on real data",
            set.name
        );
    }
    let vocab = tensor
        .weights
        .values()
        .find(|w| w.shape.len() == 2)
        .map_or(1, |w| w.shape[0]);
    let tokenizer = load_tokenizer(model);
    let codec = tokenizer
        .as_ref()
        .ok()
        .map(|spec| TextCodec::new(spec.clone()))
        .transpose()?;
    let (ids, source) = calibration_sequences(a, codec.as_ref(), vocab)?;
    let tokens: usize = ids.iter().map(Vec::len).sum();
    let cal = observe(tensor, &ids).with_context(|| format!("calibrating {}", model.display()))?;
    let costs = super::cost_table::cost_table(a.cost_table.as_deref(), &set.literal)?;
    let opts = Options {
        strategy: a.strategy,
        params: set.clone(),
        slots: a.slots,
        max_context: a.max_context,
        cache_level: None,
        placement: match a.placement {
            Placement::Ilp(limits) if a.ilp_seconds.is_finite() && a.ilp_seconds > 0.0 => {
                Placement::Ilp(IlpLimits {
                    seconds_per_solve: a.ilp_seconds,
                    ..limits
                })
            }
            Placement::Ilp(_) => bail!("--ilp-seconds {}: not a positive time", a.ilp_seconds),
            greedy => greedy,
        },
        costs: costs.clone(),
    };
    let lowered = lower::lower(tensor, &cal, &opts)
        .with_context(|| format!("lowering {}", model.display()))?;
    let risks = held_out_risks(tensor, &ids)?;
    // The plan's position tables end at the context length: longer sequences are measured up to it.
    let within: Vec<Vec<u32>> = ids
        .iter()
        .map(|s| s[..s.len().min(a.max_context)].to_vec())
        .collect();
    let boots = bootstrap_inputs(&lowered.module, &lowered.weights, &within)?;
    let node_label = |op| {
        lowered.tensor_node(op).map(|n| {
            let keyword = tensor.nodes[NodeId::from_index(n as u32)].op.keyword();
            format!("#{n} ({keyword})")
        })
    };
    let violations: Vec<_> = boots
        .iter()
        .filter(|b| b.at_risk())
        .map(|b| (b, node_label(b.source)))
        .collect();
    // Near-constant inputs lose precision in the sine: take their calibrated mean out; small ones
    // lose it to the refresh's absolute error: boost them.
    let mut lowered = lowered;
    let conditioned = condition_bootstraps(&mut lowered.module, &mut lowered.weights, &boots)?;
    let prediction = costs
        .as_ref()
        .map(|t| t.predict(&lowered.module))
        .transpose()
        .context("predicting the plan's seconds")?;
    let report = lowered.report(prediction.as_ref());
    let total = report.total();
    let mut out = Printer { json: a.json };
    out.line(format_args!(
        "compiled {} with strategy {} at {} ({} slots, D = {}, K = {}), {} ops, {} bootstraps",
        model.display(),
        a.strategy.name(),
        set.name,
        lowered.geometry.slots,
        lowered.geometry.d,
        lowered.geometry.k,
        lowered.module.num_ops(),
        total.bootstraps
    ));
    if total.bootstraps > 0 && !set.bootstrappable {
        eprintln!(
            "warning: {} has no bootstrapping levels; this plan needs {} bootstraps to run encrypted",
            set.name, total.bootstraps
        );
    }
    out.line(format_args!(
        "calibration: {tokens} tokens in {} sequence(s) from {source}",
        ids.len()
    ));
    match &tokenizer {
        Ok(spec) => out.line(format_args!(
            "tokenizer: carried in the plan (beginning of sequence {:?}, end {:?})",
            spec.bos, spec.eos
        )),
        Err(why) => out.line(format_args!(
            "tokenizer: none ({why}); the plan takes token ids only"
        )),
    }
    out.line(format_args!(
        "predicted: {} per token ({})",
        total
            .seconds
            .map_or("-".to_string(), |s| format!("{s:.0} s")),
        super::cost_table::describe(costs.as_ref())
    ));
    let stat = |key: &str| {
        lowered
            .stats
            .get(&format!("bootstrap-placement.{key}"))
            .copied()
    };
    out.line(format_args!(
        "placement: {}{}",
        a.placement.name(),
        match (stat("solve-millis"), stat("gap-ppm")) {
            (Some(ms), Some(ppm)) => format!(
                ", solved in {:.1} s, optimality gap {:.2}% ({} windows stopped by the time limit)",
                ms as f64 / 1e3,
                ppm as f64 / 1e4,
                stat("timed-out").unwrap_or(0)
            ),
            _ => String::new(),
        }
    ));
    if risks.is_empty() {
        out.line(format_args!("out-of-range risk: low (tokens of the second half stay inside intervals fitted on the first half)"));
    }
    for r in &risks {
        out.line(format_args!(
            "out-of-range risk: node #{} {}: held-out range [{:.3}, {:.3}] leaves [{:.3}, {:.3}] by {:.0}% of its width",
            r.node,
            r.quantity.name(),
            r.observed.0,
            r.observed.1,
            r.interval.0,
            r.interval.1,
            100.0 * r.excess
        ));
    }
    if let Some(worst) = boots
        .iter()
        .max_by(|a, b| (a.observed / a.limit).total_cmp(&(b.observed / b.limit)))
    {
        out.line(format_args!(
            "bootstrap inputs: largest |value| {:.3} at {} (limit {:.0} at its scale; {} of {} ops above half their limit; {} centered on their calibrated mean, {} boosted)",
            worst.observed,
            worst.op,
            worst.limit,
            violations.len(),
            boots.len(),
            conditioned.centered,
            conditioned.boosted
        ));
    }
    let describe = |(b, node): &(&BootstrapInput, Option<String>)| {
        format!(
            "{} of node {}: |value| up to {:.3} observed, limit {:.0} (half of it with a 2× margin)",
            b.op,
            node.as_deref().unwrap_or("(none)"),
            b.observed,
            b.limit
        )
    };
    for v in &violations {
        eprintln!(
            "{}: bootstrap input out of range at {}",
            if a.allow_range_risk {
                "warning"
            } else {
                "error"
            },
            describe(v)
        );
    }
    if !violations.is_empty() && !a.allow_range_risk {
        return Err(CompileError::OutOfRange {
            count: violations.len(),
            first: describe(&violations[0]),
        }
        .into());
    }
    if a.report && !a.json {
        println!("approximations:");
        for r in &lowered.approximations {
            println!(
                "  node #{:<3} {:<20} [{:.3}, {:.3}] {} coefficients (depth {}), error {:.2e}, {} Newton steps",
                r.node,
                r.quantity.name(),
                r.approx.interval.0,
                r.approx.interval.1,
                r.approx.fit.coeffs.len(),
                cachemir_ir::fhe::Op::poly_depth(r.approx.fit.coeffs.len(), r.approx.interval),
                r.approx.fit.error,
                r.approx.newton_steps
            );
        }
        print!("{report}");
    }
    if a.json {
        let mut ops: BTreeMap<&str, u64> = BTreeMap::new();
        for id in lowered.module.op_ids() {
            *ops.entry(lowered.module.op(id).op.mnemonic()).or_default() += 1;
        }
        let counts = |c: &Counts| {
            serde_json::json!({
                "pt_mults": c.pt_mults, "ct_mults": c.ct_mults, "rotations": c.rotations,
                "key_switches": c.key_switches, "bootstraps": c.bootstraps, "polys": c.polys,
                "levels": c.levels.map(|(lo, hi)| [lo, hi]),
                "predicted_seconds": c.seconds,
            })
        };
        let obj = serde_json::json!({
            "model": model.display().to_string(),
            "strategy": a.strategy.name(),
            "params": set.name,
            "slots": lowered.geometry.slots,
            "op_count": lowered.module.num_ops(),
            "ops": ops,
            "bootstraps": total.bootstraps,
            "centered_bootstraps": conditioned.centered,
            "boosted_bootstraps": conditioned.boosted,
            "key_switches": total.key_switches,
            "predicted_seconds": total.seconds,
            "cost_table": super::cost_table::describe(costs.as_ref()),
            "placement": a.placement.name(),
            "solve_seconds": stat("solve-millis").map(|ms| ms as f64 / 1e3),
            "optimality_gap": stat("gap-ppm").map(|ppm| ppm as f64 / 1e6),
            "regions": report.regions.iter().map(|(name, c)| {
                let mut o = counts(c);
                o["region"] = name.as_str().into();
                o
            }).collect::<Vec<_>>(),
            "calibration_tokens": tokens,
            "calibration_sequences": ids.len(),
            "calibration_source": source,
            "held_out_risks": risks.iter().map(|r| serde_json::json!({
                "node": r.node, "quantity": r.quantity.name(), "interval": [r.interval.0, r.interval.1],
                "observed": [r.observed.0, r.observed.1], "excess": r.excess,
            })).collect::<Vec<_>>(),
            "range_violations": violations.iter().map(|(b, node)| serde_json::json!({
                "op": b.op, "node": node, "observed": b.observed, "limit": b.limit,
            })).collect::<Vec<_>>(),
        });
        println!("{obj}");
    }
    if let Some(path) = &a.output {
        let mut plan = Plan::new(lowered.module, lowered.weights).context("assembling the plan")?;
        if let Ok(spec) = tokenizer {
            plan = plan.with_tokenizer(spec)?;
        }
        plan.write_file(path)
            .with_context(|| format!("writing {}", path.display()))?;
        out.line(format_args!("wrote {}", path.display()));
    }
    Ok(())
}

/// Prints the human-readable lines, to stdout, or to stderr when stdout carries the JSON object.
struct Printer {
    json: bool,
}

impl Printer {
    fn line(&mut self, text: std::fmt::Arguments<'_>) {
        if self.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}
