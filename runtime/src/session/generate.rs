//! Encrypted greedy generation: a [`Client`] and a server, either a [`Server`] in this process,
//! spoken to in the session protocol's bytes exactly as over a network ([`generate`]), or a
//! remote one over gRPC ([`generate_remote`]). Either way the secret key stays with the client.
//!
//! Per fed token the client builds the step's inputs with the plan's client rule
//! ([`cachemir_ir::plan::client`]), encrypts them, the server runs the plan and updates the encrypted
//! KV cache, and the client decrypts the logits and picks the next token (greedy, first index on
//! ties). Like `cachemir reference`, the prompt and every generated token are fed, so there is one row
//! of logits per token: prompt length + `max_new_tokens` rows.

use super::protocol::{StepReply, StepRequest};
use super::remote::RemoteSession;
use super::{Client, KeyStore, Server, SessionKeys};
use crate::ckks::Parameters;
use crate::{Result, RuntimeError};
use cachemir_ir::plan::client::{argmax, logits, step_inputs};
use cachemir_ir::plan::Plan;
use cachemir_kernels::CpuBackend;
use prost::Message;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// What one fed token cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenReport {
    /// Position of the fed token (0 for the first prompt token).
    pub position: usize,
    /// The token fed at this position.
    pub token: u32,
    /// Wall time of the whole step (encrypt, execute, decrypt), milliseconds.
    pub millis: f64,
    /// Server-side execution time, milliseconds.
    pub server_millis: f64,
    /// Bootstraps the server ran.
    pub bootstraps: u32,
    /// Rotations.
    pub rotations: u32,
    /// Key switches (rotations, conjugations, relinearizations).
    pub key_switches: u32,
    /// Server-side wall time by op kind (mnemonic), milliseconds (empty when simulated).
    pub op_millis: BTreeMap<String, f64>,
}

/// The result of [`generate`], printed by `cachemir-run --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerationReport {
    /// The generated token ids (greedy).
    pub generated_ids: Vec<u32>,
    /// Decrypted logits, one row per fed token.
    pub logits: Vec<Vec<f64>>,
    /// Per fed token: time and counts.
    pub tokens: Vec<TokenReport>,
    /// Key generation on the client (or reading the keys from its key store), milliseconds.
    pub keygen_ms: f64,
    /// Whether the keys came from the client's key store.
    pub keys_from_store: bool,
    /// Bytes of the session-opening message (the evaluation keys, serialized) sent to the server.
    pub evaluation_key_bytes: usize,
    /// The server's session setup (loading the keys, encoding the plan's plaintexts and
    /// bootstrapping matrices), milliseconds.
    pub server_setup_ms: f64,
}

/// Progress of a generation, for a caller that draws it.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress<'a> {
    /// The client is generating the evaluation keys.
    Keygen,
    /// Bytes of the evaluation keys the remote server has received, of `total`.
    Upload {
        /// Received.
        sent: u64,
        /// All.
        total: u64,
    },
    /// The server is loading the keys and encoding the plan.
    ServerSetup,
    /// The keys are on the server; `steps` tokens will be fed.
    Started {
        /// Tokens to feed.
        steps: usize,
    },
    /// One token has been fed.
    Token(&'a TokenReport),
}

fn plan_error(e: cachemir_ir::IrError) -> RuntimeError {
    RuntimeError::Plan {
        reason: e.to_string(),
    }
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Generates `max_new_tokens` tokens after `prompt` with `plan`, everything encrypted under a fresh
/// key for the plan's parameters, the server in this process; a generated `stop_at` token (the end
/// of sequence) ends generation early, without being fed. `progress` hears each phase.
pub fn generate(
    plan: &Plan,
    prompt: &[u32],
    max_new_tokens: usize,
    stop_at: Option<u32>,
    progress: impl FnMut(Progress),
) -> Result<GenerationReport> {
    let params = Arc::new(Parameters::new(plan.params().clone())?);
    let (report, _) = run_session(
        plan,
        None,
        prompt,
        max_new_tokens,
        stop_at,
        progress,
        |keys, _| Server::open(plan, params.clone(), keys, CpuBackend),
    )?;
    Ok(report)
}

/// Where a session's steps go.
trait Transport {
    fn step(&mut self, request: StepRequest) -> Result<StepReply>;
}

/// The server in this process, through the protocol's bytes.
impl Transport for Server<'_, CpuBackend> {
    fn step(&mut self, request: StepRequest) -> Result<StepReply> {
        let reply = Server::step(self, &request.encode_to_vec())?;
        StepReply::decode(&reply[..]).map_err(|e| RuntimeError::Decode {
            what: "step reply",
            reason: e.to_string(),
        })
    }
}

/// A remote server, called from a blocking context.
struct Remote<'r> {
    runtime: &'r tokio::runtime::Runtime,
    session: RemoteSession,
}

impl Transport for Remote<'_> {
    fn step(&mut self, request: StepRequest) -> Result<StepReply> {
        self.runtime.block_on(self.session.step(request))
    }
}

/// As [`generate`], with the server at `addr` (`cachemir-run serve`): the keys (read from `store`
/// if it has them for this plan, else made and stored there) are uploaded, each step's ciphertexts
/// cross the network, and the session is closed at the end.
pub fn generate_remote(
    plan: &Plan,
    addr: &str,
    store: Option<&KeyStore>,
    prompt: &[u32],
    max_new_tokens: usize,
    stop_at: Option<u32>,
    progress: impl FnMut(Progress),
) -> Result<GenerationReport> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RuntimeError::Network {
            what: "the client's network runtime".into(),
            reason: e.to_string(),
        })?;
    let (report, session) = run_session(
        plan,
        store,
        prompt,
        max_new_tokens,
        stop_at,
        progress,
        |keys, progress| {
            let session = runtime.block_on(RemoteSession::open(addr, keys, |sent, total| {
                progress(Progress::Upload { sent, total })
            }))?;
            Ok(Remote {
                runtime: &runtime,
                session,
            })
        },
    )?;
    runtime.block_on(session.session.close())?;
    Ok(report)
}

/// The session both generations share: checks the prompt against the plan, makes the client's
/// keys (or reads them from `store`, and stores keys it makes there), opens the session with
/// `open(keys, progress)` (which returns the step transport) and runs the greedy loop through it.
fn run_session<T: Transport>(
    plan: &Plan,
    store: Option<&KeyStore>,
    prompt: &[u32],
    max_new_tokens: usize,
    stop_at: Option<u32>,
    mut progress: impl FnMut(Progress),
    open: impl FnOnce(&SessionKeys, &mut dyn FnMut(Progress)) -> Result<T>,
) -> Result<(GenerationReport, T)> {
    if prompt.is_empty() {
        return Err(RuntimeError::Plan {
            reason: "the prompt is empty".into(),
        });
    }
    let steps = prompt.len() + max_new_tokens;
    // Every prompt token and every position must have its table rows before keys are made.
    for position in 0..steps {
        let token = prompt[position.min(prompt.len() - 1)];
        step_inputs(plan.module(), plan.weights(), token, position).map_err(plan_error)?;
    }
    let params = Arc::new(Parameters::new(plan.params().clone())?);
    let io = plan.client_io();
    progress(Progress::Keygen);
    let start = Instant::now();
    let stored = match store {
        Some(store) => store.load(&params, plan)?,
        None => None,
    };
    let keys_from_store = stored.is_some();
    let (mut client, keys) = match stored {
        Some((secret, keys)) => (Client::with_secret_key(params, CpuBackend, secret), keys),
        None => {
            let client = Client::new(params.clone(), CpuBackend);
            let keys = client.open_session(plan)?;
            if let Some(store) = store {
                store.save(&params, client.secret_key(), &keys)?;
            }
            (client, keys)
        }
    };
    let keygen_ms = ms(start);
    let evaluation_key_bytes = keys.evaluation_keys.len();
    progress(Progress::ServerSetup);
    let start = Instant::now();
    let mut transport = open(&keys, &mut progress)?;
    drop(keys);
    let server_setup_ms = ms(start);

    progress(Progress::Started { steps });
    let report = greedy(prompt, steps, stop_at, &mut progress, |position, token| {
        let start = Instant::now();
        let inputs =
            step_inputs(plan.module(), plan.weights(), token, position).map_err(plan_error)?;
        let request = client.step_request(&io, position as u32, &inputs)?;
        let reply = client.read_reply(&io, transport.step(request)?)?;
        let stats = reply.stats.unwrap_or_default();
        let report = TokenReport {
            position,
            token,
            millis: ms(start),
            server_millis: stats.millis,
            bootstraps: stats.bootstraps,
            rotations: stats.rotations,
            key_switches: stats.key_switches,
            op_millis: stats.op_millis,
        };
        Ok((logits(&reply.values), report))
    })?;
    let report = GenerationReport {
        keygen_ms,
        keys_from_store,
        evaluation_key_bytes,
        server_setup_ms,
        ..report
    };
    Ok((report, transport))
}

/// The greedy loop of [`generate`] and [`super::simulate`]: feeds the prompt, then each arg max, for
/// `steps` tokens in all or until `stop_at` is generated (not fed). `step(position, token)` runs one
/// token and returns its logits and report. The report's key and setup fields are left at zero.
pub(super) fn greedy(
    prompt: &[u32],
    steps: usize,
    stop_at: Option<u32>,
    mut progress: impl FnMut(Progress),
    mut step: impl FnMut(usize, u32) -> Result<(Vec<f64>, TokenReport)>,
) -> Result<GenerationReport> {
    let (mut generated, mut rows, mut tokens) = (Vec::new(), Vec::new(), Vec::new());
    let mut next = prompt.first().copied().unwrap_or_default();
    for position in 0..steps {
        let token = if position < prompt.len() {
            prompt[position]
        } else {
            generated.push(next);
            if Some(next) == stop_at {
                break;
            }
            next
        };
        let (row, report) = step(position, token)?;
        next = argmax(&row);
        rows.push(row);
        tokens.push(report);
        progress(Progress::Token(&tokens[position]));
    }
    Ok(GenerationReport {
        generated_ids: generated,
        logits: rows,
        tokens,
        keygen_ms: 0.0,
        keys_from_store: false,
        evaluation_key_bytes: 0,
        server_setup_ms: 0.0,
    })
}
