//! The server side of a session: the plan, the client's evaluation keys, and the encrypted KV cache.
//! It never holds a secret key: every type it touches is public or encrypted.

use super::protocol::{plan_fingerprint, OpenSession, StepReply, StepRequest, StepStatsMessage};
use crate::ckks::{Ciphertext, EvaluationKeys, Evaluator, Parameters};
use crate::executor::{Executor, KvState};
use crate::{Result, RuntimeError};
use bytes::Bytes;
use cachemir_ir::plan::Plan;
use cachemir_kernels::Backend;
use prost::Message;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One client's session on the server.
pub struct Server<'p, B: Backend + Clone> {
    executor: Executor<'p, B>,
    state: KvState,
    steps: u32,
}

fn decode_error(what: &'static str, e: prost::DecodeError) -> RuntimeError {
    RuntimeError::Decode {
        what,
        reason: e.to_string(),
    }
}

impl<'p, B: Backend + Clone> Server<'p, B> {
    /// Opens a session from the client's [`OpenSession`] bytes: checks the plan fingerprint and loads
    /// the evaluation keys under the plan's parameters.
    pub fn open(
        plan: &'p Plan,
        params: Arc<Parameters>,
        open_session: Bytes,
        backend: B,
    ) -> Result<Self> {
        let msg =
            OpenSession::decode(open_session).map_err(|e| decode_error("session request", e))?;
        let expected = plan_fingerprint(plan);
        if msg.plan_fingerprint != expected {
            return Err(RuntimeError::Plan {
                reason: format!(
                    "the client compiled against another plan (fingerprint {:#010x}, this plan {expected:#010x})",
                    msg.plan_fingerprint
                ),
            });
        }
        let keys = Arc::new(EvaluationKeys::from_bytes(&params, &msg.evaluation_keys)?);
        let eval = Evaluator::new(params, backend.clone(), keys);
        let executor = Executor::new(plan.module(), plan.weights(), eval, backend)?;
        Ok(Self {
            executor,
            state: KvState::default(),
            steps: 0,
        })
    }

    /// Opens a session as [`Self::open`] and resumes it from a KV-cache state saved by
    /// [`Self::save_state`]: the next step is the position after the saved tokens. A corrupted,
    /// truncated or foreign state is an error.
    pub fn resume(
        plan: &'p Plan,
        params: Arc<Parameters>,
        open_session: Bytes,
        saved_state: &[u8],
        backend: B,
    ) -> Result<Self> {
        let state = KvState::from_bytes(&params, plan.module(), saved_state)?;
        let mut server = Self::open(plan, params, open_session, backend)?;
        server.steps = state.tokens();
        server.state = state;
        Ok(server)
    }

    /// The encrypted KV cache, saved for [`Self::resume`] (it reveals nothing: every chunk is a
    /// ciphertext).
    pub fn save_state(&self) -> Vec<u8> {
        self.state.to_bytes(self.executor.params())
    }

    /// Runs one step from [`StepRequest`] bytes and answers with [`StepReply`] bytes.
    pub fn step(&mut self, request: &[u8]) -> Result<Vec<u8>> {
        let msg = StepRequest::decode(request).map_err(|e| decode_error("step request", e))?;
        if msg.position != self.steps {
            return Err(RuntimeError::Plan {
                reason: format!(
                    "step for position {} but the server's KV cache holds {} tokens",
                    msg.position, self.steps
                ),
            });
        }
        let params = self.executor.params().clone();
        let inputs = msg
            .inputs
            .iter()
            .map(|(name, bytes)| Ok((name.clone(), Ciphertext::from_bytes(&params, bytes)?)))
            .collect::<Result<BTreeMap<_, _>>>()?;
        let result = self.executor.run(&inputs, &mut self.state)?;
        self.steps += 1;
        let s = &result.stats;
        let reply = StepReply {
            outputs: result
                .outputs
                .iter()
                .map(|(name, ct)| (name.clone(), ct.to_bytes(&params)))
                .collect(),
            stats: Some(StepStatsMessage {
                millis: s.millis,
                bootstraps: s.bootstraps,
                rotations: s.rotations,
                key_switches: s.key_switches,
                op_millis: s
                    .op_millis
                    .iter()
                    .map(|(kind, ms)| (kind.to_string(), *ms))
                    .collect(),
            }),
        };
        Ok(reply.encode_to_vec())
    }

    /// Heap bytes of the encrypted KV cache.
    pub fn kv_cache_bytes(&self) -> usize {
        self.state.byte_size()
    }
}
