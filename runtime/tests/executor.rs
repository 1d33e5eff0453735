//! The CKKS executor against the cleartext interpreter of the FHE IR (the oracle): one program with every
//! op the executor supports, run for three decode steps with an encrypted KV cache, at `INSECURE_N12`-sized
//! parameters. Every output must agree with the interpreter to 2^-14 (products of values up to ~6).

use cachemir_ir::fhe::interp::{Interpreter, KvState as ClearKvState};
use cachemir_ir::fhe::Module;
use cachemir_ir::plan::ClientIo;
use cachemir_ir::text::TextForm;
use cachemir_ir::weights::{Weight, Weights};
use cachemir_kernels::CpuBackend;
use cachemir_runtime::ckks::{Evaluator, Parameters};
use cachemir_runtime::executor::{Executor, KvState};
use cachemir_runtime::session::Client;
use cachemir_runtime::RuntimeError;
use std::collections::BTreeMap;
use std::sync::Arc;

mod kv_plan;
use kv_plan::{weights, PROGRAM};

#[test]
fn executor_matches_the_interpreter_over_three_steps() {
    let module = Module::from_text(PROGRAM).unwrap();
    let weights = weights();
    let params = Arc::new(Parameters::new(module.params.clone()).unwrap());
    let mut client = Client::new(params.clone(), CpuBackend);
    let keys = Arc::new(client.evaluation_keys(&module).unwrap());
    let executor = Executor::new(
        &module,
        &weights,
        Evaluator::new(params.clone(), CpuBackend, keys),
        CpuBackend,
    )
    .unwrap();
    let interp = Interpreter::new(&module, &weights).unwrap();
    let io = ClientIo::of(&module);

    let (mut clear_state, mut state) = (ClearKvState::default(), KvState::default());
    for step in 0..3 {
        let x: Vec<f64> = (0..16)
            .map(|i| ((i + 3 * step) as f64 * 0.37).sin())
            .collect();
        let expect = interp
            .run(
                &BTreeMap::from([("x".to_string(), x.clone())]),
                &mut clear_state,
            )
            .unwrap();
        let inputs =
            BTreeMap::from([("x".to_string(), client.encrypt(&io.inputs[0], &x).unwrap())]);
        let step_result = executor.run(&inputs, &mut state).unwrap();
        let outputs = &step_result.outputs;
        // One rotate, two hoisted, one conjugation, one relinearization, one KV append.
        assert_eq!(
            (
                step_result.stats.rotations,
                step_result.stats.key_switches,
                step_result.stats.bootstraps
            ),
            (4, 6, 0)
        );
        for decl in &io.outputs {
            let got = client.decrypt(decl, &outputs[&decl.name]).unwrap();
            let want = &expect[&decl.name];
            let err = got
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(
                err < 2f64.powi(-14),
                "step {step}, output {}: max error {err:e}",
                decl.name
            );
        }
    }
    assert_eq!(state.caches["k"].tokens, 3);
}

#[test]
fn executor_rejects_other_parameters_and_missing_inputs() {
    let module = Module::from_text(PROGRAM).unwrap();
    let weights = weights();
    let other = Arc::new(Parameters::named("INSECURE_N10").unwrap());
    let eval = Evaluator::new(other, CpuBackend, Default::default());
    assert!(matches!(
        Executor::new(&module, &weights, eval, CpuBackend),
        Err(RuntimeError::Plan { .. })
    ));

    let params = Arc::new(Parameters::new(module.params.clone()).unwrap());
    let executor = Executor::new(
        &module,
        &weights,
        Evaluator::new(params, CpuBackend, Default::default()),
        CpuBackend,
    )
    .unwrap();
    let err = executor
        .run(&BTreeMap::new(), &mut KvState::default())
        .unwrap_err();
    assert!(
        err.to_string().contains("no ciphertext for input \"x\""),
        "{err}"
    );
}

/// The same program through a client/server session speaking protobuf bytes: results agree with the
/// interpreter; a session opened for another plan, an out-of-order step or corrupted bytes are refused.
#[test]
fn session_round_trips_and_refusals() {
    use cachemir_ir::plan::Plan;
    use cachemir_runtime::session::Server;

    let plan = Plan::new(Module::from_text(PROGRAM).unwrap(), weights()).unwrap();
    let params = Arc::new(Parameters::new(plan.params().clone()).unwrap());
    let io = plan.client_io();
    let mut client = Client::new(params.clone(), CpuBackend);
    let open = client.open_session(&plan).unwrap();
    let mut server = Server::open(&plan, params.clone(), &open, CpuBackend).unwrap();
    let interp = Interpreter::new(plan.module(), plan.weights()).unwrap();
    let mut clear_state = ClearKvState::default();
    for position in 0..2u32 {
        let x: Vec<f64> = (0..16)
            .map(|i| (i as f64 * 0.21 + position as f64).cos())
            .collect();
        let values = BTreeMap::from([("x".to_string(), x)]);
        let expect = interp.run(&values, &mut clear_state).unwrap();
        let request = client.step_request(&io, position, &values).unwrap();
        let reply = client
            .read_reply(&io, server.run_step(&request).unwrap())
            .unwrap();
        assert_eq!(reply.stats.unwrap().rotations, 4);
        let got = reply.values;
        for (name, want) in &expect {
            let err = got[name]
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(err < 2f64.powi(-14), "position {position}, {name}: {err:e}");
        }
    }
    assert!(server.kv_cache_bytes() > 0);

    // The KV cache saved and resumed in a new server: the next step gives identical outputs.
    let saved = server.save_state();
    let mut resumed = Server::resume(&plan, params.clone(), &open, &saved, CpuBackend).unwrap();
    let values = BTreeMap::from([("x".to_string(), vec![0.25; 16])]);
    let request = client.step_request(&io, 2, &values).unwrap();
    let [original, restored] = [&mut server, &mut resumed].map(|s| {
        client
            .read_reply(&io, s.run_step(&request).unwrap())
            .unwrap()
            .values
    });
    assert_eq!(original, restored);
    // A corrupted, truncated or foreign state is refused, never used.
    let mut flipped = saved.clone();
    flipped[saved.len() / 2] ^= 0x10;
    for bad in [&flipped[..], &saved[..saved.len() - 9], &[][..]] {
        let err = Server::resume(&plan, params.clone(), &open, bad, CpuBackend)
            .err()
            .unwrap();
        assert!(err.to_string().contains("KV-cache state"), "{err}");
    }
    let renamed = Plan::new(
        Module::from_text(&PROGRAM.replace("\"k\"", "\"k2\"")).unwrap(),
        weights(),
    )
    .unwrap();
    let err = Server::resume(
        &renamed,
        params.clone(),
        &client.open_session(&renamed).unwrap(),
        &saved,
        CpuBackend,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("not declared"), "{err}");

    // A replayed position, and garbage bytes, are typed errors.
    let values = BTreeMap::from([("x".to_string(), vec![0.0; 16])]);
    let stale = client.step_request(&io, 0, &values).unwrap();
    assert!(server
        .run_step(&stale)
        .unwrap_err()
        .to_string()
        .contains("position 0"));
    assert!(server.step(&[0xff, 0x01, 0x02]).is_err());

    // Keys made for another plan (different rotation keys) are refused at open.
    let other = Plan::new(
        Module::from_text(&PROGRAM.replace(
            "rotations=[1, 2, 4, 8, 12, 13]",
            "rotations=[1, 2, 4, 8, 12, 13, 5]",
        ))
        .unwrap(),
        weights(),
    )
    .unwrap();
    let foreign = client.open_session(&other).unwrap();
    let err = Server::open(&plan, params, &foreign, CpuBackend)
        .err()
        .unwrap();
    assert!(err.to_string().contains("another plan"), "{err}");
}

/// `linear_transform` (baby-step/giant-step over three diagonals) and `poly_eval` on an interval, on CKKS
/// against the interpreter.
#[test]
fn linear_transform_and_poly_eval_match_the_interpreter() {
    let program = r#"
params { log_n=12, log_q=[60, 40, 40, 40, 40, 40, 40, 40], log_p=[61, 61], log_default_scale=40, secret=dense }
keys { rotations=[1, 2, 4], conjugate=false, bootstrap=false }
weight "d" { rows=3, cols=16 }
%0 = input "x" : ct<level=7, scale=40, slots=16, layout=strided(len=16, stride=1)>
%1 = linear_transform %0, diagonals="d", offsets=[0, 1, 6], baby_step=4, scale=40 : ct<level=7, scale=80, slots=16, layout=strided(len=16, stride=1)>
%2 = rescale %1 : ct<level=6, scale=40, slots=16, layout=strided(len=16, stride=1)>
%3 = poly_eval %2, coeffs=[0.25, -0.5, 0.125, 0.0625], interval=(-3, 3) : ct<level=3, scale=40, slots=16, layout=strided(len=16, stride=1)>
output "y", %3
"#;
    let module = Module::from_text(program).unwrap();
    let data: Vec<f64> = (0..48).map(|i| ((i * 5 % 13) as f64 - 6.0) / 7.0).collect();
    let weights = BTreeMap::from([("d".to_string(), Weight::f64(3, 16, data).unwrap())]);
    let params = Arc::new(Parameters::new(module.params.clone()).unwrap());
    let mut client = Client::new(params.clone(), CpuBackend);
    let keys = Arc::new(client.evaluation_keys(&module).unwrap());
    let executor = Executor::new(
        &module,
        &weights,
        Evaluator::new(params, CpuBackend, keys),
        CpuBackend,
    )
    .unwrap();
    let io = ClientIo::of(&module);
    let x: Vec<f64> = (0..16).map(|i| (i as f64 * 0.61).sin()).collect();
    let expect = Interpreter::new(&module, &weights)
        .unwrap()
        .run(
            &BTreeMap::from([("x".to_string(), x.clone())]),
            &mut ClearKvState::default(),
        )
        .unwrap();
    let inputs = BTreeMap::from([("x".to_string(), client.encrypt(&io.inputs[0], &x).unwrap())]);
    let result = executor.run(&inputs, &mut KvState::default()).unwrap();
    let got = client
        .decrypt(&io.outputs[0], &result.outputs["y"])
        .unwrap();
    assert_eq!(result.outputs["y"].level(), 3);
    let err = got
        .iter()
        .zip(&expect["y"])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err < 2f64.powi(-14), "max error {err:e}");
}

/// A plan that squares, bootstraps (at the named set `INSECURE_N12_BOOT`, 64 sparse slots, through
/// the client's bootstrapping keys) and squares again, against the interpreter. The program lives on
/// levels 0..=9; the bootstrap returns to level 9.
#[test]
fn executor_bootstraps_with_the_named_sets_configuration() {
    const BOOT: &str = r#"
params { log_n=12, log_q=[60, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 60, 60, 60, 60, 60, 60, 60, 60, 56, 56], log_p=[61, 61, 61, 61], log_default_scale=40, secret=dense }
keys { rotations=[], conjugate=false, bootstrap=true }
%0 = input "x" : ct<level=1, scale=40, slots=64, layout=strided(len=64, stride=1)>
%1 = mul_ct %0, %0 : ct<level=1, scale=80, slots=64, layout=strided(len=64, stride=1), degree=2>
%2 = relinearize %1 : ct<level=1, scale=80, slots=64, layout=strided(len=64, stride=1)>
%3 = rescale %2 : ct<level=0, scale=40, slots=64, layout=strided(len=64, stride=1)>
%4 = bootstrap %3, target=9 : ct<level=9, scale=40, slots=64, layout=strided(len=64, stride=1)>
%5 = mul_ct %4, %4 : ct<level=9, scale=80, slots=64, layout=strided(len=64, stride=1), degree=2>
%6 = relinearize %5 : ct<level=9, scale=80, slots=64, layout=strided(len=64, stride=1)>
%7 = rescale %6 : ct<level=8, scale=40, slots=64, layout=strided(len=64, stride=1)>
output "y", %7
"#;
    let module = Module::from_text(BOOT).unwrap();
    let weights = Weights::new();
    let params = Arc::new(Parameters::named("INSECURE_N12_BOOT").unwrap());
    assert_eq!(params.literal(), &module.params, "the named set's literal");
    let mut client = Client::new(params.clone(), CpuBackend);
    let keys = client.evaluation_keys(&module).unwrap();
    assert!(keys.encapsulation.is_some() && !keys.galois.is_empty());
    let executor = Executor::new(
        &module,
        &weights,
        Evaluator::new(params.clone(), CpuBackend, Arc::new(keys)),
        CpuBackend,
    )
    .unwrap();
    let io = ClientIo::of(&module);
    let x: Vec<f64> = (0..64).map(|i| (i as f64 * 0.61).cos()).collect();
    let want: Vec<f64> = x.iter().map(|v| v.powi(4)).collect();
    let inputs = BTreeMap::from([("x".to_string(), client.encrypt(&io.inputs[0], &x).unwrap())]);
    let result = executor.run(&inputs, &mut KvState::default()).unwrap();
    assert_eq!(result.stats.bootstraps, 1);
    let got = client
        .decrypt(&io.outputs[0], &result.outputs["y"])
        .unwrap();
    let err = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err < 2f64.powi(-16), "max error {err:e}");

    // Without bootstrapping keys the step fails with an error naming the op.
    let plain_keys = Arc::new(
        cachemir_runtime::ckks::KeyGenerator::new(params.clone(), CpuBackend)
            .evaluation_keys(
                &cachemir_runtime::ckks::KeyGenerator::new(params.clone(), CpuBackend).secret_key(),
                &[],
                true,
            )
            .unwrap(),
    );
    let bare = Executor::new(
        &module,
        &weights,
        Evaluator::new(params, CpuBackend, plain_keys),
        CpuBackend,
    )
    .unwrap();
    let err = bare.run(&inputs, &mut KvState::default()).unwrap_err();
    assert!(err.to_string().contains("bootstrap"), "{err}");
}
