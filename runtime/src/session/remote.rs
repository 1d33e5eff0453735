//! The network side of a [`super::Client`]: a session on a server reached over gRPC
//! (`cachemir-run PLAN --server ADDR`). The evaluation keys go up in chunks of
//! [`KEY_CHUNK_BYTES`]; a stream that breaks resumes from what the server has received.

use super::protocol::inference_client::InferenceClient;
use super::protocol::{BeginUploadRequest, KeyChunk, PlanInfo, SessionRef, StepReply, StepRequest};
use super::service::{KEY_CHUNK_BYTES, MAX_MESSAGE_BYTES};
use super::SessionKeys;
use crate::{Result, RuntimeError};
use tonic::transport::Channel;
use tonic::Code;

/// Upload attempts before giving up on a connection that keeps breaking.
const UPLOAD_ATTEMPTS: usize = 5;

/// A session on a remote server.
pub struct RemoteSession {
    rpc: InferenceClient<Channel>,
    id: String,
    /// Tokens in the session's KV cache when it was opened.
    position: u32,
}

fn network(what: impl Into<String>, status: tonic::Status) -> RuntimeError {
    RuntimeError::Network {
        what: what.into(),
        reason: format!("{:?}: {}", status.code(), status.message()),
    }
}

/// Connects to `addr` (`host:port` or `http://host:port`).
pub async fn connect(addr: &str) -> Result<InferenceClient<Channel>> {
    let url = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    let channel = Channel::from_shared(url.clone())
        .map_err(|e| RuntimeError::Network {
            what: format!("server address {addr:?}"),
            reason: e.to_string(),
        })?
        .connect()
        .await
        .map_err(|e| RuntimeError::Network {
            what: format!("connecting to {url}"),
            reason: e.to_string(),
        })?;
    Ok(InferenceClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

impl RemoteSession {
    /// Opens a session on the server at `addr`: announces the keys, uploads them (reporting
    /// `progress(sent, total)`) and waits for the server to load them.
    pub async fn open(
        addr: &str,
        keys: &SessionKeys,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<Self> {
        let mut rpc = connect(addr).await?;
        let total = keys.evaluation_keys.len() as u64;
        let status = rpc
            .begin_upload(BeginUploadRequest {
                plan_fingerprint: keys.plan_fingerprint,
                total_bytes: total,
                crc32: crc32fast::hash(&keys.evaluation_keys),
            })
            .await
            .map_err(|s| network("opening a session", s))?
            .into_inner();
        let id = status.session_id;
        let mut attempt = 0;
        loop {
            let received = rpc
                .get_upload_status(SessionRef {
                    session_id: id.clone(),
                })
                .await
                .map_err(|s| network("asking where the key upload stands", s))?
                .into_inner()
                .received_bytes;
            progress(received, total);
            if received == total {
                break;
            }
            let chunks = upload_chunks(id.clone(), keys.evaluation_keys.clone(), received);
            match rpc.upload_keys(tokio_stream::iter(chunks)).await {
                Ok(_) => {}
                Err(s) if retryable(&s) && attempt + 1 < UPLOAD_ATTEMPTS => attempt += 1,
                Err(s) => return Err(network("uploading the evaluation keys", s)),
            }
        }
        let opened = rpc
            .open_session(SessionRef {
                session_id: id.clone(),
            })
            .await
            .map_err(|s| network("loading the keys on the server", s))?
            .into_inner();
        Ok(Self {
            rpc,
            id,
            position: opened.position,
        })
    }

    /// Reattaches to session `id` on the server at `addr` (after the connection or the server
    /// restarted).
    pub async fn reattach(addr: &str, id: &str) -> Result<Self> {
        let mut rpc = connect(addr).await?;
        let opened = rpc
            .open_session(SessionRef {
                session_id: id.to_string(),
            })
            .await
            .map_err(|s| network(format!("reattaching to session {id}"), s))?
            .into_inner();
        Ok(Self {
            rpc,
            id: id.to_string(),
            position: opened.position,
        })
    }

    /// The plans the server at `addr` runs.
    pub async fn plans(addr: &str) -> Result<Vec<PlanInfo>> {
        let reply = connect(addr)
            .await?
            .list_plans(super::protocol::ListPlansRequest {})
            .await
            .map_err(|s| network("listing the server's plans", s))?;
        Ok(reply.into_inner().plans)
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Tokens the server's KV cache held when the session was opened or reattached.
    pub fn position(&self) -> u32 {
        self.position
    }

    /// Runs one step (the request's session id is set here).
    pub async fn step(&mut self, mut request: StepRequest) -> Result<StepReply> {
        request.session_id = self.id.clone();
        let position = request.position;
        let reply = self
            .rpc
            .step(request)
            .await
            .map_err(|s| network(format!("step at position {position}"), s))?;
        Ok(reply.into_inner())
    }

    /// Ends the session on the server.
    pub async fn close(mut self) -> Result<()> {
        self.rpc
            .close_session(SessionRef {
                session_id: self.id.clone(),
            })
            .await
            .map_err(|s| network("closing the session", s))?;
        Ok(())
    }
}

/// Whether a failed upload stream is worth resuming (the connection broke; nothing was refused).
fn retryable(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::Aborted
    )
}

/// The key chunks from byte `from` on (slices of `bytes`, not copies).
fn upload_chunks(id: String, bytes: bytes::Bytes, from: u64) -> impl Iterator<Item = KeyChunk> {
    let start = (from as usize).min(bytes.len());
    (start..bytes.len())
        .step_by(KEY_CHUNK_BYTES)
        .map(move |offset| KeyChunk {
            session_id: id.clone(),
            offset: offset as u64,
            data: bytes.slice(offset..(offset + KEY_CHUNK_BYTES).min(bytes.len())),
        })
}
