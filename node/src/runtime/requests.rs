//! Answers to control-socket requests.

use std::time::{Duration, Instant as StdInstant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use quorate_mesh_blockstore::{BlockStore as _, PutOptions};
use quorate_mesh_proto::mesh::{Input, NodeId};
use quorate_mesh_proto::{Block, Cid, Codec, PinClass};
use quorate_mesh_transport::webrtc::signaling::{SignalBody, SignedSignal};

use super::control::{
    BadSignals, PeerStatus, RendezvousStatus, Reply, Request, Status, TransportStatus,
};
use super::control_server::Pending;
use super::node::{ManualWaiter, Node};

/// Most signals in one copy-paste blob.
const MAX_BLOB_PARTS: usize = 16;

/// A block's bytes for a reply.
pub(crate) fn encode_block(block: &Block) -> String {
    STANDARD.encode(block.bytes())
}

/// Signals as one copy-paste blob: URL-safe base64 parts joined by `.`.
pub(crate) fn encode_blob(signals: &[Vec<u8>]) -> String {
    signals
        .iter()
        .map(|s| URL_SAFE_NO_PAD.encode(s))
        .collect::<Vec<_>>()
        .join(".")
}

/// The parts of a copy-paste blob.
///
/// # Errors
/// A message for a part that is not base64 or too many parts.
pub(crate) fn decode_blob(blob: &str) -> Result<Vec<Vec<u8>>, String> {
    let parts: Vec<&str> = blob.trim().split('.').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() || parts.len() > MAX_BLOB_PARTS {
        return Err(format!("a signal blob has 1 to {MAX_BLOB_PARTS} parts"));
    }
    parts
        .into_iter()
        .map(|p| {
            URL_SAFE_NO_PAD
                .decode(p)
                .map_err(|e| format!("not a signal blob: {e}"))
        })
        .collect()
}

fn error(message: impl Into<String>) -> Reply {
    Reply::Error {
        message: message.into(),
    }
}

impl Node {
    pub(crate) fn on_request(&mut self, pending: Pending) {
        let Pending { request, reply } = pending;
        let answer = match request {
            Request::Status => Some(Reply::Status(Box::new(self.status()))),
            Request::Put { block, codec } => Some(self.put(&block, &codec)),
            Request::Get { cid, .. } => match cid.parse::<Cid>() {
                Err(e) => Some(error(format!("bad CID {cid:?}: {e}"))),
                Ok(cid) => match self.driver.store_mut().get(&cid) {
                    Ok(Some(block)) => Some(Reply::Block {
                        block: encode_block(&block),
                        from: None,
                    }),
                    Err(e) => Some(error(format!("block store: {e}"))),
                    Ok(None) => {
                        let now = self.now();
                        let want = Input::Want { cid, priority: 128 };
                        match self.driver.handle(now, want) {
                            Ok(()) => {
                                self.gets.entry(cid).or_default().push(reply);
                                return;
                            }
                            Err(e) => Some(error(format!("cannot fetch: {e}"))),
                        }
                    }
                },
            },
            Request::Dial { node } => match node.parse::<NodeId>() {
                Err(e) => Some(error(format!("bad node id {node:?}: {e}"))),
                Ok(node) => match self.driver.connect(node) {
                    Ok(conn) => {
                        self.dialing.insert(node, conn);
                        Some(Reply::Dialing { conn: conn.0 })
                    }
                    Err(e) => Some(error(format!("cannot dial: {e}"))),
                },
            },
            Request::Offer { to } => match to.parse::<NodeId>() {
                Err(e) => Some(error(format!("bad node id {to:?}: {e}"))),
                Ok(peer) => {
                    self.manual.insert(peer);
                    match self.driver.connect(peer) {
                        Ok(conn) => {
                            self.dialing.insert(peer, conn);
                            self.wait_for_signals(peer, reply);
                            return;
                        }
                        Err(e) => Some(error(format!("cannot dial: {e}"))),
                    }
                }
            },
            Request::Publish { blocks, heads } => Some(self.publish(&blocks, &heads)),
            Request::Login {
                handle,
                passphrase,
                timeout_ms,
            } => match self.start_login(&handle, &passphrase, timeout_ms) {
                Ok(login) => {
                    self.actors.logins.push(super::actors::PendingLogin {
                        login,
                        reply: Some(reply),
                        started: StdInstant::now(),
                        keys_at: None,
                        deadline: StdInstant::now() + Duration::from_millis(timeout_ms),
                    });
                    return;
                }
                Err(message) => Some(Reply::Error { message }),
            },
            Request::Group { secret, command } => {
                if let Some((reply, answer)) = self.on_group_command(&secret, command, reply) {
                    drop(reply.send(answer));
                }
                return;
            }
            Request::Accept { signal } => match self.accept(&signal) {
                Err(message) => Some(Reply::Error { message }),
                Ok(Some(peer)) => {
                    self.wait_for_signals(peer, reply);
                    return;
                }
                Ok(None) => Some(Reply::Signal {
                    signal: String::new(),
                }),
            },
        };
        if let Some(answer) = answer {
            drop(reply.send(answer));
        }
    }

    fn wait_for_signals(&mut self, peer: NodeId, reply: tokio::sync::oneshot::Sender<Reply>) {
        self.manual_waiters.push(ManualWaiter {
            peer,
            reply,
            settle_at: None,
            deadline: StdInstant::now() + Duration::from_secs(20),
        });
    }

    fn put(&mut self, block: &str, codec: &str) -> Reply {
        let bytes = match STANDARD.decode(block) {
            Ok(bytes) => bytes,
            Err(e) => return error(format!("block is not base64: {e}")),
        };
        let codec = match codec {
            "raw" => Codec::Raw,
            "dag-cbor" => Codec::DagCbor,
            other => return error(format!("unknown codec {other:?} (raw or dag-cbor)")),
        };
        let cid = Cid::of(codec, &bytes);
        let block = match Block::from_untrusted(&cid, bytes) {
            Ok(block) => block,
            Err(e) => return error(format!("not a block: {e}")),
        };
        if codec == Codec::DagCbor
            && let Err(e) = block.header()
        {
            return error(format!("not a Quorate DAG-CBOR block: {e}"));
        }
        match self
            .driver
            .store_mut()
            .put(&block, PutOptions::pinned(PinClass::User))
        {
            Ok(_) => {
                tracing::info!(%cid, bytes = block.len(), "stored");
                Reply::Put {
                    cid: cid.to_string(),
                }
            }
            Err(e) => error(format!("block store: {e}")),
        }
    }

    /// Stores blocks pinned by type and announces heads.
    fn publish(&mut self, blocks: &[String], heads: &[super::control::HeadSpec]) -> Reply {
        let mut batch = Vec::with_capacity(blocks.len());
        for text in blocks {
            let bytes = match STANDARD.decode(text) {
                Ok(bytes) => bytes,
                Err(e) => return error(format!("block is not base64: {e}")),
            };
            let cid = Cid::of(Codec::DagCbor, &bytes);
            let block = match Block::from_untrusted(&cid, bytes) {
                Ok(block) => block,
                Err(e) => return error(format!("not a block: {e}")),
            };
            let class = match block.header() {
                Ok(header) => quorate_actor_core::pin_class(&header.kind).unwrap_or(PinClass::User),
                Err(e) => return error(format!("not a Quorate DAG-CBOR block: {e}")),
            };
            batch.push((block, PutOptions::pinned(class)));
        }
        if let Err(e) = self.driver.store_mut().put_many(&batch) {
            return error(format!("block store: {e}"));
        }
        for spec in heads {
            let cid = match spec.cid.parse::<Cid>() {
                Ok(cid) => cid,
                Err(e) => return error(format!("bad head CID {:?}: {e}", spec.cid)),
            };
            let head = quorate_mesh_proto::mesh::Head {
                name: spec.name.clone(),
                seq: spec.seq,
                cid,
            };
            if let Err(e) = self.publish_head(head) {
                return error(format!("cannot announce {}: {e}", spec.name));
            }
        }
        tracing::info!(blocks = blocks.len(), heads = heads.len(), "published");
        Reply::Published
    }

    fn start_login(
        &mut self,
        handle: &str,
        passphrase: &str,
        timeout_ms: u64,
    ) -> Result<quorate_actor_core::sync::Login, String> {
        use quorate_actor_core::backup::{Locator, LocatorParams};
        if timeout_ms == 0 {
            return Err("the timeout must be positive".into());
        }
        // One Argon2id (~0.2 s): the loop pauses for it, once per log-in.
        let locator =
            Locator::derive(handle, passphrase, &LocatorParams::V1).map_err(|e| e.to_string())?;
        let now = self.now();
        Ok(quorate_actor_core::sync::Login::new(
            quorate_actor_core::sync::Config::default(),
            locator,
            now,
        ))
    }

    /// Takes a copy-paste blob; returns the peer to wait for an answer from, if the blob
    /// was an offer.
    fn accept(&mut self, blob: &str) -> Result<Option<NodeId>, String> {
        let mut answer_to = None;
        for part in decode_blob(blob)? {
            let (from, to) = SignedSignal::peek(&part).map_err(|e| format!("bad signal: {e}"))?;
            if to != self.info.id {
                return Err(format!(
                    "this signal is for node {to}, not this node ({})",
                    self.info.id
                ));
            }
            let message =
                SignedSignal::open(&part, from, to).map_err(|e| format!("bad signal: {e}"))?;
            self.manual.insert(from);
            self.driver
                .transport_mut()
                .handle_signal(from, &part)
                .map_err(|e| format!("bad signal: {e}"))?;
            if matches!(message.body, SignalBody::Offer(_)) {
                answer_to = Some(from);
            }
        }
        Ok(answer_to)
    }

    pub(crate) fn status(&self) -> Status {
        let mesh = self.driver.mesh();
        let stats = mesh.stats();
        let store = self.driver.store().stats();
        Status {
            node: self.info.id.to_string(),
            stack: self.info.stack.to_owned(),
            udp: self.info.udp.to_string(),
            web: self.info.web.map(|addr| format!("http://{addr}/")),
            rendezvous: self.rendezvous.url.as_ref().map(|url| RendezvousStatus {
                url: url.clone(),
                connected: self.rendezvous.client.is_some(),
                room_members: self.rendezvous.room.len(),
            }),
            peers: mesh
                .peers()
                .into_iter()
                .map(|(conn, node, score)| PeerStatus {
                    node: node.to_string(),
                    conn: conn.0,
                    score,
                })
                .collect(),
            dialing: self.dialing.keys().map(ToString::to_string).collect(),
            store_blocks: u64::try_from(store.blocks).unwrap_or(u64::MAX),
            store_bytes: store.bytes,
            frames_in: stats.frames_in,
            bytes_in: stats.bytes_in,
            bytes_out: stats.bytes_out,
            transport: {
                let t = self.driver.transport().stats();
                TransportStatus {
                    connections_opened: t.connections_opened,
                    frames_in: t.total.frames_received,
                    bytes_in: t.total.bytes_received,
                    frames_out: t.total.frames_sent,
                    bytes_out: t.total.bytes_sent,
                    server_reflexive: t.server_reflexive.iter().map(ToString::to_string).collect(),
                }
            },
            fetched: self.fetched.iter().cloned().collect(),
            misbehaviour: self.misbehaviour.iter().cloned().collect(),
            bad_signals: self
                .bad_signals
                .iter()
                .map(|(node, bad)| BadSignals {
                    node: node.to_string(),
                    count: bad.count,
                    ignored: bad.ignored_until.is_some(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_and_garbage_is_refused() {
        let parts = vec![vec![1, 2, 3], vec![0xff; 40]];
        assert_eq!(decode_blob(&encode_blob(&parts)).unwrap(), parts);
        assert!(decode_blob("").is_err());
        assert!(decode_blob("!!!").is_err());
        assert!(decode_blob(&vec!["AA"; MAX_BLOB_PARTS + 1].join(".")).is_err());
    }
}
