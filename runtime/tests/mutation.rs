//! Every decoder that reads bytes from the network or from a server's disk, under 1,000 mutations
//! each: evaluation keys (the session upload), ciphertexts (steps and replies), step requests and
//! replies (protobuf), saved KV caches. Mutations flip bits, truncate, insert, delete and overwrite
//! bytes, half of them with the checksum recomputed so the structural checks behind it are reached.
//! A decoder must answer with a value or a typed error, never panic; a mutation the checksum sees
//! must be an error; and a server that refused a thousand bad steps still runs good ones.

mod kv_plan;

use cachemir_ir::fhe::interp::{Interpreter, KvState as ClearKvState};
use cachemir_ir::fhe::Module;
use cachemir_ir::plan::Plan;
use cachemir_ir::text::TextForm;
use cachemir_kernels::CpuBackend;
use cachemir_runtime::ckks::{Ciphertext, EvaluationKeys, Parameters};
use cachemir_runtime::executor::KvState;
use cachemir_runtime::session::protocol::{StepReply, StepRequest};
use cachemir_runtime::session::{Client, Server};
use proptest::prelude::*;
use prost::Message;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit { at: usize, bit: u8 },
    Truncate { to: usize },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
    Overwrite { at: usize, bytes: Vec<u8> },
}

impl Mutation {
    /// Applies the edit (positions taken modulo the length).
    fn apply(&self, bytes: &mut Vec<u8>) {
        let len = bytes.len().max(1);
        match self {
            Mutation::FlipBit { at, bit } => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b ^= 1 << (bit % 8)
                }
            }
            Mutation::Truncate { to } => bytes.truncate(to % len),
            Mutation::Insert { at, byte } => bytes.insert(at % (bytes.len() + 1), *byte),
            Mutation::Delete { at } => {
                if !bytes.is_empty() {
                    bytes.remove(at % len);
                }
            }
            Mutation::Overwrite { at, bytes: new } => {
                let start = at % len;
                for (i, &b) in new.iter().enumerate() {
                    if let Some(slot) = bytes.get_mut(start + i) {
                        *slot = b;
                    }
                }
            }
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        any::<usize>().prop_map(|to| Mutation::Truncate { to }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, bytes)| Mutation::Overwrite { at, bytes }),
    ]
}

/// `bytes` (a checksummed object) edited; with `reseal`, the edit is made before the trailing
/// CRC-32 and the checksum recomputed.
fn mutated(bytes: &[u8], m: &Mutation, reseal: bool) -> Vec<u8> {
    if !reseal {
        let mut out = bytes.to_vec();
        m.apply(&mut out);
        return out;
    }
    let mut body = bytes[..bytes.len() - 4].to_vec();
    m.apply(&mut body);
    let crc = crc32fast::hash(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// The kv plan, a client, its keys, the request for step 1, the reply to step 0, the KV cache after
/// step 0 and a server holding it: made once.
struct Fixture {
    plan: &'static Plan,
    params: Arc<Parameters>,
    client: std::sync::Mutex<Client<CpuBackend>>,
    keys: cachemir_runtime::session::SessionKeys,
    request: StepRequest,
    reply: Vec<u8>,
    state: Vec<u8>,
    server: std::sync::Mutex<Server<'static, CpuBackend>>,
}

fn input(position: u32) -> BTreeMap<String, Vec<f64>> {
    let x = (0..16)
        .map(|i| (i as f64 * 0.37 - position as f64).sin())
        .collect();
    BTreeMap::from([("x".to_string(), x)])
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let module = Module::from_text(kv_plan::PROGRAM).unwrap();
        let plan: &'static Plan =
            Box::leak(Box::new(Plan::new(module, kv_plan::weights()).unwrap()));
        let params = Arc::new(Parameters::new(plan.params().clone()).unwrap());
        let mut client = Client::new(params.clone(), CpuBackend);
        let keys = client.open_session(plan).unwrap();
        let io = plan.client_io();
        let mut server = Server::open(plan, params.clone(), &keys, CpuBackend).unwrap();
        let first = client.step_request(&io, 0, &input(0)).unwrap();
        let reply = server.step(&first.encode_to_vec()).unwrap();
        let state = server.save_state();
        Fixture {
            plan,
            params,
            request: client.step_request(&io, 1, &input(1)).unwrap(),
            client: std::sync::Mutex::new(client),
            keys,
            reply,
            state,
            server: std::sync::Mutex::new(server),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn uploaded_evaluation_keys(m in mutation(), reseal in any::<bool>()) {
        let f = fixture();
        let bytes = mutated(&f.keys.evaluation_keys, &m, reseal);
        let decoded = EvaluationKeys::from_bytes(&f.params, &bytes);
        if !reseal && bytes[..] != f.keys.evaluation_keys[..] {
            prop_assert!(decoded.is_err(), "{m:?} passed the checksum");
        }
        prop_assert!(EvaluationKeys::check_bytes(&f.params, &bytes).is_ok() || decoded.is_err());
    }

    #[test]
    fn ciphertexts(m in mutation(), reseal in any::<bool>()) {
        let f = fixture();
        let original = &f.request.inputs["x"];
        let bytes = mutated(original, &m, reseal);
        let decoded = Ciphertext::from_bytes(&f.params, &bytes);
        if !reseal && &bytes != original {
            prop_assert!(decoded.is_err(), "{m:?} passed the checksum");
        }
    }

    #[test]
    fn saved_kv_caches(m in mutation(), reseal in any::<bool>()) {
        let f = fixture();
        let bytes = mutated(&f.state, &m, reseal);
        let decoded = KvState::from_bytes(&f.params, f.plan.module(), &bytes);
        if !reseal && bytes != f.state {
            prop_assert!(decoded.is_err(), "{m:?} passed the checksum");
        }
    }

    /// Mutated protobuf step requests at a server whose next step is position 1: refused, or (if
    /// the edit left a valid request for position 1) run.
    #[test]
    fn step_requests(m in mutation()) {
        let f = fixture();
        let mut bytes = f.request.encode_to_vec();
        m.apply(&mut bytes);
        let mut server = f.server.lock().unwrap();
        if server.step(&bytes).is_ok() {
            // A valid request: the session moved on; put it back where the test expects it.
            server.restore_state(&f.state).unwrap();
        }
        prop_assert_eq!(server.position(), 1);
    }

    #[test]
    fn step_replies(m in mutation()) {
        let f = fixture();
        let mut bytes = f.reply.clone();
        m.apply(&mut bytes);
        if let Ok(reply) = StepReply::decode(&bytes[..]) {
            // Decrypting what decoded: a value or a typed error.
            let _ = f.client.lock().unwrap().read_reply(&f.plan.client_io(), reply);
        }
    }
}

/// After the mutated requests, the server's next good step still gives the interpreter's outputs.
#[test]
fn the_server_runs_good_steps_after_bad_ones() {
    let f = fixture();
    let mut server = f.server.lock().unwrap();
    for bad in [
        &[0xff_u8, 0xff, 0xff][..],
        &[],
        &f.request.encode_to_vec()[..7],
    ] {
        assert!(server.step(bad).is_err());
    }
    let interp = Interpreter::new(f.plan.module(), f.plan.weights()).unwrap();
    let mut clear = ClearKvState::default();
    interp.run(&input(0), &mut clear).unwrap();
    let want = interp.run(&input(1), &mut clear).unwrap();
    let reply = server.run_step(&f.request).unwrap();
    server.restore_state(&f.state).unwrap();
    let client = f.client.lock().unwrap();
    let got = client
        .read_reply(&f.plan.client_io(), reply)
        .unwrap()
        .values;
    for (name, w) in &want {
        let err = got[name]
            .iter()
            .zip(w)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 2f64.powi(-14), "{name}: {err:e}");
    }
}
