//! [`NodeConfig`]: everything a node needs to start.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::web::WebConfig;

/// The WebRTC stack a node uses (see `quorate_mesh_transport::webrtc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stack {
    /// webrtc-rs' sans-IO core `rtc` (the default: faster transfers, less CPU).
    #[default]
    WebRtcRs,
    /// str0m (faster to connect; needs the `str0m` feature of this crate).
    Str0m,
}

impl Stack {
    /// Its name on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Stack::WebRtcRs => "webrtc-rs",
            Stack::Str0m => "str0m",
        }
    }
}

impl std::str::FromStr for Stack {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "webrtc-rs" => Ok(Stack::WebRtcRs),
            "str0m" => Ok(Stack::Str0m),
            other => Err(format!(
                "unknown WebRTC stack {other:?} (webrtc-rs or str0m)"
            )),
        }
    }
}

/// How to run a node.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeConfig {
    /// Data directory: `node.key`, `blocks.redb`, `control.sock`.
    pub data_dir: PathBuf,
    /// Rendezvous server for first contact (`ws://…`), if any.
    pub rendezvous: Option<String>,
    /// Room on the rendezvous server.
    pub room: String,
    /// Address the WebRTC UDP socket binds to.
    pub listen: SocketAddr,
    /// STUN servers (`stun:host:port`); none by default.
    pub ice_servers: Vec<String>,
    /// The WebRTC stack.
    pub stack: Stack,
    /// Peers this node dials on its own at most (it still accepts more).
    pub max_peers: usize,
    /// Cap on stored block bytes.
    pub store_max_bytes: u64,
    /// First wait before reconnecting to a lost rendezvous server (doubles up to 30 s).
    pub reconnect_delay: Duration,
    /// Invalid signaling payloads from one sender after which its signals are ignored.
    pub bad_signal_limit: u32,
    /// Serve the browser page, its wasm and `/config.json` (this node's id and
    /// rendezvous server) over HTTP; none by default. See [`crate::web`].
    pub web: Option<WebConfig>,
    /// How long the node holds the blocks of groups it is not a member of, as a blind
    /// store-and-forward cache for offline members (default 7 days).
    pub group_retention: Duration,
    /// Most bytes held per such group (default 64 MiB); beyond it blocks stay evictable.
    pub group_quota_bytes: u64,
    /// Where the external action `TRIGGER_X` POSTs when a group attests it
    /// (`http://127.0.0.1:PORT/PATH`); none by default (this node does not run it).
    pub trigger_url: Option<String>,
}

impl NodeConfig {
    /// Defaults for a node keeping its data in `data_dir`, bound to 127.0.0.1.
    #[must_use]
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        NodeConfig {
            data_dir: data_dir.into(),
            rendezvous: None,
            room: "quorate".to_owned(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ice_servers: Vec::new(),
            stack: Stack::default(),
            max_peers: 8,
            store_max_bytes: 1 << 30,
            reconnect_delay: Duration::from_secs(1),
            bad_signal_limit: 16,
            web: None,
            group_retention: Duration::from_secs(7 * 24 * 3600),
            group_quota_bytes: 64 * 1024 * 1024,
            trigger_url: None,
        }
    }
}
