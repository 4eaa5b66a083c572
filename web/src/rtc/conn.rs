//! One connection: its `RTCPeerConnection`, its data channel, the JS callbacks that turn
//! browser events into [`Raw`] events, and the per-connection send queue.
//!
//! Callbacks never touch the transport's state: they push a [`Raw`] event tagged with
//! the connection id **and** the session, and wake the driver. A session that no longer
//! matches (the connection was closed, or replaced after glare) makes the event stale,
//! and the transport ignores it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use bytes::Bytes;
use quorate_mesh_proto::mesh::{ConnId, NodeId};
use quorate_mesh_transport::webrtc::framing::{MORE, Reassembler, fragment};
use quorate_mesh_transport::webrtc::signaling::SignalBody;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    MessageEvent, RtcDataChannel, RtcDataChannelEvent, RtcDataChannelType, RtcPeerConnection,
    RtcPeerConnectionState,
};

use crate::browser;

/// The data channel's label, as the native adapters use it.
pub(crate) const LABEL: &str = "quorate";

/// Something a JS callback or an async set-up step reported.
#[derive(Debug)]
pub(crate) enum Raw {
    /// Our SDP (offer or answer, candidates inside) is ready to sign and send.
    Local(SignalBody),
    /// Set-up failed (bad remote SDP, a browser error).
    Failed(String),
    /// The answerer's side: the dialer's channel arrived.
    Channel(RtcDataChannel),
    /// The channel opened.
    Open,
    /// A message; `None` for a text message (not our framing).
    Message(Option<Vec<u8>>),
    /// The channel or the peer connection closed or failed.
    Closed,
    /// `bufferedAmount` fell to the low threshold: write more.
    BufferedLow,
    /// The connection did not open in time.
    Timeout,
}

/// Raw events of every connection, and how to wake the driver.
#[derive(Default)]
pub(crate) struct Hub {
    raw: RefCell<VecDeque<(ConnId, u64, Raw)>>,
    wake: RefCell<Option<Rc<dyn Fn()>>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("raw", &self.raw.try_borrow().map(|r| r.len()).ok())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Queues an event and wakes the driver.
    pub(crate) fn push(&self, conn: ConnId, session: u64, raw: Raw) {
        if let Ok(mut q) = self.raw.try_borrow_mut() {
            q.push_back((conn, session, raw));
        }
        let wake = self.wake.try_borrow().ok().and_then(|w| w.clone());
        if let Some(wake) = wake {
            wake();
        }
    }

    /// Queues an event without waking the driver: for messages that cannot complete a
    /// frame (more fragments follow), so a 1 MiB frame costs one pump, not 65.
    pub(crate) fn push_quiet(&self, conn: ConnId, session: u64, raw: Raw) {
        if let Ok(mut q) = self.raw.try_borrow_mut() {
            q.push_back((conn, session, raw));
        }
    }

    /// The oldest queued event.
    pub(crate) fn pop(&self) -> Option<(ConnId, u64, Raw)> {
        self.raw.try_borrow_mut().ok()?.pop_front()
    }

    /// Sets the function that schedules the driver.
    pub(crate) fn set_wake(&self, wake: Rc<dyn Fn()>) {
        if let Ok(mut w) = self.wake.try_borrow_mut() {
            *w = Some(wake);
        }
    }
}

type Listener = Closure<dyn FnMut(JsValue)>;

/// One peer connection and its channel.
pub(crate) struct Conn {
    pub(crate) pc: RtcPeerConnection,
    pub(crate) dc: Option<RtcDataChannel>,
    pub(crate) peer: NodeId,
    pub(crate) session: u64,
    /// Dialed by us (or our dial answered under glare): `Connected` names the peer.
    pub(crate) outbound: bool,
    pub(crate) open: bool,
    pub(crate) awaiting_answer: bool,
    /// Frames not yet fully written, and the offset into the first.
    out: VecDeque<Bytes>,
    offset: usize,
    /// Bytes of frames in `out`.
    pub(crate) queued: usize,
    /// `send` answered `Full`: emit `Writable` once drained to half.
    pub(crate) blocked: bool,
    pub(crate) rx: Reassembler,
    pc_listeners: Vec<Listener>,
    dc_listeners: Vec<Listener>,
    timer: Option<(i32, Closure<dyn FnMut()>)>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("peer", &self.peer.short())
            .field("session", &self.session)
            .field("outbound", &self.outbound)
            .field("open", &self.open)
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

/// What [`Conn::write_out`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteOutcome {
    /// Wrote what it could; `true` if the queue drained below the `Writable` mark.
    Ok { writable: bool },
    /// The channel refused a message: the connection is unusable.
    Broken,
}

impl Conn {
    /// A connection around `pc`, listening for its state (and, for an answerer, for the
    /// dialer's channel), with a connect timeout of `timeout_ms`.
    pub(crate) fn new(
        hub: &Rc<Hub>,
        conn: ConnId,
        pc: RtcPeerConnection,
        peer: NodeId,
        session: u64,
        outbound: bool,
        timeout_ms: i32,
    ) -> Conn {
        let mut c = Conn {
            pc,
            dc: None,
            peer,
            session,
            outbound,
            open: false,
            awaiting_answer: outbound,
            out: VecDeque::new(),
            offset: 0,
            queued: 0,
            blocked: false,
            rx: Reassembler::default(),
            pc_listeners: Vec::new(),
            dc_listeners: Vec::new(),
            timer: None,
        };
        let h = Rc::clone(hub);
        let on_datachannel = Listener::new(move |e: JsValue| {
            if let Ok(e) = e.dyn_into::<RtcDataChannelEvent>() {
                h.push(conn, session, Raw::Channel(e.channel()));
            }
        });
        c.pc.set_ondatachannel(Some(on_datachannel.as_ref().unchecked_ref()));
        let h = Rc::clone(hub);
        let pc = c.pc.clone();
        let on_state = Listener::new(move |_| {
            if matches!(
                pc.connection_state(),
                RtcPeerConnectionState::Failed | RtcPeerConnectionState::Closed
            ) {
                h.push(conn, session, Raw::Closed);
            }
        });
        c.pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        c.pc_listeners = vec![on_datachannel, on_state];
        let h = Rc::clone(hub);
        let on_timeout = Closure::<dyn FnMut()>::new(move || h.push(conn, session, Raw::Timeout));
        if let Some(handle) = browser::set_timeout(on_timeout.as_ref().unchecked_ref(), timeout_ms)
        {
            c.timer = Some((handle, on_timeout));
        }
        c
    }

    /// Adopts the data channel (created by us, or announced to the answerer), with
    /// `low` as its `bufferedAmountLowThreshold`.
    pub(crate) fn attach(&mut self, hub: &Rc<Hub>, conn: ConnId, dc: RtcDataChannel, low: u32) {
        let session = self.session;
        dc.set_binary_type(RtcDataChannelType::Arraybuffer);
        dc.set_buffered_amount_low_threshold(low);
        let listener = |make: fn() -> Raw| {
            let h = Rc::clone(hub);
            Listener::new(move |_| h.push(conn, session, make()))
        };
        let on_open = listener(|| Raw::Open);
        let on_close = listener(|| Raw::Closed);
        let on_low = listener(|| Raw::BufferedLow);
        let h = Rc::clone(hub);
        let on_message = Listener::new(move |e: JsValue| {
            let data = e
                .dyn_into::<MessageEvent>()
                .ok()
                .and_then(|e| e.data().dyn_into::<js_sys::ArrayBuffer>().ok())
                .map(|buf| js_sys::Uint8Array::new(&buf).to_vec());
            let more = data.as_ref().and_then(|d| d.first()) == Some(&MORE);
            if more {
                h.push_quiet(conn, session, Raw::Message(data));
            } else {
                h.push(conn, session, Raw::Message(data));
            }
        });
        dc.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        dc.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        dc.set_onbufferedamountlow(Some(on_low.as_ref().unchecked_ref()));
        dc.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // A channel that is already open (announced late) fires no `open`.
        if dc.ready_state() == web_sys::RtcDataChannelState::Open {
            hub.push(conn, session, Raw::Open);
        }
        self.dc_listeners = vec![on_open, on_close, on_low, on_message];
        self.dc = Some(dc);
    }

    /// The connection opened: no timeout any more.
    pub(crate) fn opened(&mut self) {
        self.open = true;
        if let Some((handle, _)) = self.timer.take() {
            browser::clear_timeout(handle);
        }
    }

    /// Queues a frame (the caller checked the bound).
    pub(crate) fn queue(&mut self, frame: Bytes) {
        self.queued += frame.len();
        self.out.push_back(frame);
    }

    /// Writes queued frames as messages of at most `chunk` payload bytes while the
    /// channel's `bufferedAmount` is under `high`. Frames fully written leave the queue;
    /// once it is at most `half` bytes a blocked connection becomes writable.
    pub(crate) fn write_out(&mut self, chunk: usize, high: u32, half: usize) -> WriteOutcome {
        let Some(dc) = self.dc.as_ref().filter(|_| self.open) else {
            return WriteOutcome::Ok { writable: false };
        };
        while let Some(front) = self.out.front() {
            if dc.buffered_amount() >= high {
                break;
            }
            let (msg, next) = fragment(front, self.offset, chunk);
            if dc.send_with_u8_array(&msg).is_err() {
                return WriteOutcome::Broken;
            }
            match next {
                Some(offset) => self.offset = offset,
                None => {
                    self.queued = self.queued.saturating_sub(front.len());
                    self.offset = 0;
                    self.out.pop_front();
                }
            }
        }
        let writable = self.blocked && self.queued <= half;
        if writable {
            self.blocked = false;
        }
        WriteOutcome::Ok { writable }
    }
}

impl Drop for Conn {
    /// Unhooks every callback (a dropped closure must never be called) and closes the
    /// channel and the peer connection.
    fn drop(&mut self) {
        if let Some((handle, _)) = self.timer.take() {
            browser::clear_timeout(handle);
        }
        if let Some(dc) = &self.dc {
            dc.set_onopen(None);
            dc.set_onclose(None);
            dc.set_onbufferedamountlow(None);
            dc.set_onmessage(None);
            dc.close();
        }
        self.pc.set_ondatachannel(None);
        self.pc.set_onconnectionstatechange(None);
        self.pc.close();
    }
}
