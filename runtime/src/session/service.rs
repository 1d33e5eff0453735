//! The network server (`cachemir-run serve`): the gRPC service `Inference` of `docs/protocol.proto`
//! over many plans and many sessions at once.
//!
//! Each session is a [`Server`] (the client's evaluation keys, its encrypted KV cache) behind an
//! unguessable 128-bit id. Admission is by memory: a session's bytes are estimated when its upload
//! begins ([`memory::session_bytes`]) and reserved against `--max-memory`, together with the
//! plans' shared bootstrapping circuits; a session that would not fit is refused up front with
//! `RESOURCE_EXHAUSTED`. Sessions end when closed, after `idle_timeout` without a call, or with the
//! process. With a state directory, a session's keys and its KV cache after every step are written
//! there, so a restarted server resumes it on its next call. The server never holds a secret key:
//! nothing it receives can carry one.

use super::memory;
use super::protocol::inference_server::{Inference, InferenceServer};
use super::protocol::{
    plan_fingerprint, BeginUploadRequest, KeyChunk, ListPlansReply, ListPlansRequest, PlanInfo,
    SessionClosed, SessionOpened, SessionRef, StepReply, StepRequest, UploadStatus,
};
use super::{Server, SessionKeys};
use crate::ckks::Parameters;
use crate::executor::{bootstrappers, Bootstrappers};
use crate::{Result, RuntimeError};
use cachemir_ir::plan::Plan;
use cachemir_kernels::{CpuBackend, Sampler};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

/// Largest message either side accepts (a step's ciphertexts at the secure sets are tens of MB).
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// Largest upload of evaluation keys (`N16_BOOT`'s full bootstrapping keys are under 10 GB).
pub const MAX_KEY_BYTES: u64 = 64 << 30;

/// Size of one uploaded piece of the evaluation keys.
pub const KEY_CHUNK_BYTES: usize = 4 << 20;

/// How the server admits and keeps sessions.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Bytes the plans' circuits and all sessions together may hold.
    pub max_memory: u64,
    /// A session without a call for this long is closed.
    pub idle_timeout: Duration,
    /// Where sessions are saved for a restart (keys and KV cache; nothing secret), if anywhere.
    pub state_dir: Option<PathBuf>,
}

/// A server running on a thread of its own ([`InferenceService::serve_in_background`]); dropping it
/// stops the server and waits for it.
pub struct BackgroundServer {
    addr: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl BackgroundServer {
    /// The address it listens on (`host:port`).
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            // The server's own error, if any, has no one left to hear it.
            let _ = thread.join();
        }
    }
}

/// One plan the server runs.
struct Served {
    plan: &'static Plan,
    params: Arc<Parameters>,
    bootstrappers: Arc<Bootstrappers>,
    name: String,
}

enum Phase {
    /// Receiving the evaluation keys.
    Uploading {
        bytes: Vec<u8>,
        total: u64,
        crc32: u32,
    },
    /// Keys loaded: steps run.
    Ready(Box<Server<'static, CpuBackend>>),
}

struct Session {
    plan: u32,
    phase: Phase,
}

/// A session's entry in the table: what it reserved, when it was last called, and the session
/// (locked while a call works on it).
struct Entry {
    reserved: u64,
    last_call: Instant,
    session: Arc<tokio::sync::Mutex<Session>>,
}

/// The service's state, shared by every call.
struct Shared {
    plans: BTreeMap<u32, Served>,
    /// Bytes of the plans' bootstrapping circuits.
    fixed: u64,
    sessions: Mutex<HashMap<String, Entry>>,
    config: ServeConfig,
}

/// The `Inference` service.
#[derive(Clone)]
pub struct InferenceService {
    shared: Arc<Shared>,
}

fn gb(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

/// A gRPC status for a runtime error: bad client bytes are `INVALID_ARGUMENT`, the rest `INTERNAL`.
fn status(e: RuntimeError) -> Status {
    match e {
        RuntimeError::Decode { .. } | RuntimeError::Plan { .. } => {
            Status::invalid_argument(e.to_string())
        }
        _ => Status::internal(e.to_string()),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> RuntimeError {
    RuntimeError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a crash leaves the old or
/// the new contents.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))
}

/// A session id: 128 bits from the operating system's entropy, in hex.
fn new_session_id() -> String {
    Sampler::from_os().seed()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `id` has the form of a session id (so it can name a file).
fn is_session_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl InferenceService {
    /// A service for `plans`: encodes each plan's bootstrapping circuits (shared by its sessions)
    /// and refuses a budget they alone exceed.
    pub fn new(plans: Vec<Plan>, config: ServeConfig) -> Result<Self> {
        let mut served = BTreeMap::new();
        for plan in plans {
            let fingerprint = plan_fingerprint(&plan);
            let params = Arc::new(Parameters::new(plan.params().clone())?);
            let bootstrappers = Arc::new(bootstrappers(plan.module(), &params, CpuBackend)?);
            // Plans live as long as the process: sessions borrow them.
            let plan: &'static Plan = Box::leak(Box::new(plan));
            served.insert(
                fingerprint,
                Served {
                    name: cachemir_ir::params::named_sets()
                        .into_iter()
                        .find(|(_, literal)| literal == plan.params())
                        .map_or_else(|| "custom".into(), |(name, _)| name.to_string()),
                    plan,
                    params,
                    bootstrappers,
                },
            );
        }
        let fixed = served
            .values()
            .map(|s| memory::circuit_bytes(&s.bootstrappers))
            .sum();
        if fixed > config.max_memory {
            return Err(RuntimeError::Plan {
                reason: format!(
                    "the plans' bootstrapping circuits take {} and --max-memory is {}",
                    gb(fixed),
                    gb(config.max_memory)
                ),
            });
        }
        if let Some(dir) = &config.state_dir {
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        }
        Ok(Self {
            shared: Arc::new(Shared {
                plans: served,
                fixed,
                sessions: Mutex::new(HashMap::new()),
                config,
            }),
        })
    }

    /// Serves on `listener` until `shutdown` completes, closing idle sessions as it goes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        let sweeper = tokio::spawn(self.clone().sweep_idle());
        let service = InferenceServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let served = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                shutdown,
            )
            .await;
        sweeper.abort();
        served.map_err(|e| RuntimeError::Network {
            what: "server".into(),
            reason: e.to_string(),
        })
    }

    /// Serves on `addr` (e.g. `127.0.0.1:0`) from a thread of its own until the returned handle is
    /// dropped: for tests and for embedding a server in another program.
    pub fn serve_in_background(self, addr: &str) -> Result<BackgroundServer> {
        let network = |e: std::io::Error| RuntimeError::Network {
            what: format!("listening on {addr}"),
            reason: e.to_string(),
        };
        let runtime = tokio::runtime::Runtime::new().map_err(network)?;
        let listener = runtime.block_on(TcpListener::bind(addr)).map_err(network)?;
        let local = listener.local_addr().map_err(network)?.to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(self.serve(listener, async {
                // A dropped sender stops the server as a sent signal does.
                let _ = stopped.await;
            }))
        });
        Ok(BackgroundServer {
            addr: local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Closes the sessions idle for longer than the timeout (a session inside a call is not idle).
    async fn sweep_idle(self) {
        let timeout = self.shared.config.idle_timeout;
        let mut tick = tokio::time::interval(
            (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5)),
        );
        loop {
            tick.tick().await;
            let expired: Vec<String> = {
                let sessions = self.shared.sessions.lock().expect("session table");
                sessions
                    .iter()
                    .filter(|(_, e)| {
                        e.last_call.elapsed() > timeout && e.session.try_lock().is_ok()
                    })
                    .map(|(id, _)| id.clone())
                    .collect()
            };
            for id in expired {
                self.remove(&id);
            }
        }
    }

    fn served(&self, fingerprint: u32) -> std::result::Result<&Served, Status> {
        self.shared.plans.get(&fingerprint).ok_or_else(|| {
            Status::not_found(format!(
                "this server runs no plan with fingerprint {fingerprint:#010x}"
            ))
        })
    }

    /// Reserves `need` bytes for a new session `id`, or refuses; a session already under that id
    /// (loaded by a concurrent call) is kept.
    fn admit(
        &self,
        id: &str,
        plan: u32,
        need: u64,
        phase: Phase,
    ) -> std::result::Result<Arc<tokio::sync::Mutex<Session>>, Status> {
        let mut sessions = self.shared.sessions.lock().expect("session table");
        if let Some(existing) = sessions.get(id) {
            return Ok(existing.session.clone());
        }
        let committed = self.shared.fixed + sessions.values().map(|e| e.reserved).sum::<u64>();
        let budget = self.shared.config.max_memory;
        if committed.saturating_add(need) > budget {
            return Err(Status::resource_exhausted(format!(
                "the server's memory budget of {} cannot take this session's {}: {} of it are committed to {} sessions and the plans' circuits; try again later",
                gb(budget),
                gb(need),
                gb(committed),
                sessions.len()
            )));
        }
        let session = Arc::new(tokio::sync::Mutex::new(Session { plan, phase }));
        sessions.insert(
            id.to_string(),
            Entry {
                reserved: need,
                last_call: Instant::now(),
                session: session.clone(),
            },
        );
        Ok(session)
    }

    /// The session `id`, its last call set to now; a session saved in the state directory by an
    /// earlier run of the server is loaded first.
    async fn session(
        &self,
        id: &str,
    ) -> std::result::Result<tokio::sync::OwnedMutexGuard<Session>, Status> {
        let found = {
            let mut sessions = self.shared.sessions.lock().expect("session table");
            sessions.get_mut(id).map(|e| {
                e.last_call = Instant::now();
                e.session.clone()
            })
        };
        let session = match found {
            Some(s) => s,
            None => self.load_saved(id).await?,
        };
        let guard = session.lock_owned().await;
        // Closed while this call waited.
        if !self
            .shared
            .sessions
            .lock()
            .expect("session table")
            .contains_key(id)
        {
            return Err(unknown_session(id));
        }
        Ok(guard)
    }

    /// Drops session `id` from the table (its reservation with it).
    fn forget(&self, id: &str) {
        self.shared
            .sessions
            .lock()
            .expect("session table")
            .remove(id);
    }

    /// Ends session `id`: forgotten, and its saved files deleted.
    fn remove(&self, id: &str) {
        self.forget(id);
        if let Some(dir) = &self.shared.config.state_dir {
            for ext in ["keys", "kv", "tmp"] {
                // Absent files are fine: the session may never have opened.
                let _ = std::fs::remove_file(dir.join(format!("{id}.{ext}")));
            }
        }
    }

    fn saved_path(&self, id: &str, ext: &str) -> Option<PathBuf> {
        let dir = self.shared.config.state_dir.as_ref()?;
        is_session_id(id).then(|| dir.join(format!("{id}.{ext}")))
    }

    /// Loads session `id` from the state directory (its keys, then its KV cache if a step ran),
    /// its memory reserved first.
    async fn load_saved(
        &self,
        id: &str,
    ) -> std::result::Result<Arc<tokio::sync::Mutex<Session>>, Status> {
        let keys_path = self
            .saved_path(id, "keys")
            .filter(|p| p.exists())
            .ok_or_else(|| unknown_session(id))?;
        let damaged =
            |reason: String| Status::data_loss(format!("the saved session {id}: {reason}"));
        let (fingerprint, key_bytes) = saved_keys_head(&keys_path).map_err(damaged)?;
        let served = self.served(fingerprint)?;
        let need = memory::session_bytes(served.plan.module(), &served.params, key_bytes);
        let placeholder = Phase::Uploading {
            bytes: Vec::new(),
            total: key_bytes,
            crc32: 0,
        };
        let session = self.admit(id, fingerprint, need, placeholder)?;
        let mut guard = session.clone().lock_owned().await;
        if matches!(guard.phase, Phase::Ready(_)) {
            // A concurrent call loaded it.
            return Ok(session);
        }
        let kv = self.saved_path(id, "kv").filter(|p| p.exists());
        let (plan, params, circuits) = (
            served.plan,
            served.params.clone(),
            served.bootstrappers.clone(),
        );
        let loaded = tokio::task::spawn_blocking(move || -> Result<_> {
            let file = std::fs::read(&keys_path).map_err(|e| io_error(&keys_path, e))?;
            let keys = decode_saved_keys(file).map_err(|reason| RuntimeError::Decode {
                what: "saved session keys",
                reason,
            })?;
            let mut server = Server::open_shared(plan, params, &keys, circuits, CpuBackend)?;
            if let Some(kv) = kv {
                let state = std::fs::read(&kv).map_err(|e| io_error(&kv, e))?;
                server.restore_state(&state)?;
            }
            Ok(server)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
        match loaded {
            Ok(server) => {
                guard.phase = Phase::Ready(Box::new(server));
                Ok(session)
            }
            Err(e) => {
                // Forgotten before the lock is released, so waiting calls find no session.
                self.forget(id);
                Err(damaged(e.to_string()))
            }
        }
    }
}

/// The plan fingerprint and key size of a saved session's keys file, from its head and length.
fn saved_keys_head(path: &Path) -> std::result::Result<(u32, u64), String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut head = [0u8; 4];
    file.read_exact(&mut head)
        .map_err(|_| "the keys file is shorter than its header".to_string())?;
    Ok((u32::from_le_bytes(head), len - 4))
}

fn unknown_session(id: &str) -> Status {
    Status::not_found(format!("no session {id:?} on this server"))
}

/// A saved session's keys file: the plan fingerprint (u32, little-endian), then the key bytes.
fn encode_saved_keys(keys: &SessionKeys) -> Vec<u8> {
    let mut out = keys.plan_fingerprint.to_le_bytes().to_vec();
    out.extend_from_slice(&keys.evaluation_keys);
    out
}

fn decode_saved_keys(file: Vec<u8>) -> std::result::Result<SessionKeys, String> {
    let file = bytes::Bytes::from(file);
    let head = file
        .first_chunk::<4>()
        .ok_or("the keys file is shorter than its header")?;
    Ok(SessionKeys {
        plan_fingerprint: u32::from_le_bytes(*head),
        evaluation_keys: file.slice(4..),
    })
}

fn upload_status(id: &str, session: &Session, reserved: u64) -> UploadStatus {
    let (received, total) = match &session.phase {
        Phase::Uploading { bytes, total, .. } => (bytes.len() as u64, *total),
        Phase::Ready(_) => (0, 0),
    };
    UploadStatus {
        session_id: id.to_string(),
        received_bytes: received,
        total_bytes: total,
        reserved_memory_bytes: reserved,
    }
}

#[tonic::async_trait]
impl Inference for InferenceService {
    async fn list_plans(
        &self,
        _: Request<ListPlansRequest>,
    ) -> std::result::Result<Response<ListPlansReply>, Status> {
        let plans = self
            .shared
            .plans
            .iter()
            .map(|(&plan_fingerprint, s)| PlanInfo {
                plan_fingerprint,
                params: s.name.clone(),
                max_context: s
                    .plan
                    .module()
                    .kv_caches
                    .values()
                    .map(|c| c.chunks * c.tokens_per_chunk)
                    .min()
                    .unwrap_or(0),
            })
            .collect();
        Ok(Response::new(ListPlansReply { plans }))
    }

    async fn begin_upload(
        &self,
        request: Request<BeginUploadRequest>,
    ) -> std::result::Result<Response<UploadStatus>, Status> {
        let r = request.into_inner();
        let served = self.served(r.plan_fingerprint)?;
        if r.total_bytes == 0 || r.total_bytes > MAX_KEY_BYTES {
            return Err(Status::invalid_argument(format!(
                "an upload of {} key bytes (this server takes 1 to {MAX_KEY_BYTES})",
                r.total_bytes
            )));
        }
        let need = memory::session_bytes(served.plan.module(), &served.params, r.total_bytes);
        let id = new_session_id();
        let phase = Phase::Uploading {
            bytes: Vec::new(),
            total: r.total_bytes,
            crc32: r.crc32,
        };
        self.admit(&id, r.plan_fingerprint, need, phase)?;
        Ok(Response::new(UploadStatus {
            session_id: id,
            received_bytes: 0,
            total_bytes: r.total_bytes,
            reserved_memory_bytes: need,
        }))
    }

    async fn upload_keys(
        &self,
        request: Request<Streaming<KeyChunk>>,
    ) -> std::result::Result<Response<UploadStatus>, Status> {
        let mut stream = request.into_inner();
        let mut last = None;
        while let Some(chunk) = stream.next().await {
            // A broken stream keeps what arrived; the client resumes from GetUploadStatus.
            let chunk = chunk?;
            let mut session = self.session(&chunk.session_id).await?;
            let Phase::Uploading { bytes, total, .. } = &mut session.phase else {
                return Err(Status::failed_precondition(format!(
                    "session {} already has its keys",
                    chunk.session_id
                )));
            };
            if chunk.offset != bytes.len() as u64 {
                return Err(Status::failed_precondition(format!(
                    "a key chunk at offset {} but {} bytes have arrived",
                    chunk.offset,
                    bytes.len()
                )));
            }
            if bytes.len() as u64 + chunk.data.len() as u64 > *total {
                return Err(Status::invalid_argument(format!(
                    "key chunks beyond the announced {total} bytes"
                )));
            }
            if bytes.is_empty() {
                bytes.reserve_exact(*total as usize);
            }
            bytes.extend_from_slice(&chunk.data);
            last = Some(chunk.session_id);
        }
        let id = last.ok_or_else(|| Status::invalid_argument("an upload stream without chunks"))?;
        self.status_of(&id).await.map(Response::new)
    }

    async fn get_upload_status(
        &self,
        request: Request<SessionRef>,
    ) -> std::result::Result<Response<UploadStatus>, Status> {
        self.status_of(&request.into_inner().session_id)
            .await
            .map(Response::new)
    }

    async fn open_session(
        &self,
        request: Request<SessionRef>,
    ) -> std::result::Result<Response<SessionOpened>, Status> {
        let id = request.into_inner().session_id;
        let mut session = self.session(&id).await?;
        let plan_of_session = session.plan;
        let (bytes, total, crc32) = match &mut session.phase {
            Phase::Uploading {
                bytes,
                total,
                crc32,
            } => (bytes, *total, *crc32),
            // Opened already (or resumed by a restarted server): say where it stands.
            Phase::Ready(server) => {
                return Ok(Response::new(SessionOpened {
                    session_id: id,
                    position: server.position(),
                    setup_millis: 0.0,
                }))
            }
        };
        if bytes.len() as u64 != total {
            return Err(Status::failed_precondition(format!(
                "the keys are incomplete: {} of {total} bytes have arrived",
                bytes.len()
            )));
        }
        if crc32fast::hash(bytes) != crc32 {
            bytes.clear();
            return Err(Status::data_loss(
                "the keys' CRC-32 differs from the announced one; upload them again",
            ));
        }
        let keys = SessionKeys {
            plan_fingerprint: plan_of_session,
            evaluation_keys: std::mem::take(bytes).into(),
        };
        let served = self.served(session.plan)?;
        let (plan, params, circuits) = (
            served.plan,
            served.params.clone(),
            served.bootstrappers.clone(),
        );
        let keys_path = self.saved_path(&id, "keys");
        let start = Instant::now();
        let opened = tokio::task::spawn_blocking(move || {
            let opened = Server::open_shared(plan, params, &keys, circuits, CpuBackend);
            if let (Ok(_), Some(path)) = (&opened, keys_path) {
                write_atomically(&path, &encode_saved_keys(&keys))?;
            }
            opened
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
        // Bad keys reset the upload: the session stays, waiting for good ones.
        let server = opened.map_err(status)?;
        session.phase = Phase::Ready(Box::new(server));
        Ok(Response::new(SessionOpened {
            session_id: id,
            position: 0,
            setup_millis: start.elapsed().as_secs_f64() * 1e3,
        }))
    }

    async fn step(
        &self,
        request: Request<StepRequest>,
    ) -> std::result::Result<Response<StepReply>, Status> {
        let request = request.into_inner();
        let id = request.session_id.clone();
        let mut session = self.session(&id).await?;
        let Phase::Ready(server) = &session.phase else {
            return Err(Status::failed_precondition(format!(
                "session {id} has no keys yet: finish the upload and open it"
            )));
        };
        if request.position != server.position() {
            return Err(Status::failed_precondition(format!(
                "a step for position {} but the session's KV cache holds {} tokens",
                request.position,
                server.position()
            )));
        }
        let kv_path = self.saved_path(&id, "kv");
        let reply = tokio::task::spawn_blocking(move || {
            let Phase::Ready(server) = &mut session.phase else {
                unreachable!("checked above, under the same lock")
            };
            let reply = server.run_step(&request)?;
            if let Some(path) = kv_path {
                write_atomically(&path, &server.save_state())?;
            }
            Ok(reply)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(status)?;
        Ok(Response::new(reply))
    }

    async fn close_session(
        &self,
        request: Request<SessionRef>,
    ) -> std::result::Result<Response<SessionClosed>, Status> {
        let id = request.into_inner().session_id;
        // Wait for a running call to finish before the session goes.
        let _session = self.session(&id).await?;
        self.remove(&id);
        Ok(Response::new(SessionClosed {}))
    }
}

impl InferenceService {
    async fn status_of(&self, id: &str) -> std::result::Result<UploadStatus, Status> {
        let session = self.session(id).await?;
        let reserved = self
            .shared
            .sessions
            .lock()
            .expect("session table")
            .get(id)
            .map_or(0, |e| e.reserved);
        Ok(upload_status(id, &session, reserved))
    }
}
