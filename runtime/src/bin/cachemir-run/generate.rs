//! `cachemir-run PLAN --prompt-ids 1,2,3 [--max-new-tokens N] [--json] [--server ADDR]`: encrypted
//! greedy generation with a client here and the server in this process or, with `--server`, on a
//! `cachemir-run serve` elsewhere (`cachemir_runtime::session::generate`).

use crate::{spinner, thread_pool};
use anyhow::{bail, Context, Result};
use cachemir_ir::plan::client::argmax;
use cachemir_ir::plan::text::{TextCodec, TextStream};
use cachemir_ir::plan::Plan;
use cachemir_runtime::ckks::Parameters;
use cachemir_runtime::session::{
    generate, generate_remote, simulate, KeyStore, NoiseModel, Progress,
};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

/// Arguments of a generation run.
#[derive(Args)]
pub struct GenerateArgs {
    /// A plan written by `cachemir compile`.
    #[arg(required = true)]
    plan: Option<PathBuf>,
    /// Prompt token ids, comma-separated (e.g. `1,2,3`).
    #[arg(
        long,
        value_delimiter = ',',
        required_unless_present = "prompt",
        conflicts_with = "prompt"
    )]
    prompt_ids: Vec<u32>,
    /// Prompt text, encoded with the tokenizer the plan carries (its beginning-of-sequence token
    /// first); the generated text is printed as each token arrives, and generation stops at the
    /// end-of-sequence token.
    #[arg(long)]
    prompt: Option<String>,
    /// Tokens to generate after the prompt.
    #[arg(long, default_value_t = 8)]
    max_new_tokens: usize,
    /// Print one JSON object (`generated_ids`, `logits`, `tokens`, ...) instead of a summary.
    #[arg(long)]
    json: bool,
    /// Allow a plan whose parameters are below 128-bit security.
    #[arg(long)]
    insecure_test_params: bool,
    /// rayon threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Run the steps on the server at this address (`cachemir-run serve`): keys are made here and
    /// uploaded, and only ciphertexts cross the network.
    #[arg(long, conflicts_with = "simulate")]
    server: Option<String>,
    /// With `--server`: where the client keeps its keys per plan for the next run (they hold the
    /// SECRET key; default `~/.cache/cachemir/keys`).
    #[arg(long, requires = "server")]
    key_dir: Option<PathBuf>,
    /// With `--server`: make fresh keys and store none.
    #[arg(long, requires = "server", conflicts_with = "key_dir")]
    fresh_keys: bool,
    /// Run on the cleartext interpreter with the engine's errors injected instead of encrypted (no
    /// keys; minutes instead of hours), with the same output.
    #[arg(long)]
    simulate: bool,
    /// Seed of the simulated errors.
    #[arg(long, default_value_t = 1, requires = "simulate")]
    seed: u64,
    /// Simulate bootstrapping at this precision (mean bits for inputs in [-1, 1]) instead of the
    /// engine's measured one: how much precision a plan needs.
    #[arg(long, requires = "simulate")]
    bootstrap_bits: Option<f64>,
}

/// Runs the generation and prints its report.
pub fn run(args: GenerateArgs) -> Result<()> {
    let path = args.plan.context("no plan given")?;
    let plan = Plan::read_file(&path)?;
    let params = Parameters::new(plan.params().clone())
        .with_context(|| format!("{}: the plan's CKKS parameters", path.display()))?;
    if !params.is_secure() && !args.simulate {
        if !args.insecure_test_params {
            bail!(
                "{}: the plan's parameters are NOT 128-bit secure (log2 QP = {:.0} at N = 2^{}); pass --insecure-test-params to run it for testing",
                path.display(),
                params.log_qp(),
                params.log_n()
            );
        }
        eprintln!("WARNING: the plan's parameters are NOT secure: for tests only");
    }
    let codec = match &args.prompt {
        None => None,
        Some(_) => {
            let spec = plan.tokenizer().with_context(|| {
                format!(
                    "{}: --prompt needs a tokenizer, and the plan carries none (compile a model with one, or give --prompt-ids)",
                    path.display()
                )
            })?;
            Some(TextCodec::new(spec.clone())?)
        }
    };
    let prompt = match (&args.prompt, &codec) {
        (Some(text), Some(codec)) => codec.encode(text)?,
        _ => args.prompt_ids.clone(),
    };
    let stop_at = codec.as_ref().and_then(|c| c.spec().eos);
    let mut stream = TextStream::default();
    let mut stream_error = None;
    let show_text = codec.is_some() && !args.json;
    if let (true, Some(text)) = (show_text, &args.prompt) {
        print!("{text}");
    }
    let store = match (&args.server, args.fresh_keys) {
        (Some(_), false) => args
            .key_dir
            .clone()
            .or_else(KeyStore::default_root)
            .map(|root| KeyStore::new(&root, &plan)),
        _ => None,
    };
    let pool = thread_pool(args.threads)?;
    let keygen = spinner();
    keygen.set_message("generating the evaluation keys");
    let mut bar: Option<ProgressBar> = None;
    let mut upload: Option<ProgressBar> = None;
    let mut noise = NoiseModel::for_module(plan.module());
    if let Some(bits) = args.bootstrap_bits {
        noise.bootstrap_bits = bits;
    }
    let report = pool.install(|| {
        let run = |progress: &mut dyn FnMut(Progress)| {
            if args.simulate {
                simulate(&plan, &prompt, args.max_new_tokens, stop_at, &noise, args.seed, progress)
            } else if let Some(addr) = &args.server {
                let store = store.as_ref();
                generate_remote(&plan, addr, store, &prompt, args.max_new_tokens, stop_at, progress)
            } else {
                generate(&plan, &prompt, args.max_new_tokens, stop_at, progress)
            }
        };
        run(&mut |event| match event {
            Progress::Keygen => {}
                Progress::Upload { sent, total } => {
                    let upload = upload.get_or_insert_with(|| {
                        keygen.finish_and_clear();
                        ProgressBar::new(total).with_style(
                            ProgressStyle::with_template(
                                "uploading the evaluation keys {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
                            )
                            .expect("valid template"),
                        )
                    });
                    upload.set_position(sent);
                    if sent == total {
                        upload.finish_and_clear();
                        keygen.reset();
                        keygen.enable_steady_tick(std::time::Duration::from_millis(200));
                        keygen.set_message("the server loads the keys and encodes the plan");
                    }
                }
                Progress::ServerSetup => {
                    keygen.set_message("the server loads the keys and encodes the plan")
                }
                Progress::Started { steps } => {
                    keygen.finish_and_clear();
                    let b = ProgressBar::new(steps as u64).with_style(
                        ProgressStyle::with_template("{bar:30} {pos}/{len} tokens, {elapsed} {msg}")
                            .expect("valid template"),
                    );
                    b.set_message("(running the first token)");
                    bar = Some(b);
                }
                Progress::Token(t) => {
                    if let (true, Some(codec)) = (show_text && t.position >= prompt.len(), &codec) {
                        match stream.push(codec, t.token) {
                            Ok(text) => {
                                print!("{text}");
                                let _ = std::io::Write::flush(&mut std::io::stdout());
                            }
                            Err(e) => stream_error = Some(e),
                        }
                    }
                    if let Some(b) = &bar {
                        b.println(format!(
                            "token {:>4} at position {:>3}: {:>9.1} ms, {} bootstraps, {} rotations, {} key switches",
                            t.token, t.position, t.millis, t.bootstraps, t.rotations, t.key_switches
                        ));
                        b.inc(1);
                    }
                }
        })
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    keygen.finish_and_clear();
    let report = report?;
    if let Some(e) = stream_error {
        return Err(e.into());
    }
    let text = codec
        .as_ref()
        .map(|c| c.decode(&report.generated_ids))
        .transpose()?;
    if args.json {
        let mut obj = serde_json::to_value(&report)?;
        obj["prompt_ids"] = serde_json::json!(prompt);
        obj["text"] = serde_json::json!(text);
        println!("{obj}");
    } else {
        if show_text {
            println!();
        }
        let ids: Vec<String> = report.generated_ids.iter().map(u32::to_string).collect();
        let total: f64 = report.tokens.iter().map(|t| t.millis).sum();
        let next = report.logits.last().map(|row| argmax(row));
        let summary = if show_text {
            |s: String| eprintln!("{s}")
        } else {
            |s: String| println!("{s}")
        };
        summary(format!(
            "generated ids: {}\ngreedy next token after the last one fed: {}\nkeys{}: {:.1} s, {:.1} MB; server setup: {:.1} s; {} tokens in {:.1} s",
            ids.join(","),
            next.map_or("-".into(), |t| t.to_string()),
            if report.keys_from_store { " (from the key store)" } else { "" },
            report.keygen_ms / 1e3,
            report.evaluation_key_bytes as f64 / 1e6,
            report.server_setup_ms / 1e3,
            report.tokens.len(),
            total / 1e3
        ));
    }
    Ok(())
}
