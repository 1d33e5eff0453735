//! The gRPC server (`session::service`, behind `cachemir-run serve`) and its client
//! (`session::remote`) over loopback, at insecure test parameters: concurrent clients each get
//! their own reference results (the cleartext interpreter), refusals are clear statuses that leave
//! the session usable, a full memory budget refuses sessions before their upload, and a killed
//! server resumes a session from its state directory.

mod kv_plan;
mod small_plan;

use cachemir_ir::fhe::interp::{Interpreter, KvState as ClearKvState};
use cachemir_ir::fhe::Module;
use cachemir_ir::plan::client::generate_in_clear;
use cachemir_ir::plan::Plan;
use cachemir_ir::text::TextForm;
use cachemir_kernels::CpuBackend;
use cachemir_runtime::ckks::Parameters;
use cachemir_runtime::session::memory::session_bytes;
use cachemir_runtime::session::protocol::{BeginUploadRequest, KeyChunk, SessionRef, StepRequest};
use cachemir_runtime::session::remote::{connect, RemoteSession};
use cachemir_runtime::session::service::{BackgroundServer, InferenceService, ServeConfig};
use cachemir_runtime::session::{generate_remote, Client, KeyStore, SessionKeys};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::{Arc, Barrier};
use std::time::Duration;
use tonic::Code;

fn config(max_memory: u64) -> ServeConfig {
    ServeConfig {
        max_memory,
        idle_timeout: Duration::from_secs(600),
        state_dir: None,
    }
}

fn serve(plans: Vec<Plan>, config: ServeConfig) -> BackgroundServer {
    InferenceService::new(plans, config)
        .unwrap()
        .serve_in_background("127.0.0.1:0")
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn kv_plan() -> Plan {
    Plan::new(
        Module::from_text(kv_plan::PROGRAM).unwrap(),
        kv_plan::weights(),
    )
    .unwrap()
}

/// The kv plan's input for step `position`.
fn kv_input(position: u32) -> BTreeMap<String, Vec<f64>> {
    let x = (0..16)
        .map(|i| (i as f64 * 0.21 + position as f64).cos())
        .collect();
    BTreeMap::from([("x".to_string(), x)])
}

/// The interpreter's outputs of the kv plan for steps `0..steps`.
fn kv_reference(plan: &Plan, steps: u32) -> Vec<BTreeMap<String, Vec<f64>>> {
    let interp = Interpreter::new(plan.module(), plan.weights()).unwrap();
    let mut state = ClearKvState::default();
    (0..steps)
        .map(|p| interp.run(&kv_input(p), &mut state).unwrap())
        .collect()
}

fn max_error(got: &BTreeMap<String, Vec<f64>>, want: &BTreeMap<String, Vec<f64>>) -> f64 {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    want.iter()
        .flat_map(|(name, w)| got[name].iter().zip(w).map(|(a, b)| (a - b).abs()))
        .fold(0.0, f64::max)
}

/// Two clients at once, each with its own keys and session, get their own reference tokens; a
/// client that kept its keys in a key store reads them back for its next run.
#[test]
fn two_concurrent_clients_each_get_their_reference_tokens() {
    let plan = small_plan::plan();
    let server = serve(vec![plan.clone()], config(u64::MAX));
    let prompts: [&[u32]; 2] = [&[3, 17], &[40, 2, 9]];
    // The first client keeps its keys in a key store, the second makes fresh ones.
    let dir = tempfile::tempdir().unwrap();
    let store = KeyStore::new(dir.path(), &plan);
    let stores = [Some(&store), None];
    let reports: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = prompts
            .iter()
            .zip(stores)
            .map(|(prompt, store)| {
                let (plan, addr) = (&plan, server.addr());
                scope.spawn(move || generate_remote(plan, addr, store, prompt, 2, None, |_| ()))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Again from the key store: the keys are read back, not made, and give the same tokens.
    let again = generate_remote(
        &plan,
        server.addr(),
        Some(&store),
        prompts[0],
        2,
        None,
        |_| (),
    );
    let again = again.unwrap();
    assert!(again.keys_from_store);
    let reports = reports.into_iter().chain([Ok(again)]);
    for (prompt, report) in prompts.iter().chain(&prompts[..1]).zip(reports) {
        let report = report.unwrap();
        let (ids, logits) = generate_in_clear(plan.module(), plan.weights(), prompt, 2).unwrap();
        assert_eq!(report.generated_ids, ids, "prompt {prompt:?}");
        let err = report
            .logits
            .iter()
            .flatten()
            .zip(logits.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            err < 2f64.powi(-12),
            "prompt {prompt:?}: max logit error {err:e}"
        );
        assert_eq!(report.tokens.len(), prompt.len() + 2);
        assert!(report.tokens.iter().all(|t| t.bootstraps == 1));
    }
}

/// Bad calls are refused with the status that says why, and the session goes on as if they had
/// not happened.
#[test]
fn refusals_are_clear_statuses_and_leave_the_session_intact() {
    let plan = kv_plan();
    let server = serve(vec![plan.clone()], config(u64::MAX));
    let params = Arc::new(Parameters::new(plan.params().clone()).unwrap());
    let mut client = Client::new(params, CpuBackend);
    let keys = client.open_session(&plan).unwrap();
    let io = plan.client_io();
    let rt = runtime();
    let mut rpc = rt.block_on(connect(server.addr())).unwrap();

    // A plan the server does not run.
    let begin = |fingerprint: u32, crc32: u32| BeginUploadRequest {
        plan_fingerprint: fingerprint,
        total_bytes: keys.evaluation_keys.len() as u64,
        crc32,
    };
    let crc = crc32fast::hash(&keys.evaluation_keys);
    let err = rt
        .block_on(rpc.begin_upload(begin(keys.plan_fingerprint ^ 1, crc)))
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err}");
    // An absurd size is refused before anything is reserved.
    let huge = BeginUploadRequest {
        total_bytes: u64::MAX,
        ..begin(keys.plan_fingerprint, crc)
    };
    let err = rt.block_on(rpc.begin_upload(huge)).unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");

    // A truncated upload: opening says how much arrived; the upload resumes from there.
    let id = rt
        .block_on(rpc.begin_upload(begin(keys.plan_fingerprint, crc)))
        .unwrap()
        .into_inner()
        .session_id;
    let half = keys.evaluation_keys.len() / 2;
    let chunk = |offset: usize, end: usize| KeyChunk {
        session_id: id.clone(),
        offset: offset as u64,
        data: keys.evaluation_keys.slice(offset..end),
    };
    rt.block_on(rpc.upload_keys(tokio_stream::iter([chunk(0, half)])))
        .unwrap();
    let sref = SessionRef {
        session_id: id.clone(),
    };
    let err = rt.block_on(rpc.open_session(sref.clone())).unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(err.message().contains(&format!("{half} of")), "{err}");
    // A chunk at the wrong offset, and one past the announced size, are refused.
    let err = rt
        .block_on(rpc.upload_keys(tokio_stream::iter([chunk(half - 1, half + 4)])))
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    let mut beyond = chunk(half, keys.evaluation_keys.len());
    beyond.data = [beyond.data.to_vec(), vec![0]].concat().into();
    let err = rt
        .block_on(rpc.upload_keys(tokio_stream::iter([beyond])))
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    let status = rt
        .block_on(rpc.get_upload_status(sref.clone()))
        .unwrap()
        .into_inner();
    assert_eq!(status.received_bytes, half as u64);
    rt.block_on(rpc.upload_keys(tokio_stream::iter([chunk(
        half,
        keys.evaluation_keys.len(),
    )])))
    .unwrap();
    rt.block_on(rpc.open_session(sref.clone())).unwrap();

    // A step for another session id, or for one never issued, is NOT_FOUND.
    let reference = kv_reference(&plan, 3);
    let request = |client: &mut Client<CpuBackend>, session: &str, position: u32| StepRequest {
        session_id: session.to_string(),
        ..client
            .step_request(&io, position, &kv_input(position))
            .unwrap()
    };
    for other in ["0123456789abcdef0123456789abcdef", "../../etc/passwd", ""] {
        let err = rt
            .block_on(rpc.step(request(&mut client, other, 0)))
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{err}");
    }
    // Out of order, garbage ciphertexts, an input at the wrong level, a missing input.
    let err = rt
        .block_on(rpc.step(request(&mut client, &id, 1)))
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    let mut garbage = request(&mut client, &id, 0);
    garbage.inputs.insert("x".into(), vec![7; 100]);
    let err = rt.block_on(rpc.step(garbage)).unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    let mut low = request(&mut client, &id, 0);
    let params = client.params().clone();
    let decl = &io.inputs[0];
    let mut lower = decl.clone();
    lower.ty.level.0 -= 1;
    low.inputs.insert(
        "x".into(),
        client
            .encrypt(&lower, &kv_input(0)["x"])
            .unwrap()
            .to_bytes(&params),
    );
    let err = rt.block_on(rpc.step(low)).unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(err.message().contains("level"), "{err}");
    let mut missing = request(&mut client, &id, 0);
    missing.inputs.clear();
    let err = rt.block_on(rpc.step(missing)).unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");

    // The session is intact: steps 0 and 1 give the reference; a replayed step 0 is refused.
    for position in 0..2 {
        let reply = rt
            .block_on(rpc.step(request(&mut client, &id, position)))
            .unwrap()
            .into_inner();
        let got = client.read_reply(&io, reply).unwrap().values;
        let err = max_error(&got, &reference[position as usize]);
        assert!(err < 2f64.powi(-14), "position {position}: {err:e}");
    }
    let err = rt
        .block_on(rpc.step(request(&mut client, &id, 0)))
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("holds 2 tokens"), "{err}");

    // Keys whose CRC-32 is not the announced one are refused at open, and can be sent again.
    let id2 = rt
        .block_on(rpc.begin_upload(begin(keys.plan_fingerprint, crc ^ 1)))
        .unwrap()
        .into_inner()
        .session_id;
    let all = KeyChunk {
        session_id: id2.clone(),
        offset: 0,
        data: keys.evaluation_keys.clone(),
    };
    rt.block_on(rpc.upload_keys(tokio_stream::iter([all])))
        .unwrap();
    let err = rt
        .block_on(rpc.open_session(SessionRef {
            session_id: id2.clone(),
        }))
        .unwrap_err();
    assert_eq!(err.code(), Code::DataLoss, "{err}");

    // Closed sessions are gone.
    rt.block_on(rpc.close_session(sref.clone())).unwrap();
    let err = rt
        .block_on(rpc.step(request(&mut client, &id, 2)))
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err}");
}

/// Eight sessions opening at once under a budget for two: two are served (with their reference
/// outputs), six are refused before uploading anything, and the server goes on.
#[test]
fn a_full_memory_budget_refuses_sessions_up_front() {
    let plan = kv_plan();
    let params = Arc::new(Parameters::new(plan.params().clone()).unwrap());
    let clients: Vec<(Client<CpuBackend>, SessionKeys)> = (0..8)
        .map(|_| {
            let client = Client::new(params.clone(), CpuBackend);
            let keys = client.open_session(&plan).unwrap();
            (client, keys)
        })
        .collect();
    let need = session_bytes(
        plan.module(),
        &params,
        clients[0].1.evaluation_keys.len() as u64,
    );
    // The kv plan has no bootstrap: the budget is the sessions' alone.
    let server = serve(vec![plan.clone()], config(need * 5 / 2));
    let reference = kv_reference(&plan, 2);
    let io = plan.client_io();
    let opened = Barrier::new(8);
    let outcomes: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = clients
            .into_iter()
            .map(|(mut client, keys)| {
                let (addr, opened, reference, io) = (server.addr(), &opened, &reference, &io);
                scope.spawn(move || {
                    let rt = runtime();
                    let session = rt.block_on(RemoteSession::open(addr, &keys, |_, _| ()));
                    // Everyone has tried before anyone closes.
                    opened.wait();
                    let mut session = session.map_err(|e| e.to_string())?;
                    for (position, want) in reference.iter().enumerate() {
                        let position = position as u32;
                        let request = client
                            .step_request(io, position, &kv_input(position))
                            .unwrap();
                        let reply = rt.block_on(session.step(request)).unwrap();
                        let got = client.read_reply(io, reply).unwrap().values;
                        assert!(max_error(&got, want) < 2f64.powi(-14));
                    }
                    rt.block_on(session.close()).unwrap();
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let served = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(served, 2, "{outcomes:?}");
    for refusal in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert!(
            refusal.contains("ResourceExhausted") && refusal.contains("memory budget"),
            "{refusal}"
        );
    }
    // The freed budget takes new sessions.
    let client = Client::new(params, CpuBackend);
    let keys = client.open_session(&plan).unwrap();
    let rt = runtime();
    let session = rt
        .block_on(RemoteSession::open(server.addr(), &keys, |_, _| ()))
        .unwrap();
    rt.block_on(session.close()).unwrap();
}

/// `cachemir-run serve` with a state directory, killed (SIGKILL) while it runs a step and started
/// again: the client reattaches to its session, which holds the KV cache of every step the server
/// finished, and the interrupted step and the next give the reference outputs.
#[test]
fn a_killed_server_resumes_the_session_from_its_state_directory() {
    // At N = 2^16 a step takes long enough (about 0.3 s) on one thread to be killed inside it.
    let module = Module::from_text(&kv_plan::PROGRAM.replace("log_n=12", "log_n=16")).unwrap();
    let plan = Plan::new(module, kv_plan::weights()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("kv.plan");
    plan.write_file(&plan_path).unwrap();
    let state = dir.path().join("state");
    let start = || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cachemir-run"))
            .arg("serve")
            .arg(&plan_path)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--insecure-test-params",
                "--threads",
                "1",
            ])
            .arg("--state-dir")
            .arg(&state)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim()
            .to_string();
        (child, addr)
    };
    let reference = kv_reference(&plan, 4);
    let params = Arc::new(Parameters::new(plan.params().clone()).unwrap());
    let mut client = Client::new(params, CpuBackend);
    let io = plan.client_io();
    let keys = client.open_session(&plan).unwrap();
    let rt = runtime();
    let (mut first, addr) = start();
    let mut session = rt
        .block_on(RemoteSession::open(&addr, &keys, |_, _| ()))
        .unwrap();
    let check = |client: &mut Client<CpuBackend>, session: &mut RemoteSession, position: u32| {
        let request = client
            .step_request(&io, position, &kv_input(position))
            .unwrap();
        let reply = rt.block_on(session.step(request)).unwrap();
        let got = client.read_reply(&io, reply).unwrap().values;
        let err = max_error(&got, &reference[position as usize]);
        assert!(err < 2f64.powi(-14), "position {position}: {err:e}");
    };
    check(&mut client, &mut session, 0);
    check(&mut client, &mut session, 1);
    // Step 2 goes out; the server is killed while (or just after) it runs it.
    let request = client.step_request(&io, 2, &kv_input(2)).unwrap();
    let id = session.id().to_string();
    let (sending, sent) = std::sync::mpsc::channel();
    let pending = std::thread::spawn({
        let addr = addr.clone();
        move || {
            let rt = runtime();
            let mut session = rt.block_on(RemoteSession::reattach(&addr, &id)).unwrap();
            sending.send(()).unwrap();
            rt.block_on(session.step(request)).is_ok()
        }
    });
    sent.recv().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    first.kill().unwrap();
    first.wait().unwrap();
    let answered = pending.join().unwrap();
    assert!(!answered, "the step finished before the kill");

    let (mut second, addr) = start();
    let mut resumed = rt
        .block_on(RemoteSession::reattach(&addr, session.id()))
        .unwrap();
    // The state on disk is the KV cache after the last step that finished.
    assert_eq!(resumed.position(), 2);
    for p in 2..4 {
        check(&mut client, &mut resumed, p);
    }
    rt.block_on(resumed.close()).unwrap();
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(
        std::fs::read_dir(&state).unwrap().count(),
        0,
        "closing removes the saved session"
    );
}
