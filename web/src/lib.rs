//! # quorate-web
//!
//! Quorate in a browser tab: the same sans-IO cores as native nodes,
//! compiled to `wasm32-unknown-unknown` and driven by the page's event loop.
//!
//! Build with `scripts/build-web` (it installs what this machine lacks and explains
//! why the build uses Debian's Rust with `-Zbuild-std`).
//!
//! # Modules (wasm32 only)
//! - `WebNode` (`node`): the mesh machine in a tab — a `Driver` over the browser WebRTC
//!   transport and a block store (`WebNode.open`: IndexedDB, written behind after each
//!   step; `WebNode.create`: memory only), pumped by the page's event loop (a microtask
//!   whenever the browser reports something, a timer for the machine). It speaks the
//!   rendezvous server's WebSocket protocol (`joinRendezvous`), routes signals as native
//!   nodes do (copy-paste, else the server for room members, else the page or the mesh)
//!   and dials the peers it learns. Its JS API: open/create, join a room, dial, carry
//!   signals (`takeSignals`/`handleSignal`, or the native node's copy-paste blobs),
//!   `putText`/`putBytes`, `get` (a promise), `flush`, `info`, and the
//!   `RTCPeerConnection` of a peer for `getStats()`. See `web/www/app.js` and
//!   `web/e2e/mesh.mjs` for use. It can also hold one actor (`quorate-actor-core`):
//!   `createActor`, `loginActor` (log in anywhere with handle + passphrase: the key
//!   backup and the whole feed come back from peers), `unlockActor` after a reload,
//!   `post`/`postMany`, `actorInfo`, `latestPosts`, `forgetActor`; see
//!   `web/www/actor.js` and `web/e2e/actor.mjs`. And groups, through group-core's
//!   `GroupHost` (the native node's group layer too): `createGroup`, `inviteToGroup`,
//!   `groupInvitations`, `acceptInvitation`, `sendToGroup`, `groupMessages`,
//!   `removeFromGroup`, `leaveGroup`, `groups`; see `web/www/group.js` and
//!   `web/e2e/group.mjs`. And governance (attestation-core's `GovernanceHost`): `propose`,
//!   `vote`, `proposals`, `groupKey`, a committee — `callCommittee` (a FROST DKG among the
//!   members) or `setCommittee` (this tab's single key) — and `governanceLog`; for the
//!   page's mesh picture, `peers` says each peer's actor and its peers, `names` the
//!   display names learnt; see `web/e2e/demo.mjs`.
//! - `rtc`: `BrowserTransport`, the mesh `Transport` over `RTCPeerConnection` and one
//!   `RTCDataChannel` per peer, speaking the native adapters' signaling and framing
//!   (`quorate_mesh_transport::webrtc`), so tabs and native nodes connect either way.
//! - `idb`: `IdbStore`, a `BlockStore` kept in memory and persisted to IndexedDB in
//!   batched transactions; it passes the block stores' conformance suite in Chromium
//!   (`scripts/test-web`). All blocks stay in memory (bounded by `StoreConfig::max_bytes`)
//!   and changes are durable once `IdbStore::flush` resolves. `KvStore` keeps a few
//!   small records (the actor's keystore and heads) in a database of its own.
//!
//! They are compiled only for `target_arch = "wasm32"`, so the native workspace build and
//! tests do not see them.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
pub mod idb;
#[cfg(target_arch = "wasm32")]
mod node;
#[cfg(target_arch = "wasm32")]
pub mod rtc;

#[cfg(target_arch = "wasm32")]
pub use node::WebNode;

use quorate_mesh_proto::mesh::NodeKey;
use wasm_bindgen::prelude::wasm_bindgen;

/// A node identity made in the page from 32 random bytes (`crypto.getRandomValues`).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WebIdentity {
    key: NodeKey,
}

#[wasm_bindgen]
impl WebIdentity {
    /// An identity from a 32-byte secret; `None` for any other length.
    #[wasm_bindgen(js_name = fromSecret)]
    #[must_use]
    pub fn from_secret(secret: &[u8]) -> Option<WebIdentity> {
        let secret = <[u8; 32]>::try_from(secret).ok()?;
        Some(WebIdentity {
            key: NodeKey::from_secret(secret),
        })
    }

    /// The node id, as hex.
    #[wasm_bindgen(js_name = nodeId)]
    #[must_use]
    pub fn node_id(&self) -> String {
        self.key.id().to_string()
    }
}
