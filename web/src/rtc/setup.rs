//! The asynchronous steps of a connection's set-up (promises of the browser), each run
//! with `spawn_local` and ending in one [`Raw`] event: our SDP with every candidate
//! gathered (non-trickle, as the native adapters expect), or a failure.

use std::rc::Rc;

use js_sys::Promise;
use quorate_mesh_proto::mesh::ConnId;
use quorate_mesh_transport::webrtc::signaling::SignalBody;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{
    RtcIceCandidateInit, RtcIceGatheringState, RtcPeerConnection, RtcSdpType,
    RtcSessionDescriptionInit,
};

use super::conn::{Hub, Raw};
use crate::browser;

/// Longest wait for ICE gathering before the SDP goes out with what it has.
const GATHER_LIMIT_MS: i32 = 3_000;
/// How often the gathering state is looked at while waiting for its event.
const GATHER_POLL_MS: i32 = 100;

/// Makes the offer (the channel must exist already) and reports it.
pub(crate) fn offer(hub: &Rc<Hub>, conn: ConnId, session: u64, pc: RtcPeerConnection) {
    let hub = Rc::clone(hub);
    spawn_local(async move {
        let raw = match make_offer(&pc).await {
            Ok(sdp) => Raw::Local(SignalBody::Offer(sdp)),
            Err(e) => Raw::Failed(format!("offer: {}", browser::describe(&e))),
        };
        hub.push(conn, session, raw);
    });
}

/// Takes the remote offer, makes the answer and reports it.
pub(crate) fn answer(
    hub: &Rc<Hub>,
    conn: ConnId,
    session: u64,
    pc: RtcPeerConnection,
    offer: String,
) {
    let hub = Rc::clone(hub);
    spawn_local(async move {
        let raw = match make_answer(&pc, &offer).await {
            Ok(sdp) => Raw::Local(SignalBody::Answer(sdp)),
            Err(e) => Raw::Failed(format!("answer: {}", browser::describe(&e))),
        };
        hub.push(conn, session, raw);
    });
}

/// Applies the remote answer; reports only a failure.
pub(crate) fn accept_answer(
    hub: &Rc<Hub>,
    conn: ConnId,
    session: u64,
    pc: &RtcPeerConnection,
    sdp: &str,
) {
    let hub = Rc::clone(hub);
    let desc = description(RtcSdpType::Answer, sdp);
    let promise = pc.set_remote_description(&desc);
    spawn_local(async move {
        if let Err(e) = JsFuture::from(promise).await {
            let why = format!("remote answer: {}", browser::describe(&e));
            hub.push(conn, session, Raw::Failed(why));
        }
    });
}

/// Adds trickled candidates (`candidate:…` lines); a refused one is only logged by the
/// browser: the others may still work.
pub(crate) fn add_candidates(pc: &RtcPeerConnection, lines: &[String]) {
    for line in lines {
        let init = RtcIceCandidateInit::new(line.strip_prefix("a=").unwrap_or(line));
        init.set_sdp_m_line_index(Some(0));
        let promise = pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init));
        spawn_local(async move {
            let _ = JsFuture::from(promise).await;
        });
    }
}

fn description(kind: RtcSdpType, sdp: &str) -> RtcSessionDescriptionInit {
    let desc = RtcSessionDescriptionInit::new(kind);
    desc.set_sdp(sdp);
    desc
}

async fn make_offer(pc: &RtcPeerConnection) -> Result<String, JsValue> {
    let offer = JsFuture::from(pc.create_offer()).await?;
    JsFuture::from(pc.set_local_description(offer.unchecked_ref())).await?;
    local_sdp(pc).await
}

async fn make_answer(pc: &RtcPeerConnection, offer: &str) -> Result<String, JsValue> {
    JsFuture::from(pc.set_remote_description(&description(RtcSdpType::Offer, offer))).await?;
    let answer = JsFuture::from(pc.create_answer()).await?;
    JsFuture::from(pc.set_local_description(answer.unchecked_ref())).await?;
    local_sdp(pc).await
}

/// The local description once gathering is complete (or after [`GATHER_LIMIT_MS`]).
async fn local_sdp(pc: &RtcPeerConnection) -> Result<String, JsValue> {
    let mut waited = 0;
    while pc.ice_gathering_state() != RtcIceGatheringState::Complete && waited < GATHER_LIMIT_MS {
        // Resolved by the next gathering-state change or after a short poll interval.
        let promise = Promise::new(&mut |resolve, _| {
            pc.set_onicegatheringstatechange(Some(&resolve));
            let _ = browser::set_timeout(&resolve, GATHER_POLL_MS);
        });
        let _ = JsFuture::from(promise).await;
        pc.set_onicegatheringstatechange(None);
        waited += GATHER_POLL_MS;
    }
    pc.local_description()
        .map(|d| d.sdp())
        .ok_or_else(|| JsValue::from_str("no local description"))
}
