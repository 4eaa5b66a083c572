//! Native WebRTC transports: mesh frames over DataChannels, with signed signaling.
//!
//! Two adapters implement [`Transport`](crate::Transport) over real WebRTC, one per Rust stack, behind
//! features, with the same public handle [`WebRtcTransport`]:
//!
//! | feature | constructor | stack |
//! |---|---|---|
//! | `str0m` | [`str0m::bind`] | [str0m](https://crates.io/crates/str0m) 0.25, sans-IO |
//! | `webrtc-rs` | [`webrtc_rs::bind`] | webrtc-rs' sans-IO core [`rtc`](https://crates.io/crates/rtc) 0.21 |
//!
//! They interoperate (tests connect one to the other, both ways) and speak standard
//! WebRTC (both stacks have been seen to interoperate with Chromium, `shared/WEBRTC.md`), so
//! a browser tab can be the other end once it uses the same [`signaling`] and [`framing`].
//!
//! # Design
//! Both stacks are sans-IO: an engine per peer connection that takes datagrams and
//! timeouts and yields datagrams, events and a next timeout. Each [`WebRtcTransport`] owns
//!
//! - **one UDP socket** bound to [`Config::bind`] (`127.0.0.1:0` by default; nothing else is
//!   ever bound: no mDNS, no other interfaces), with enlarged kernel buffers
//!   ([`Config::socket_buffer`]); every peer connection shares it, and so do the
//!   requests to STUN servers. A STUN response to one of our gathering transactions
//!   (matched by its random 96-bit transaction id) is taken first; any other datagram
//!   goes to the connection that last took one from the same address, else to the first
//!   engine that claims it (str0m: `Rtc::accepts`; webrtc-rs: the ICE username fragment
//!   in a STUN request, or an address it has talked to); unclaimed datagrams are dropped;
//! - **one IO thread** named `quorate-webrtc`, running a current-thread tokio runtime that
//!   owns the socket, the clock (`std::time::Instant`) and the engines;
//! - a **synchronous handle** implementing [`Transport`](crate::Transport): calls post
//!   commands to the IO
//!   thread over a channel and never block; events and outgoing signals come back through
//!   a shared queue. To learn when to poll, await [`WebRtcTransport::notify`]
//!   (a `tokio::sync::Notify`, runtime-agnostic) or block on [`WebRtcTransport::wait`].
//!
//! Each connection has one DataChannel, label `quorate`, reliable and ordered, opened
//! in-band (DCEP) by the dialer. At most one connection per remote node: a second dial
//! fails at once; when both nodes dial each other at the same time (glare), the offer of
//! the node with the smaller id wins and the other node answers it under its own dial's
//! connection id; a fresh offer from a node we are connected to replaces the old
//! connection (the peer restarted). A connection closed by its peer, failed, or timed out
//! while opening is reported as `Disconnected`; one closed with `disconnect` is not (and
//! its unread events are dropped), as the trait allows. Dropping the transport closes
//! every connection, so peers see them close within milliseconds.
//!
//! # Signaling
//! [`signaling`] defines the messages: the dialer's SDP offer (with its candidates),
//! the answer, optional trickled candidates, all for a random per-connection `session`,
//! DAG-CBOR encoded and signed with the node key under `Domain::Signaling`. The adapter
//! produces them ([`WebRtcTransport::poll_signal`]: bytes addressed to a node id) and
//! takes them ([`WebRtcTransport::handle_signal`]); carrying them is the application's job
//! — the rendezvous server, the mesh's relayed signals, or copy-paste. Each is
//! self-contained and at most 16 KiB.
//!
//! # Security
//! The SDP carries the DTLS certificate fingerprint (a fresh certificate per connection);
//! the signature binds it to the node key, so a signaling server or relay cannot put
//! itself in the middle by substituting SDP, nor redirect a signal (`to` is signed), nor
//! splice an answer into another attempt (`session` is signed). Replayed offers are
//! dropped by `(from, session)`. DTLS then checks the fingerprint, and the mesh handshake
//! inside the channel proves the node key once more, so the transport itself trusts no
//! address. No STUN or TURN server is contacted unless [`Config::ice_servers`] names it;
//! a STUN answer cannot be authenticated (a plain Binding Request has no credentials),
//! so it is believed only from the server's address, for our transaction id, and after
//! strict parsing — at worst a lying server adds a useless candidate.
//!
//! # ICE servers
//! By default none: the bound address is the only candidate, and nothing but peers is
//! ever sent a datagram. With `stun:` servers in [`Config::ice_servers`] ([`IceServer`],
//! parsed from RFC 7064 URLs), the IO thread, on start, sends each a Binding Request from
//! the transport's socket (3 tries, 500 ms apart; names resolved first by the system
//! resolver), and each XOR-MAPPED-ADDRESS that differs from the bound address becomes a
//! server-reflexive candidate (base: the bound address) in every later offer and answer
//! of both adapters. Dials and offers wait for gathering (at most ~1.5 s after the name
//! lookup); servers that fail are listed in [`WebRtcTransport::recent_errors`] and the
//! host candidate is offered alone. [`WebRtcTransport::stats`] shows the addresses found.
//!
//! # Counters
//! [`WebRtcTransport::stats`] gives [`TransportStats`]: connections opened, and frames
//! and bytes sent and received per live connection (with the peer's node id) and in
//! total — kept by the IO thread under the lock it takes anyway.
//!
//! # Frames and backpressure
//! A mesh frame (up to `MAX_FRAME_SIZE` ≈ 2 MiB) is cut into DataChannel messages of at
//! most [`Config::chunk_size`] bytes plus a one-byte header ([`framing`]); the receiver
//! reassembles and refuses frames over [`Config::max_frame_size`] by closing the
//! connection. The stack's own send buffer is kept small ([`Config::sctp_buffer`], 8
//! chunks: large SCTP windows cost CPU and overflow receive buffers); behind it each
//! connection queues up to [`Config::send_buffer`] bytes of frames. Past that `send`
//! answers [`SendError::Full`](crate::SendError::Full) without taking the frame, and
//! [`TransportEvent::Writable`](crate::TransportEvent::Writable) follows once the queue has
//! drained to half. A frame is
//! always taken when the queue is empty, whatever its size.
//!
//! # Limits
//! - No TURN: relayed candidates are not gathered, and a [`Config::ice_servers`] with a
//!   `turn:`/`turns:` server makes `bind` fail ([`BindError::TurnUnsupported`]) instead of
//!   being ignored. Two nodes behind symmetric NATs (or UDP-blocking firewalls) cannot
//!   connect; STUN helps only through NATs that keep one mapping per socket
//!   (endpoint-independent mapping), and only if the NAT lets the peer's checks in.
//!   Both stacks could relay (`rtc` has a TURN client; str0m takes relayed candidates
//!   from the application), with TURN's traffic on the shared socket to demultiplex.
//! - Candidates are gathered once, when the transport starts: a NAT mapping that changes
//!   later is not followed, and no candidate is trickled. str0m writes
//!   `raddr 0.0.0.0 rport 0` for server-reflexive candidates (as browsers do, to keep the
//!   private address out of the SDP); webrtc-rs writes the bound address. The tests run
//!   a STUN server on 127.0.0.1 that reports a made-up public address; no test has a
//!   real NAT in between.
//! - A connection that does not open within [`Config::connect_timeout`] fails
//!   ([`TransportEvent::Disconnected`](crate::TransportEvent::Disconnected)); so does a
//!   dial whose answer never comes.
//! - At most [`Config::max_pending`] connections may be opening at once; further offers
//!   are ignored and further dials fail. Each offer costs a peer connection with a fresh
//!   certificate until it opens or times out, and any key can sign offers: a carrier
//!   that lets strangers signal us should rate-limit them (the mesh's relay does).
//! - One IO thread per transport: a node's WebRTC throughput is bounded by one core.
//!
//! # Measured
//! Two transports of one stack in one process on 127.0.0.1, release build, this project's
//! shared 2-core machine under other load (so compare within a row, not across machines);
//! `measure` in `tests/webrtc.rs`:
//!
//! | | str0m 0.25 | webrtc-rs core `rtc` 0.21 |
//! |---|---|---|
//! | `connect` → channel open at both ends, median of 5 | 6.4–6.7 ms (the first in a process ~60 ms: crypto set-up) | 14.1–14.3 ms |
//! | 64 MiB of 64 KiB frames, one way | 41 MiB/s | 96 MiB/s |
//! | CPU per MiB (sender + receiver) | 35 ms | 20 ms |
//! | clean `--release` build of this crate with only that feature, `-j2` | 253 s, 131 crates (aws-lc-sys builds C) | 186 s, 189 crates (ring) |
//!
//! Defaults were chosen by these runs: 16 KiB chunks with a 128 KiB SCTP buffer
//! (str0m: 64 KiB chunks 26 MiB/s and 50 ms/MiB; 16 KiB chunks with a 64 KiB buffer 37 MiB/s
//! and 32 ms/MiB; webrtc-rs: 48 MiB/s with a 64 KiB buffer, 89 MiB/s with 256 KiB). The
//! async `webrtc` crate measured ~600 ms to open here and str0m's raw DataChannel 27 MiB/s
//! with 64 KiB messages (`shared/WEBRTC.md`); driving webrtc-rs' core directly with a
//! 10 ms ICE check pace removes the stalls.

#![cfg_attr(
    not(all(feature = "str0m", feature = "webrtc-rs")),
    allow(
        rustdoc::broken_intra_doc_links,
        reason = "these docs describe both adapters; their links resolve with both features"
    )
)]

pub mod admission;
pub mod envelope;
pub mod framing;
pub mod signaling;

#[cfg(feature = "webrtc-io")]
mod handle;
#[cfg(feature = "webrtc-io")]
pub mod ice;
#[cfg(feature = "webrtc-io")]
mod io;
#[cfg(feature = "webrtc-io")]
mod stats;
#[cfg(feature = "str0m")]
pub mod str0m;
#[cfg(any(feature = "webrtc-io", feature = "fuzzing"))]
mod stun;
#[cfg(feature = "webrtc-rs")]
pub mod webrtc_rs;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    //! The crate-private STUN decoders, for the cargo-fuzz targets in `fuzz/` (feature
    //! `fuzzing`). Thin wrappers with unchanged behaviour; not a stable API.

    use std::net::SocketAddr;

    use super::stun;

    /// `stun::decode_response`: the mapped address of a Binding response to `expected`,
    /// or the error's message.
    ///
    /// # Errors
    /// The `Display` of the decoder's error.
    pub fn stun_decode_response(packet: &[u8], expected: &[u8; 12]) -> Result<SocketAddr, String> {
        stun::decode_response(packet, expected).map_err(|e| e.to_string())
    }

    /// `stun::response_id`: the transaction id of a well-formed Binding response.
    #[must_use]
    pub fn stun_response_id(packet: &[u8]) -> Option<[u8; 12]> {
        stun::response_id(packet)
    }

    /// `stun::stun_username`: the `USERNAME` attribute of a STUN message.
    #[must_use]
    pub fn stun_username(packet: &[u8]) -> Option<&[u8]> {
        stun::stun_username(packet)
    }
}

#[cfg(feature = "webrtc-io")]
pub use handle::{BindError, Config, OutgoingSignal, WebRtcTransport};
#[cfg(feature = "webrtc-io")]
pub use ice::{IceServer, IceServerError, IceServerKind};
#[cfg(feature = "webrtc-io")]
pub use stats::{ConnStats, Traffic, TransportStats};
