//! The str0m adapter (feature `str0m`): [`bind`] a [`WebRtcTransport`] on
//! [str0m](https://crates.io/crates/str0m) 0.25.
//!
//! str0m is sans-IO: an `Rtc` per connection, driven by this crate's IO loop (one UDP
//! socket, one thread). The loop follows str0m's contract — after every mutation
//! (`handle_input`, a channel write, an SDP change, a candidate) `poll_output` is drained
//! to `Output::Timeout` — and demultiplexes the shared socket with `Rtc::accepts`. The
//! SCTP send buffer is [`Config::sctp_buffer`](super::Config::sctp_buffer) (str0m's
//! `sctp_max_buffered_amount`; writes beyond it return `Ok(false)` and are retried when
//! acknowledgements arrive). Crypto is str0m's default backend, aws-lc-rs, which builds
//! C code (the pure-Rust backend of str0m 0.25.0 needs `str0m-rust-crypto` 0.7, which is
//! not on crates.io).
//!
//! # Measured
//! Loopback, release, shared 2-core machine (`str0m::measure` in `tests/webrtc.rs`, run
//! with `--release -- --ignored --nocapture`): `connect` → open at both ends 6.4–6.7 ms
//! (median of 5; the first connection in a process ~60 ms), 41 MiB/s one way with 64 KiB
//! frames, 35 ms CPU per MiB (both ends). Most of that CPU is str0m's SCTP (sctp-proto),
//! as `shared/WEBRTC.md` found. A clean `cargo build --release` of this crate with only
//! this feature: 253 s at `-j2` (131 crates, aws-lc-sys among them).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use ::str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use ::str0m::channel::{ChannelConfig, ChannelId, Reliability};
use ::str0m::net::{Protocol, Receive};
use ::str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc};
use quorate_mesh_proto::mesh::NodeKey;

use super::io::{Engine, EngineError, EngineEvent, Write, random_token};
use super::{BindError, Config, WebRtcTransport};

/// Label of the one DataChannel per connection.
pub(crate) const CHANNEL_LABEL: &str = "quorate";

/// Starts a str0m-backed transport for the node `key`, bound to `config.bind`.
///
/// # Errors
/// [`BindError`] if the socket cannot be bound or the IO thread cannot start.
pub fn bind(key: NodeKey, config: Config) -> Result<WebRtcTransport, BindError> {
    WebRtcTransport::spawn::<Str0mEngine>("str0m", key, config)
}

pub(crate) struct Str0mEngine {
    rtc: Rtc,
    pending: Option<SdpPendingOffer>,
    channel: Option<ChannelId>,
    transmits: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<EngineEvent>,
    timeout: Option<Instant>,
    closed: bool,
}

impl Str0mEngine {
    fn new(
        cfg: &Config,
        local: SocketAddr,
        reflexive: &[SocketAddr],
        now: Instant,
    ) -> Result<Self, EngineError> {
        let creds = IceCreds {
            ufrag: random_token(8),
            pass: random_token(24),
        };
        let mut rtc = Rtc::builder()
            .set_local_ice_credentials(creds)
            .set_sctp_max_buffered_amount(cfg.sctp_buffer)
            .build(now);
        let candidate =
            Candidate::host(local, "udp").map_err(|e| EngineError::new("host candidate", e))?;
        rtc.add_local_candidate(candidate);
        for &addr in reflexive {
            // str0m writes `raddr 0.0.0.0 rport 0` for it (as browsers do, to not
            // reveal the private address); its base is `local` all the same.
            let candidate = Candidate::server_reflexive(addr, local, "udp")
                .map_err(|e| EngineError::new("server-reflexive candidate", e))?;
            rtc.add_local_candidate(candidate);
        }
        let mut engine = Str0mEngine {
            rtc,
            pending: None,
            channel: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            timeout: None,
            closed: false,
        };
        engine.drain();
        Ok(engine)
    }

    /// Drains `poll_output` to the next timeout (str0m's single-mutation invariant).
    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.timeout = Some(t);
                    break;
                }
                Ok(Output::Transmit(t)) => {
                    self.transmits
                        .push_back((t.destination, t.contents.to_vec()));
                }
                Ok(Output::Event(e)) => self.on_event(e),
                Err(_) => {
                    self.set_closed();
                    break;
                }
            }
        }
        if !self.rtc.is_alive() {
            self.set_closed();
        }
    }

    fn set_closed(&mut self) {
        if !self.closed {
            self.closed = true;
            self.timeout = None;
            self.events.push_back(EngineEvent::Closed);
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::ChannelOpen(id, _label) if self.channel.is_none() => {
                self.channel = Some(id);
                self.events.push_back(EngineEvent::Open);
            }
            Event::ChannelData(data) if Some(data.id) == self.channel => {
                self.events.push_back(EngineEvent::Data(data.data));
            }
            Event::ChannelBufferedAmountLow(id) if Some(id) == self.channel => {
                self.events.push_back(EngineEvent::BufferedLow);
            }
            Event::ChannelClose(id) if Some(id) == self.channel => self.set_closed(),
            Event::Closed | Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.set_closed();
            }
            _ => {}
        }
    }
}

impl Engine for Str0mEngine {
    fn offer(
        cfg: &Config,
        local: SocketAddr,
        reflexive: &[SocketAddr],
        now: Instant,
    ) -> Result<(Self, String), EngineError> {
        let mut engine = Str0mEngine::new(cfg, local, reflexive, now)?;
        let mut change = engine.rtc.sdp_api();
        change.add_channel_with_config(ChannelConfig {
            label: CHANNEL_LABEL.into(),
            ordered: true,
            reliability: Reliability::Reliable,
            negotiated: None,
            protocol: String::new(),
        });
        let (offer, pending) = change
            .apply()
            .ok_or_else(|| EngineError("str0m produced no offer".into()))?;
        engine.pending = Some(pending);
        engine.drain();
        Ok((engine, offer.to_sdp_string()))
    }

    fn answer(
        cfg: &Config,
        local: SocketAddr,
        reflexive: &[SocketAddr],
        now: Instant,
        offer: &str,
    ) -> Result<(Self, String), EngineError> {
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| EngineError::new("offer", e))?;
        let mut engine = Str0mEngine::new(cfg, local, reflexive, now)?;
        let answer = engine
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| EngineError::new("accept offer", e))?;
        engine.drain();
        Ok((engine, answer.to_sdp_string()))
    }

    fn accept_answer(&mut self, _now: Instant, answer: &str) -> Result<(), EngineError> {
        let answer =
            SdpAnswer::from_sdp_string(answer).map_err(|e| EngineError::new("answer", e))?;
        let pending = self
            .pending
            .take()
            .ok_or_else(|| EngineError("answer without an offer".into()))?;
        let result = self.rtc.sdp_api().accept_answer(pending, answer);
        self.drain();
        result.map_err(|e| EngineError::new("accept answer", e))
    }

    fn add_remote_candidate(&mut self, _now: Instant, candidate: &str) -> Result<(), EngineError> {
        let line = candidate.strip_prefix("a=").unwrap_or(candidate);
        let c = Candidate::from_sdp_string(line).map_err(|e| EngineError::new("candidate", e))?;
        self.rtc.add_remote_candidate(c);
        self.drain();
        Ok(())
    }

    fn accepts(&self, now: Instant, source: SocketAddr, local: SocketAddr, packet: &[u8]) -> bool {
        match Receive::new(Protocol::Udp, source, local, packet) {
            Ok(r) => !self.closed && self.rtc.accepts(&Input::Receive(now, r)),
            Err(_) => false,
        }
    }

    fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        local: SocketAddr,
        packet: &[u8],
    ) {
        if let Ok(r) = Receive::new(Protocol::Udp, source, local, packet) {
            // An error is the peer's fault (a bad packet); str0m stays usable.
            let _ = self.rtc.handle_input(Input::Receive(now, r));
            self.drain();
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.rtc.handle_input(Input::Timeout(now)).is_err() {
            self.set_closed();
        }
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

    fn write(&mut self, _now: Instant, msg: &[u8]) -> Write {
        let Some(id) = self.channel else {
            return Write::Closed;
        };
        let result = match self.rtc.channel(id) {
            Some(mut channel) => match channel.write(true, msg) {
                Ok(true) => Write::Written,
                Ok(false) => Write::Full,
                Err(_) => Write::Closed,
            },
            None => Write::Closed,
        };
        self.drain();
        result
    }

    fn close(&mut self, _now: Instant) {
        let _ = self.rtc.close();
        self.drain();
        self.closed = true;
    }
}
