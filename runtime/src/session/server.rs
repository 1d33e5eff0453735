//! The server side of a session: the plan, the client's evaluation keys, and the encrypted KV cache.
//! It never holds a secret key: every type it touches is public or encrypted.

use super::protocol::{plan_fingerprint, StepReply, StepRequest, StepStats};
use super::SessionKeys;
use crate::ckks::{Ciphertext, EvaluationKeys, Evaluator, Parameters};
use crate::executor::{bootstrappers, Bootstrappers, Executor, KvState};
use crate::{Result, RuntimeError};
use cachemir_ir::plan::{ClientIo, Plan};
use cachemir_kernels::Backend;
use prost::Message;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One client's session on the server.
pub struct Server<'p, B: Backend + Clone> {
    executor: Executor<'p, B>,
    io: ClientIo,
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
    /// Opens a session from the client's [`SessionKeys`]: checks the plan fingerprint, loads the
    /// evaluation keys under the plan's parameters and encodes the plan's bootstrapping circuits.
    pub fn open(
        plan: &'p Plan,
        params: Arc<Parameters>,
        keys: &SessionKeys,
        backend: B,
    ) -> Result<Self> {
        let shared = Arc::new(bootstrappers(plan.module(), &params, backend.clone())?);
        Self::open_shared(plan, params, keys, shared, backend)
    }

    /// As [`Self::open`], with the plan's bootstrapping circuits already encoded (shared by the
    /// sessions of one plan).
    pub fn open_shared(
        plan: &'p Plan,
        params: Arc<Parameters>,
        keys: &SessionKeys,
        bootstrappers: Arc<Bootstrappers>,
        backend: B,
    ) -> Result<Self> {
        let expected = plan_fingerprint(plan);
        if keys.plan_fingerprint != expected {
            return Err(RuntimeError::Plan {
                reason: format!(
                    "the client compiled against another plan (fingerprint {:#010x}, this plan {expected:#010x})",
                    keys.plan_fingerprint
                ),
            });
        }
        let keys = Arc::new(EvaluationKeys::from_bytes(&params, &keys.evaluation_keys)?);
        let eval = Evaluator::new(params, backend.clone(), keys);
        let executor = Executor::with_bootstrappers(
            plan.module(),
            plan.weights(),
            eval,
            backend,
            bootstrappers,
        )?;
        Ok(Self {
            executor,
            io: plan.client_io(),
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
        keys: &SessionKeys,
        saved_state: &[u8],
        backend: B,
    ) -> Result<Self> {
        let mut server = Self::open(plan, params, keys, backend)?;
        server.restore_state(saved_state)?;
        Ok(server)
    }

    /// Replaces the session's KV cache with one saved by [`Self::save_state`].
    pub fn restore_state(&mut self, saved_state: &[u8]) -> Result<()> {
        let state =
            KvState::from_bytes(self.executor.params(), self.executor.module(), saved_state)?;
        self.steps = state.tokens();
        self.state = state;
        Ok(())
    }

    /// Tokens in the session's KV cache: the position of the next step.
    pub fn position(&self) -> u32 {
        self.steps
    }

    /// The encrypted KV cache, saved for [`Self::resume`] (it reveals nothing: every chunk is a
    /// ciphertext).
    pub fn save_state(&self) -> Vec<u8> {
        self.state.to_bytes(self.executor.params())
    }

    /// Runs one step from [`StepRequest`] bytes and answers with [`StepReply`] bytes.
    pub fn step(&mut self, request: &[u8]) -> Result<Vec<u8>> {
        let msg = StepRequest::decode(request).map_err(|e| decode_error("step request", e))?;
        Ok(self.run_step(&msg)?.encode_to_vec())
    }

    /// Runs one decoded [`StepRequest`] (its session id is not looked at).
    pub fn run_step(&mut self, msg: &StepRequest) -> Result<StepReply> {
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
        self.check_inputs(&inputs)?;
        let result = self.executor.run(&inputs, &mut self.state)?;
        self.steps += 1;
        let s = &result.stats;
        let reply = StepReply {
            outputs: result
                .outputs
                .iter()
                .map(|(name, ct)| (name.clone(), ct.to_bytes(&params)))
                .collect(),
            stats: Some(StepStats {
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
        Ok(reply)
    }

    /// Refuses inputs that are not exactly the plan's, at their declared level, slots and scale:
    /// the step then never starts, so a bad request leaves the KV cache as it was.
    fn check_inputs(&self, inputs: &BTreeMap<String, Ciphertext>) -> Result<()> {
        let bad = |reason: String| RuntimeError::Decode {
            what: "step request",
            reason,
        };
        if let Some(extra) = inputs
            .keys()
            .find(|name| !self.io.inputs.iter().any(|d| &d.name == *name))
        {
            return Err(bad(format!("the plan has no input \"{extra}\"")));
        }
        for decl in &self.io.inputs {
            let ct = inputs
                .get(&decl.name)
                .ok_or_else(|| bad(format!("no ciphertext for input \"{}\"", decl.name)))?;
            let ty = &decl.ty;
            let scale_off = (ct.scale().log2() - ty.scale.0).abs() > 1e-3;
            if ct.level() != ty.level.0 as usize
                || ct.slots() != ty.slots.0 as usize
                || ct.degree() != 1
                || scale_off
            {
                return Err(bad(format!(
                    "input \"{}\" is a degree-{} ciphertext at level {}, {} slots, scale 2^{:.3}; the plan declares degree 1 at level {}, {} slots, scale 2^{}",
                    decl.name,
                    ct.degree(),
                    ct.level(),
                    ct.slots(),
                    ct.scale().log2(),
                    ty.level.0,
                    ty.slots.0,
                    ty.scale.0
                )));
            }
        }
        Ok(())
    }

    /// Heap bytes of the encrypted KV cache.
    pub fn kv_cache_bytes(&self) -> usize {
        self.state.byte_size()
    }
}
