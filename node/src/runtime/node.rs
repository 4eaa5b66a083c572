//! [`Node`]: the event loop that owns the clock, randomness, store, transport and the
//! rendezvous connection, and drives the mesh machine by its poll contract.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use quorate_mesh_blockstore::{RedbStore, StoreConfig, StoreError};
use quorate_mesh_proto::mesh::{self, ConnId, Mesh, NodeId, NodeKey};
use quorate_mesh_proto::{Cid, Instant};
use quorate_mesh_transport::Driver;
use quorate_mesh_transport::webrtc::{self, WebRtcTransport};
use rand_core::{OsRng, RngCore as _};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::actors::Actors;
use super::config::{NodeConfig, Stack};
use super::control::{FetchRecord, MisbehaviourRecord, Reply, socket_path};
use super::control_server::{self, Pending};
use super::keyfile::{self, KeyFileError};
use crate::rendezvous::{self, Client, ClientError};
use crate::web::{PageConfig, WebError, WebServer};

/// The block store's file name inside the data directory.
pub const STORE_FILE: &str = "blocks.redb";

/// Records kept for `status` (fetches, misbehaviours).
pub(crate) const LOG_CAP: usize = 64;

/// Senders of bad signals remembered at most.
pub(crate) const BAD_SENDERS_CAP: usize = 1024;

/// How long a sender of too many bad signals is ignored.
pub(crate) const IGNORE_FOR: Duration = Duration::from_secs(600);

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The node key.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The block store (locked by another node, corrupt…).
    #[error("block store {path}: {source}")]
    Store {
        /// The store file.
        path: PathBuf,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The WebRTC transport could not bind.
    #[error("WebRTC transport on {addr}: {source}")]
    Transport {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: webrtc::BindError,
    },
    /// This build lacks the requested stack.
    #[error("this build has no {0} stack (enable the crate feature of that name)")]
    StackMissing(&'static str),
    /// A bad ICE server URL.
    #[error("ICE server: {0}")]
    IceServer(String),
    /// The governance layer could not start (execution markers, trigger URL).
    #[error("governance: {0}")]
    Governance(String),
    /// The first contact with the rendezvous server failed.
    #[error("rendezvous server: {0}")]
    Rendezvous(#[from] ClientError),
    /// The control socket could not be bound.
    #[error("control socket {path}: {source}")]
    Control {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime failed.
    #[error("runtime: {0}")]
    Runtime(String),
    /// The web page could not be served (no wasm build, a port in use…).
    #[error(transparent)]
    Web(#[from] WebError),
}

/// What a started node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its id (from `DIR/node.key`).
    pub id: NodeId,
    /// Whether the key was created by this start.
    pub new_identity: bool,
    /// The WebRTC stack.
    pub stack: &'static str,
    /// The bound UDP address.
    pub udp: SocketAddr,
    /// The control socket.
    pub control: PathBuf,
    /// Where the web page is served, if it is ([`NodeConfig::web`]).
    pub web: Option<SocketAddr>,
}

/// A get waiting for its block.
pub(crate) type GetWaiter = oneshot::Sender<Reply>;

/// A manual-signaling request waiting for the transport's outgoing signals.
#[derive(Debug)]
pub(crate) struct ManualWaiter {
    pub(crate) peer: NodeId,
    pub(crate) reply: oneshot::Sender<Reply>,
    /// Set when the first signal is there; the reply goes once a short settle time has
    /// passed, so trickled candidates ride along.
    pub(crate) settle_at: Option<StdInstant>,
    pub(crate) deadline: StdInstant,
}

/// Bad signaling payloads from one sender.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BadSender {
    pub(crate) count: u32,
    pub(crate) ignored_until: Option<StdInstant>,
}

/// The rendezvous connection and its reconnection state.
#[derive(Debug, Default)]
pub(crate) struct Rendezvous {
    pub(crate) url: Option<String>,
    pub(crate) client: Option<Client>,
    /// Other members of the room.
    pub(crate) room: BTreeSet<NodeId>,
    pub(crate) retry_at: Option<StdInstant>,
    pub(crate) delay: Duration,
    pub(crate) connecting: Option<oneshot::Receiver<Result<Client, ClientError>>>,
}

/// A running node. Made by [`Node::start`], driven by [`Node::run`].
#[derive(Debug)]
pub struct Node {
    pub(crate) config: NodeConfig,
    pub(crate) info: NodeInfo,
    pub(crate) driver: Driver<WebRtcTransport, RedbStore>,
    pub(crate) start: StdInstant,
    pub(crate) notify: Arc<Notify>,
    pub(crate) requests: mpsc::Receiver<Pending>,
    pub(crate) control_task: JoinHandle<()>,
    pub(crate) web_task: Option<JoinHandle<()>>,
    pub(crate) rendezvous: Rendezvous,
    pub(crate) dialing: BTreeMap<NodeId, ConnId>,
    pub(crate) gets: BTreeMap<Cid, Vec<GetWaiter>>,
    pub(crate) manual: BTreeSet<NodeId>,
    pub(crate) manual_out: BTreeMap<NodeId, Vec<Vec<u8>>>,
    pub(crate) manual_waiters: Vec<ManualWaiter>,
    pub(crate) fetched: VecDeque<FetchRecord>,
    pub(crate) misbehaviour: VecDeque<MisbehaviourRecord>,
    pub(crate) bad_signals: BTreeMap<NodeId, BadSender>,
    pub(crate) actors: Actors,
    pub(crate) groups: super::groups::Governance,
    /// `quorate group invite` callers waiting for the outcome.
    pub(crate) invite_replies: BTreeMap<
        quorate_group_core::host::InviteTicket,
        tokio::sync::oneshot::Sender<super::control::Reply>,
    >,
}

fn bind_transport(config: &NodeConfig, key: NodeKey) -> Result<WebRtcTransport, NodeError> {
    let mut t = webrtc::Config::bind(config.listen);
    for url in &config.ice_servers {
        let server: webrtc::IceServer = url
            .parse()
            .map_err(|e| NodeError::IceServer(format!("{url:?}: {e}")))?;
        t.ice_servers.push(server);
    }
    t.connect_timeout = Duration::from_secs(20);
    let bound = match config.stack {
        Stack::WebRtcRs => webrtc::webrtc_rs::bind(key, t),
        #[cfg(feature = "str0m")]
        Stack::Str0m => webrtc::str0m::bind(key, t),
        #[cfg(not(feature = "str0m"))]
        Stack::Str0m => return Err(NodeError::StackMissing("str0m")),
    };
    bound.map_err(|source| NodeError::Transport {
        addr: config.listen,
        source,
    })
}

impl Node {
    /// Opens the data directory (key, store), binds the WebRTC socket and the control
    /// socket, and makes first contact with the rendezvous server if one is configured.
    /// Must be called inside a tokio runtime.
    ///
    /// With [`NodeConfig::web`], the web directory is checked and its address bound
    /// first, before the data directory is touched.
    ///
    /// # Errors
    /// [`NodeError`]: a web directory without the page or the wasm build, a corrupt key
    /// file, a store that is locked by another node or corrupt, an address that cannot be
    /// bound, an unreachable rendezvous server.
    pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
        let web = match &config.web {
            Some(web) => Some(WebServer::bind(web.clone()).await?),
            None => None,
        };
        let (key, new_identity) = keyfile::load_or_create(&config.data_dir)?;
        let id = key.id();
        let store_path = config.data_dir.join(STORE_FILE);
        let store_config = StoreConfig::with_max_bytes(config.store_max_bytes);
        let store =
            RedbStore::open(&store_path, store_config).map_err(|source| NodeError::Store {
                path: store_path.clone(),
                source,
            })?;
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        let mesh_config = mesh::Config::new(key.clone(), seed);
        let transport = bind_transport(&config, key)?;
        let udp = transport.local_addr();
        let stack = transport.stack();
        let notify = transport.notify();
        let mut rendezvous = Rendezvous {
            url: config.rendezvous.clone(),
            delay: config.reconnect_delay,
            ..Rendezvous::default()
        };
        if let Some(url) = &config.rendezvous {
            rendezvous.client = Some(Client::connect(url, &config.room, id).await?);
            tracing::info!(%url, room = %config.room, "joined the rendezvous room");
        }
        let control = socket_path(&config.data_dir);
        let listener = control_server::bind(&control).map_err(|source| NodeError::Control {
            path: control.clone(),
            source,
        })?;
        let (tx, requests) = mpsc::channel(64);
        let control_task = control_server::spawn(listener, tx);
        let web_addr = web.as_ref().map(WebServer::local_addr);
        let web_task = web.map(|web| {
            let mut page = PageConfig::default();
            page.rendezvous.clone_from(&config.rendezvous);
            page.room = config.rendezvous.as_ref().map(|_| config.room.clone());
            page.node = Some(id.to_string());
            tokio::spawn(web.run(page, std::future::pending()))
        });
        let start = StdInstant::now();
        let mesh = Mesh::new(mesh_config, Instant::from_micros(0));
        tracing::info!(node = %id, %udp, stack, "node started");
        let actors = Actors::load(&config.data_dir);
        let groups = super::groups::host(&config, id).map_err(NodeError::Governance)?;
        let mut node = Node {
            info: NodeInfo {
                id,
                new_identity,
                stack,
                udp,
                control,
                web: web_addr,
            },
            config,
            driver: Driver::new(mesh, transport, store),
            start,
            notify,
            requests,
            control_task,
            web_task,
            rendezvous,
            dialing: BTreeMap::new(),
            gets: BTreeMap::new(),
            manual: BTreeSet::new(),
            manual_out: BTreeMap::new(),
            manual_waiters: Vec::new(),
            fetched: VecDeque::new(),
            misbehaviour: VecDeque::new(),
            bad_signals: BTreeMap::new(),
            actors,
            groups,
            invite_replies: BTreeMap::new(),
        };
        node.announce_stored_heads();
        Ok(node)
    }

    /// What this node is.
    #[must_use]
    pub fn info(&self) -> &NodeInfo {
        &self.info
    }

    /// The machine's clock: microseconds since the node started.
    pub(crate) fn now(&self) -> Instant {
        let micros = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        Instant::from_micros(micros)
    }

    /// Runs until `shutdown` completes, then closes everything in order: the control
    /// socket, the rendezvous connection, the peer connections, the store.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            self.step();
            let wake = self.next_wake();
            let notify = Arc::clone(&self.notify);
            let rendezvous_event = next_rendezvous_event(&mut self.rendezvous.client);
            let reconnected = reconnect_result(&mut self.rendezvous.connecting);
            let woke = tokio::select! {
                () = &mut shutdown => Woke::Shutdown,
                () = notify.notified() => Woke::Io,
                () = tokio::time::sleep_until(wake.into()) => Woke::Io,
                request = self.requests.recv() => Woke::Request(request),
                event = rendezvous_event => Woke::Rendezvous(event),
                result = reconnected => Woke::Reconnected(result),
            };
            match woke {
                Woke::Shutdown => break,
                Woke::Io | Woke::Request(None) => {}
                Woke::Request(Some(pending)) => self.on_request(pending),
                Woke::Rendezvous(event) => self.on_rendezvous(event),
                Woke::Reconnected(result) => self.on_reconnect(result),
            }
        }
        self.close().await;
    }

    /// When the loop must wake even if nothing happens: the machine's next timer, manual
    /// signaling deadlines, a rendezvous retry; at most a second away (housekeeping).
    fn next_wake(&self) -> StdInstant {
        let mut wake = StdInstant::now() + Duration::from_secs(1);
        if let Some(t) = self.driver.poll_timeout() {
            let at = self.start + Duration::from_micros(t.as_micros());
            wake = wake.min(at);
        }
        for w in &self.manual_waiters {
            wake = wake.min(w.settle_at.unwrap_or(w.deadline).min(w.deadline));
        }
        if let Some(at) = self.rendezvous.retry_at {
            wake = wake.min(at);
        }
        if let Some(t) = self.actors_next_wake() {
            wake = wake.min(self.start + Duration::from_micros(t.as_micros()));
        }
        for login in &self.actors.logins {
            wake = wake.min(login.deadline);
        }
        if let Some(t) = self.groups.poll_timeout() {
            wake = wake.min(self.start + Duration::from_micros(t.as_micros()));
        }
        wake
    }

    async fn close(mut self) {
        tracing::info!("shutting down");
        self.control_task.abort();
        if let Some(web) = &self.web_task {
            web.abort();
        }
        if let Err(e) = std::fs::remove_file(&self.info.control) {
            tracing::debug!("removing the control socket: {e}");
        }
        if let Some(client) = self.rendezvous.client.take() {
            client.close().await;
        }
        let (_mesh, transport, store) = self.driver.into_parts();
        drop(transport); // peers see their connections close
        drop(store); // every put was committed durably; this releases the file lock
        tracing::info!("stopped; store closed");
    }
}

/// Why the event loop woke.
enum Woke {
    Shutdown,
    Io,
    Request(Option<Pending>),
    Rendezvous(Option<rendezvous::Event>),
    Reconnected(Result<Client, ClientError>),
}

async fn next_rendezvous_event(client: &mut Option<Client>) -> Option<rendezvous::Event> {
    match client {
        Some(client) => client.next_event().await,
        None => std::future::pending().await,
    }
}

async fn reconnect_result(
    connecting: &mut Option<oneshot::Receiver<Result<Client, ClientError>>>,
) -> Result<Client, ClientError> {
    match connecting {
        Some(rx) => rx.await.unwrap_or(Err(ClientError::Closed)),
        None => std::future::pending().await,
    }
}
