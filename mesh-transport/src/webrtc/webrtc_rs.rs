//! The webrtc-rs adapter (feature `webrtc-rs`): [`bind`] a [`WebRtcTransport`] on
//! [`rtc`](https://crates.io/crates/rtc) 0.21, the sans-IO core under webrtc-rs 0.20+.
//!
//! The async `webrtc` crate measured ~600 ms from answer to open on this machine (three
//! ~200 ms stalls: DTLS retransmits, queued SCTP INIT/open), owns its sockets and binds an
//! mDNS multicast socket per connection. Driving its sans-IO core directly avoids all of
//! that: the same IO loop as the str0m adapter (one UDP socket, one thread, our clock)
//! drives one `RTCPeerConnection` per connection with `handle_read`/`handle_timeout` and
//! drains `poll_write`/`poll_event`/`poll_read`; timers fire exactly when `poll_timeout`
//! says. mDNS is disabled in the setting engine and the core gathers no candidates: the
//! local candidates are added by hand — the bound address (host) and the addresses the IO
//! loop learned from STUN servers (server-reflexive, `raddr` the bound address).
//!
//! The core has no `accepts` for demultiplexing a shared socket, so the adapter sets each
//! connection's ICE username fragment itself and routes a datagram to a connection when it
//! comes from an address that connection has sent to or received from, or when it is a
//! STUN request whose `USERNAME` starts with that connection's fragment.
//!
//! Backpressure: `RTCDataChannel::send` never refuses; the adapter stops writing while the
//! channel's `outstanding_bytes` (unacknowledged) exceed
//! [`Config::sctp_buffer`](super::Config::sctp_buffer).
//!
//! The default pace of ICE connectivity checks (200 ms) alone cost ~200 ms per
//! connection here; the adapter paces them at 10 ms.
//!
//! # Measured
//! Loopback, release, shared 2-core machine (`webrtc_rs::measure` in `tests/webrtc.rs`, run with
//! `--release -- --ignored --nocapture`): `connect` → open at both ends 14.1–14.3 ms
//! (median of 5), 96 MiB/s one way with 64 KiB frames, 20 ms CPU per MiB (both ends).
//! A clean `cargo build --release` of this crate with only this feature: 186 s at `-j2`
//! (189 crates; crypto by ring).

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use quorate_mesh_proto::mesh::NodeKey;
use rtc::data_channel::{RTCDataChannelId, RTCDataChannelInit};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::{RTCDataChannelEvent, RTCPeerConnectionEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, CandidateServerReflexiveConfig, RTCIceCandidate,
    RTCIceCandidateInit,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

use super::io::{Engine, EngineError, EngineEvent, Write, random_token};
use super::stun::stun_username;
use super::{BindError, Config, WebRtcTransport};

/// Label of the one DataChannel per connection.
const CHANNEL_LABEL: &str = "quorate";
/// Pace of ICE connectivity checks (webrtc-rs' default is 200 ms).
const ICE_CHECK_INTERVAL: Duration = Duration::from_millis(10);

/// Starts a webrtc-rs-backed transport for the node `key`, bound to `config.bind`.
///
/// # Errors
/// [`BindError`] if the socket cannot be bound or the IO thread cannot start.
pub fn bind(key: NodeKey, config: Config) -> Result<WebRtcTransport, BindError> {
    WebRtcTransport::spawn::<RtcEngine>("webrtc-rs", key, config)
}

pub(crate) struct RtcEngine {
    pc: RTCPeerConnection,
    ufrag: String,
    local: SocketAddr,
    sctp_buffer: usize,
    /// Addresses this connection has talked to.
    remotes: BTreeSet<SocketAddr>,
    channel: Option<RTCDataChannelId>,
    transmits: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<EngineEvent>,
    timeout: Option<Instant>,
    closed: bool,
}

fn err(what: &str) -> impl FnOnce(rtc::shared::error::Error) -> EngineError + '_ {
    move |e| EngineError::new(what, e)
}

impl RtcEngine {
    fn new(
        cfg: &Config,
        local: SocketAddr,
        reflexive: &[SocketAddr],
        now: Instant,
    ) -> Result<Self, EngineError> {
        let ufrag = random_token(8);
        let setting_engine = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_ice_credentials(ufrag.clone(), random_token(24))
            // The default 200 ms between connectivity checks costs ~200 ms per connection
            // (the controlling side nominates on its next tick); pace at 10 ms (RFC 8445 allows 5), for as
            // long in total (150 × 10 ms ≈ 7 × 200 ms).
            .with_ice_connection_attempts(Some(ICE_CHECK_INTERVAL), Some(150))
            .build();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(setting_engine)
            .build(now)
            .map_err(err("peer connection"))?;
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: local.ip().to_string(),
                port: local.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .map_err(|e| EngineError::new("host candidate", e))?;
        let init = RTCIceCandidate::from(&candidate)
            .to_json()
            .map_err(err("host candidate"))?;
        pc.add_local_candidate(init)
            .map_err(err("host candidate"))?;
        for addr in reflexive {
            let candidate = CandidateServerReflexiveConfig {
                base_config: CandidateConfig {
                    network: "udp".to_owned(),
                    address: addr.ip().to_string(),
                    port: addr.port(),
                    component: 1,
                    ..Default::default()
                },
                rel_addr: local.ip().to_string(),
                rel_port: local.port(),
                url: None,
            }
            .new_candidate_server_reflexive()
            .map_err(|e| EngineError::new("server-reflexive candidate", e))?;
            let init = RTCIceCandidate::from(&candidate)
                .to_json()
                .map_err(err("server-reflexive candidate"))?;
            pc.add_local_candidate(init)
                .map_err(err("server-reflexive candidate"))?;
        }
        let mut engine = RtcEngine {
            pc,
            ufrag,
            local,
            sctp_buffer: cfg.sctp_buffer,
            remotes: BTreeSet::new(),
            channel: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            timeout: None,
            closed: false,
        };
        engine.drain();
        Ok(engine)
    }

    /// Drains every output of the core.
    fn drain(&mut self) {
        while let Some(msg) = self.pc.poll_write() {
            let to = msg.transport.peer_addr;
            self.remotes.insert(to);
            self.transmits.push_back((to, msg.message.to_vec()));
        }
        while let Some(event) = self.pc.poll_event() {
            self.on_event(event);
        }
        while let Some(TaggedRTCMessage { message, .. }) = self.pc.poll_read() {
            if let RTCMessage::DataChannelMessage(id, msg) = message
                && Some(id) == self.channel
            {
                self.events.push_back(EngineEvent::Data(msg.data.to_vec()));
            }
        }
        // Events may have queued more writes (DCEP acks, say).
        while let Some(msg) = self.pc.poll_write() {
            let to = msg.transport.peer_addr;
            self.remotes.insert(to);
            self.transmits.push_back((to, msg.message.to_vec()));
        }
        self.timeout = if self.closed {
            None
        } else {
            self.pc.poll_timeout()
        };
    }

    fn set_closed(&mut self) {
        if !self.closed {
            self.closed = true;
            self.events.push_back(EngineEvent::Closed);
        }
    }

    fn on_event(&mut self, event: RTCPeerConnectionEvent) {
        match event {
            RTCPeerConnectionEvent::OnDataChannel(dc) => match dc {
                RTCDataChannelEvent::OnOpen(id) if self.channel.is_none() => {
                    self.channel = Some(id);
                    self.events.push_back(EngineEvent::Open);
                }
                RTCDataChannelEvent::OnBufferedAmountLow(id) if Some(id) == self.channel => {
                    self.events.push_back(EngineEvent::BufferedLow);
                }
                RTCDataChannelEvent::OnClose(id) if Some(id) == self.channel => {
                    self.set_closed();
                }
                _ => {}
            },
            RTCPeerConnectionEvent::OnConnectionStateChangeEvent(
                RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed,
            ) => self.set_closed(),
            _ => {}
        }
    }

    fn context(&self, source: SocketAddr) -> TransportContext {
        TransportContext {
            local_addr: self.local,
            peer_addr: source,
            ecn: None,
            transport_protocol: TransportProtocol::UDP,
        }
    }
}

impl Engine for RtcEngine {
    fn offer(
        cfg: &Config,
        local: SocketAddr,
        reflexive: &[SocketAddr],
        now: Instant,
    ) -> Result<(Self, String), EngineError> {
        let mut engine = RtcEngine::new(cfg, local, reflexive, now)?;
        let init = RTCDataChannelInit {
            ordered: true,
            ..Default::default()
        };
        engine
            .pc
            .create_data_channel(CHANNEL_LABEL, Some(init))
            .map_err(err("data channel"))?;
        let offer = engine.pc.create_offer(None).map_err(err("offer"))?;
        let sdp = offer.sdp.clone();
        engine
            .pc
            .set_local_description(now, offer)
            .map_err(err("local offer"))?;
        engine.drain();
        Ok((engine, sdp))
    }

    fn answer(
        cfg: &Config,
        local: SocketAddr,
        reflexive: &[SocketAddr],
        now: Instant,
        offer: &str,
    ) -> Result<(Self, String), EngineError> {
        let offer = RTCSessionDescription::offer(offer.to_owned()).map_err(err("offer"))?;
        let mut engine = RtcEngine::new(cfg, local, reflexive, now)?;
        engine
            .pc
            .set_remote_description(now, offer)
            .map_err(err("remote offer"))?;
        let answer = engine.pc.create_answer(None).map_err(err("answer"))?;
        let sdp = answer.sdp.clone();
        engine
            .pc
            .set_local_description(now, answer)
            .map_err(err("local answer"))?;
        engine.drain();
        Ok((engine, sdp))
    }

    fn accept_answer(&mut self, now: Instant, answer: &str) -> Result<(), EngineError> {
        let answer = RTCSessionDescription::answer(answer.to_owned()).map_err(err("answer"))?;
        let result = self.pc.set_remote_description(now, answer);
        self.drain();
        result.map_err(err("remote answer"))
    }

    fn add_remote_candidate(&mut self, _now: Instant, candidate: &str) -> Result<(), EngineError> {
        let line = candidate.strip_prefix("a=").unwrap_or(candidate);
        let result = self.pc.add_remote_candidate(RTCIceCandidateInit {
            candidate: line.to_owned(),
            ..Default::default()
        });
        self.drain();
        result.map_err(err("candidate"))
    }

    fn accepts(
        &self,
        _now: Instant,
        source: SocketAddr,
        _local: SocketAddr,
        packet: &[u8],
    ) -> bool {
        if self.closed {
            return false;
        }
        if self.remotes.contains(&source) {
            return true;
        }
        // A connectivity check for us: USERNAME is "<our ufrag>:<their ufrag>".
        stun_username(packet)
            .is_some_and(|name| name.split(|b| *b == b':').next() == Some(self.ufrag.as_bytes()))
    }

    fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        _local: SocketAddr,
        packet: &[u8],
    ) {
        self.remotes.insert(source);
        let msg = TaggedBytesMut {
            now,
            transport: self.context(source),
            message: BytesMut::from(packet),
        };
        // An error is a bad packet from the peer; the connection stays usable.
        let _ = self.pc.handle_read(msg);
        self.drain();
    }

    fn handle_timeout(&mut self, now: Instant) {
        let _ = self.pc.handle_timeout(now);
        self.drain();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timeout
    }

    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    fn write(&mut self, now: Instant, msg: &[u8]) -> Write {
        let Some(id) = self.channel else {
            return Write::Closed;
        };
        let result = match self.pc.data_channel(id) {
            Some(mut dc) => {
                let outstanding = dc.outstanding_bytes();
                if outstanding > 0 && outstanding + msg.len() > self.sctp_buffer {
                    Write::Full
                } else if dc.send(now, BytesMut::from(msg)).is_ok() {
                    Write::Written
                } else {
                    Write::Closed
                }
            }
            None => Write::Closed,
        };
        self.drain();
        result
    }

    fn close(&mut self, _now: Instant) {
        let _ = self.pc.close();
        self.drain();
        self.closed = true;
        self.timeout = None;
    }
}
