//! End to end, encrypted: each tiny-Llama fixture compiled at `INSECURE_N12_BOOT` (N = 2^12, the same
//! 9 compute levels and bootstrapping circuit shape as `N16_BOOT`), then run by the client/server
//! session of `cachemir-run` (`session::generate`) with every activation and the KV cache encrypted,
//! bootstrapping included, against the fixture's onnxruntime reference.
//!
//! The default run does the first decode step of one fixture (about a minute): its logits must
//! match onnxruntime's first row; and two clients decode one and two tokens of it at once through a
//! gRPC server on loopback. The 8-token generations are slow (about 8.5 minutes per fixture
//! on 2 cores: 28 bootstraps and ~34 s per token), hence ignored:
//! `cargo test --release -p cachemir-tests --test encrypted_generation -- --ignored --nocapture`
//! (`CACHEMIR_E2E_FIXTURES=optimum,dynamo-sdpa-op23` to pick fixtures). The same test at the secure
//! set: `CACHEMIR_E2E_PARAMS=N16_BOOT CACHEMIR_E2E_FIXTURES=optimum cargo test --release -p cachemir-tests
//! --test encrypted_generation -- --ignored --nocapture` (14 steps at ~6.5 minutes each: about 1 h 35 min
//! per fixture).

use cachemir_compiler::calibrate::{bootstrap_inputs, condition_bootstraps, observe};
use cachemir_compiler::lower::{self, params, Options, Strategy};
use cachemir_compiler::model::load_tensor_ir;
use cachemir_ir::plan::client::argmax;
use cachemir_ir::plan::Plan;
use cachemir_runtime::session::service::{InferenceService, ServeConfig};
use cachemir_runtime::session::{generate, generate_remote, simulate, NoiseModel, Progress};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const FIXTURES: [&str; 4] = [
    "optimum",
    "torchscript-eager-op17",
    "dynamo-eager-op20",
    "dynamo-sdpa-op23",
];

/// Calibration tokens (arbitrary, fixed; none of the fixtures' prompts).
const CALIBRATION: [u32; 16] = [
    3, 250, 17, 88, 140, 9, 201, 66, 42, 123, 7, 180, 99, 31, 222, 5,
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tiny-llama")
        .join(name)
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// The fixture's onnxruntime reference (`prompt_ids`, `generated_ids`, `logits`) and its plan at
/// the parameter set `set` (calibrated on [`CALIBRATION`], context 16, bootstraps centered).
fn compile(name: &str, set: &str) -> (serde_json::Value, Plan) {
    let params = params::by_name(set).unwrap_or_else(|| panic!("no parameter set named {set}"));
    let text = std::fs::read_to_string(fixture(name).join("reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tensor = load_tensor_ir(&fixture(name).join("model.onnx")).unwrap();
    let cal = observe(&tensor, &[CALIBRATION.to_vec()]).unwrap();
    let opts = Options {
        strategy: Strategy::Cachemir,
        params,
        slots: None,
        max_context: 16,
        cache_level: None,
        placement: Default::default(),
        costs: None,
    };
    let mut lowered = lower::lower(&tensor, &cal, &opts).unwrap();
    // As `cachemir compile` does: bootstrap inputs centered on their calibrated mean and boosted.
    let boots =
        bootstrap_inputs(&lowered.module, &lowered.weights, &[CALIBRATION.to_vec()]).unwrap();
    condition_bootstraps(&mut lowered.module, &mut lowered.weights, &boots).unwrap();
    (
        reference,
        Plan::new(lowered.module, lowered.weights).unwrap(),
    )
}

/// Largest `|got − want|` over the rows both have.
fn max_logit_error(got: &[Vec<f64>], want: &serde_json::Value) -> f64 {
    got.iter()
        .zip(want.as_array().unwrap())
        .flat_map(|(got, want)| {
            got.iter()
                .zip(want.as_array().unwrap())
                .map(|(a, b)| (a - b.as_f64().unwrap()).abs())
        })
        .fold(0.0, f64::max)
}

#[test]
fn the_first_encrypted_step_matches_onnxruntime() {
    let (reference, plan) = compile("optimum", "INSECURE_N12_BOOT");
    let first = ids(&reference["prompt_ids"])[0];
    let report = generate(&plan, &[first], 0, None, |_| ()).unwrap();
    assert_eq!(report.logits.len(), 1);
    assert!(report.tokens[0].bootstraps > 0);
    let err = max_logit_error(&report.logits, &reference["logits"]);
    let want: Vec<f64> = reference["logits"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    eprintln!("optimum, position 0: max |logit error| vs onnxruntime {err:.3e}");
    assert!(err < 1e-2, "{err:e}");
    assert_eq!(argmax(&report.logits[0]), argmax(&want));

    // The noise-aware simulation against the encrypted run: how far each lands from the noise-free
    // interpreter (the approximations' error alone) must agree to within a factor of 3.
    let run = |noise: &NoiseModel| {
        simulate(&plan, &[first], 0, None, noise, 1, |_| ())
            .unwrap()
            .logits
    };
    let exact = NoiseModel {
        key_switch_bits: f64::INFINITY,
        product_bits: f64::INFINITY,
        bootstrap_bits: f64::INFINITY,
        message_ratio: f64::INFINITY,
    };
    let (clear, simulated) = (run(&exact), run(&NoiseModel::for_module(plan.module())));
    let off = |rows: &[Vec<f64>]| {
        rows[0]
            .iter()
            .zip(&clear[0])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    };
    let (enc_noise, sim_noise) = (off(&report.logits), off(&simulated));
    eprintln!(
        "optimum, position 0: noise vs the exact interpreter: encrypted {enc_noise:.3e}, simulated \
         {sim_noise:.3e}; vs onnxruntime: encrypted {err:.3e}, simulated {:.3e}, exact {:.3e}",
        max_logit_error(&simulated, &reference["logits"]),
        max_logit_error(&clear, &reference["logits"])
    );
    let ratio = sim_noise / enc_noise;
    assert!(
        (1.0 / 3.0..=3.0).contains(&ratio),
        "simulated / encrypted noise {ratio}"
    );
}

#[test]
#[ignore]
fn encrypted_generation_gives_the_reference_tokens() {
    let chosen = std::env::var("CACHEMIR_E2E_FIXTURES").unwrap_or_else(|_| FIXTURES.join(","));
    let set = std::env::var("CACHEMIR_E2E_PARAMS").unwrap_or_else(|_| "INSECURE_N12_BOOT".into());
    for name in chosen.split(',') {
        let (reference, plan) = compile(name, &set);
        let (prompt, expected) = (
            ids(&reference["prompt_ids"]),
            ids(&reference["generated_ids"]),
        );
        let report = generate(&plan, &prompt, expected.len(), None, |e| {
            if let Progress::Token(t) = e {
                eprintln!(
                    "{name}: position {} token {}: {:.1} s, {} bootstraps, {} rotations, {} key switches",
                    t.position,
                    t.token,
                    t.millis / 1e3,
                    t.bootstraps,
                    t.rotations,
                    t.key_switches
                );
            }
        })
        .unwrap();
        let err = max_logit_error(&report.logits, &reference["logits"]);
        eprintln!(
            "{name} at {set}: generated {:?}, max |logit error| vs onnxruntime {err:.3e} ({:.1} bits)",
            report.generated_ids,
            -err.log2()
        );
        assert_eq!(report.generated_ids, expected, "{name}");
    }
}

/// Two clients at once against one `cachemir-run serve` server over loopback (in this process):
/// each session has its own keys and KV cache, and each gets onnxruntime's logits for its prompt
/// (one token for the first client, two for the second) and the reference's next token.
#[test]
fn two_clients_over_loopback_get_the_reference_tokens() {
    let (reference, plan) = compile("optimum", "INSECURE_N12_BOOT");
    let config = ServeConfig {
        max_memory: u64::MAX,
        idle_timeout: std::time::Duration::from_secs(600),
        state_dir: None,
    };
    let server = InferenceService::new(vec![plan.clone()], config)
        .unwrap()
        .serve_in_background("127.0.0.1:0")
        .unwrap();
    let prompt = ids(&reference["prompt_ids"]);
    let prompts = [&prompt[..1], &prompt[..2]];
    let reports: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = prompts
            .iter()
            .map(|p| {
                let (plan, addr) = (&plan, server.addr());
                scope.spawn(move || generate_remote(plan, addr, None, p, 0, None, |_| ()).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (p, report) in prompts.iter().zip(&reports) {
        assert_eq!(report.logits.len(), p.len());
        let err = max_logit_error(&report.logits, &reference["logits"]);
        eprintln!(
            "client with {} prompt tokens: max |logit error| vs onnxruntime {err:.3e}",
            p.len()
        );
        assert!(err < 1e-2, "{err:e}");
        let last = &reference["logits"][p.len() - 1];
        let want: Vec<f64> = last
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(argmax(report.logits.last().unwrap()), argmax(&want));
    }
}

/// The server of [`a_killed_server_resumes_the_fixture_session`], run in a child process (this test
/// binary again, with the plan and the state directory in the environment) so it can be killed.
/// Not a test of its own: without that environment it returns at once.
#[test]
fn serve_child() {
    let (Ok(plan), Ok(state)) = (
        std::env::var("CACHEMIR_TEST_SERVE_PLAN"),
        std::env::var("CACHEMIR_TEST_SERVE_STATE"),
    ) else {
        return;
    };
    let config = ServeConfig {
        max_memory: u64::MAX,
        idle_timeout: std::time::Duration::from_secs(600),
        state_dir: Some(state.into()),
    };
    let plan = Plan::read_file(Path::new(&plan)).unwrap();
    let server = InferenceService::new(vec![plan], config)
        .unwrap()
        .serve_in_background("127.0.0.1:0")
        .unwrap();
    println!("listening on {}", server.addr());
    loop {
        std::thread::park();
    }
}

/// The tiny fixture's session on a server with a state directory, killed (SIGKILL) in the middle of
/// the second step and started again: the client reattaches at position 1, sends the step again
/// and goes on, and the three positions' logits are onnxruntime's (same greedy tokens, within 1e-2).
#[test]
fn a_killed_server_resumes_the_fixture_session() {
    use cachemir_ir::plan::client::{logits, step_inputs};
    use cachemir_kernels::CpuBackend;
    use cachemir_runtime::ckks::Parameters;
    use cachemir_runtime::session::remote::RemoteSession;
    use cachemir_runtime::session::Client;
    use std::io::BufRead;

    let (reference, plan) = compile("optimum", "INSECURE_N12_BOOT");
    let dir = std::env::temp_dir().join(format!("cachemir-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan_path = dir.join("tiny.plan");
    plan.write_file(&plan_path).unwrap();
    let start = || {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "serve_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("CACHEMIR_TEST_SERVE_PLAN", &plan_path)
            .env("CACHEMIR_TEST_SERVE_STATE", dir.join("state"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = lines
            // libtest may have written `test serve_child ... ` on the same line first.
            .find_map(|l| Some(l.ok()?.split_once("listening on ")?.1.trim().to_string()))
            .expect("the child server's address");
        (child, addr)
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let params = Arc::new(Parameters::new(plan.params().clone()).unwrap());
    let mut client = Client::new(params, CpuBackend);
    let keys = client.open_session(&plan).unwrap();
    let io = plan.client_io();
    let prompt = ids(&reference["prompt_ids"]);
    let mut step = |session: &mut RemoteSession, position: usize, token: u32| {
        let inputs = step_inputs(plan.module(), plan.weights(), token, position).unwrap();
        let request = client.step_request(&io, position as u32, &inputs).unwrap();
        let reply = rt.block_on(session.step(request))?;
        Ok::<_, cachemir_runtime::RuntimeError>(logits(
            &client.read_reply(&io, reply).unwrap().values,
        ))
    };
    let (mut first, addr) = start();
    let mut session = rt
        .block_on(RemoteSession::open(&addr, &keys, |_, _| ()))
        .unwrap();
    let mut rows = vec![step(&mut session, 0, prompt[0]).unwrap()];
    // Step 1 takes tens of seconds here: the kill lands inside it.
    let killer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(3));
        first.kill().unwrap();
        first.wait().unwrap();
    });
    assert!(
        step(&mut session, 1, prompt[1]).is_err(),
        "the step outlived its server"
    );
    killer.join().unwrap();

    let (mut second, addr) = start();
    let mut resumed = rt
        .block_on(RemoteSession::reattach(&addr, session.id()))
        .unwrap();
    assert_eq!(
        resumed.position(),
        1,
        "the KV cache of the one finished step"
    );
    rows.push(step(&mut resumed, 1, prompt[1]).unwrap());
    rows.push(step(&mut resumed, 2, prompt[2]).unwrap());
    rt.block_on(resumed.close()).unwrap();
    second.kill().unwrap();
    second.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    for (position, row) in rows.iter().enumerate() {
        let want: Vec<f64> = reference["logits"][position]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(argmax(row), argmax(&want), "position {position}");
    }
    let err = max_logit_error(&rows, &reference["logits"]);
    eprintln!("resumed session, 3 positions: max |logit error| vs onnxruntime {err:.3e}");
    assert!(err < 1e-2, "{err:e}");
}
