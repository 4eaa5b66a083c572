//! STUN for candidate gathering: the Binding codec (RFC 8489, formerly RFC 5389) and
//! [`Gatherer`], a sans-IO machine that asks STUN servers for our server-reflexive
//! address from the shared socket.
//!
//! Only what gathering needs: a Binding Request with no attributes, and a Binding
//! success or error response. A response is checked before it is believed: exact length
//! (no trailing bytes), magic cookie, our transaction id, attribute bounds and padding,
//! `FINGERPRINT` (when present, it must be last and match), no unknown
//! comprehension-required attribute. `MESSAGE-INTEGRITY` is skipped: a plain Binding
//! Request carries no credentials, so a STUN server's answer cannot be authenticated —
//! only the 96-bit random transaction id and the server's address vouch for it.
//! Nothing here indexes or panics on received bytes.

#![cfg_attr(
    not(feature = "webrtc-io"),
    allow(
        dead_code,
        reason = "with `fuzzing` alone only the decoders are used (by `webrtc::fuzzing`)"
    )
)]

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use rand_core::RngCore;

/// STUN's magic cookie (RFC 8489 §5).
const MAGIC: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
/// Header size.
const HEADER: usize = 20;
/// A 96-bit transaction id.
pub(crate) type TransactionId = [u8; 12];

const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const BINDING_ERROR: u16 = 0x0111;

const MAPPED_ADDRESS: u16 = 0x0001;
const USERNAME: u16 = 0x0006;
const MESSAGE_INTEGRITY: u16 = 0x0008;
const ERROR_CODE: u16 = 0x0009;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
const FINGERPRINT: u16 = 0x8028;
/// Comprehension-required attributes (type < 0x8000) a response may carry and we may
/// skip: USERNAME, MESSAGE-INTEGRITY, UNKNOWN-ATTRIBUTES, REALM, NONCE,
/// MESSAGE-INTEGRITY-SHA256, PASSWORD-ALGORITHM, USERHASH.
const SKIPPABLE_REQUIRED: [u16; 8] = [
    USERNAME,
    MESSAGE_INTEGRITY,
    0x000a,
    0x0014,
    0x0015,
    0x001c,
    0x001d,
    0x001e,
];
/// XORed into the CRC-32 of a `FINGERPRINT` (RFC 8489 §14.7).
const FINGERPRINT_XOR: u32 = 0x5354_554e;

/// Attempts per STUN server (the first request and two retransmissions).
pub(crate) const STUN_TRIES: u32 = 3;
/// Wait after each attempt: a server that answers none of them fails after
/// `STUN_TRIES × STUN_INTERVAL` = 1.5 s.
pub(crate) const STUN_INTERVAL: Duration = Duration::from_millis(500);

/// Why a datagram is not a usable Binding response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum StunError {
    /// Not STUN: too short, first two bits set, or no magic cookie.
    #[error("not a STUN message")]
    NotStun,
    /// The header's length is not a multiple of 4 or not the datagram's.
    #[error("STUN length {declared} does not match {actual} attribute bytes")]
    Length { declared: usize, actual: usize },
    /// Not a response to our transaction.
    #[error("STUN transaction id is not ours")]
    WrongTransaction,
    /// A STUN message that is not a Binding response.
    #[error("STUN message type {0:#06x} is not a Binding response")]
    NotResponse(u16),
    /// An attribute runs past the message, or one follows `FINGERPRINT`.
    #[error("malformed STUN attributes")]
    Attributes,
    /// `FINGERPRINT` does not match.
    #[error("STUN FINGERPRINT mismatch")]
    Fingerprint,
    /// An unknown comprehension-required attribute (RFC 8489 §7.3.3: discard).
    #[error("unknown comprehension-required STUN attribute {0:#06x}")]
    UnknownRequired(u16),
    /// A malformed address attribute.
    #[error("malformed STUN address")]
    Address,
    /// A success response without a (XOR-)MAPPED-ADDRESS.
    #[error("STUN response without a mapped address")]
    NoAddress,
    /// The server answered with an error.
    #[error("STUN error response {code}")]
    ErrorResponse { code: u16 },
}

/// A Binding Request with no attributes (20 bytes).
pub(crate) fn binding_request(id: &TransactionId) -> [u8; HEADER] {
    let bytes = BINDING_REQUEST
        .to_be_bytes()
        .into_iter()
        .chain([0, 0]) // length: no attributes
        .chain(MAGIC)
        .chain(id.iter().copied());
    let mut out = [0u8; HEADER];
    for (slot, b) in out.iter_mut().zip(bytes) {
        *slot = b;
    }
    out
}

/// A checked STUN header and its attribute bytes.
struct Message<'a> {
    kind: u16,
    id: TransactionId,
    attrs: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn parse(packet: &[u8]) -> Result<Message<'_>, StunError> {
    let header = packet.get(..HEADER).ok_or(StunError::NotStun)?;
    let first = *header.first().ok_or(StunError::NotStun)?;
    if first & 0xc0 != 0 || header.get(4..8) != Some(&MAGIC[..]) {
        return Err(StunError::NotStun);
    }
    let kind = be16(header, 0).ok_or(StunError::NotStun)?;
    let declared = usize::from(be16(header, 2).ok_or(StunError::NotStun)?);
    let attrs = packet.get(HEADER..).unwrap_or_default();
    if declared % 4 != 0 || declared != attrs.len() {
        return Err(StunError::Length {
            declared,
            actual: attrs.len(),
        });
    }
    let mut id = [0u8; 12];
    let src = header.get(8..HEADER).ok_or(StunError::NotStun)?;
    id.copy_from_slice(src);
    Ok(Message { kind, id, attrs })
}

/// The transaction id of `packet` if it is a well-formed Binding success or error
/// response (for demultiplexing; [`decode_response`] checks the rest).
pub(crate) fn response_id(packet: &[u8]) -> Option<TransactionId> {
    let msg = parse(packet).ok()?;
    matches!(msg.kind, BINDING_SUCCESS | BINDING_ERROR).then_some(msg.id)
}

/// Decodes a Binding response to transaction `expected` into the mapped address
/// (`XOR-MAPPED-ADDRESS`, else the legacy `MAPPED-ADDRESS`).
pub(crate) fn decode_response(
    packet: &[u8],
    expected: &TransactionId,
) -> Result<SocketAddr, StunError> {
    let msg = parse(packet)?;
    if msg.id != *expected {
        return Err(StunError::WrongTransaction);
    }
    if msg.kind != BINDING_SUCCESS && msg.kind != BINDING_ERROR {
        return Err(StunError::NotResponse(msg.kind));
    }
    let (mut xor_mapped, mut mapped, mut error_code) = (None, None, None);
    let mut seen_fingerprint = false;
    let mut offset = 0usize; // within attrs
    while offset < msg.attrs.len() {
        if seen_fingerprint {
            return Err(StunError::Attributes);
        }
        let kind = be16(msg.attrs, offset).ok_or(StunError::Attributes)?;
        let len = usize::from(be16(msg.attrs, offset + 2).ok_or(StunError::Attributes)?);
        let start = offset + 4;
        let value = msg
            .attrs
            .get(start..start + len)
            .ok_or(StunError::Attributes)?;
        let next = start + len.next_multiple_of(4);
        if next > msg.attrs.len() {
            return Err(StunError::Attributes);
        }
        match kind {
            XOR_MAPPED_ADDRESS if xor_mapped.is_none() => {
                xor_mapped = Some(decode_address(value, Some(&msg.id))?);
            }
            MAPPED_ADDRESS if mapped.is_none() => mapped = Some(decode_address(value, None)?),
            ERROR_CODE if error_code.is_none() => {
                let class = u16::from(*value.get(2).ok_or(StunError::Attributes)? & 0x07);
                let number = u16::from(*value.get(3).ok_or(StunError::Attributes)?);
                error_code = Some(class * 100 + number);
            }
            FINGERPRINT => {
                let covered = packet.get(..HEADER + offset).ok_or(StunError::Attributes)?;
                let got: [u8; 4] = value.try_into().map_err(|_| StunError::Attributes)?;
                if u32::from_be_bytes(got) != crc32(covered) ^ FINGERPRINT_XOR {
                    return Err(StunError::Fingerprint);
                }
                seen_fingerprint = true;
            }
            XOR_MAPPED_ADDRESS | MAPPED_ADDRESS | ERROR_CODE => {}
            k if k < 0x8000 && !SKIPPABLE_REQUIRED.contains(&k) => {
                return Err(StunError::UnknownRequired(k));
            }
            _ => {}
        }
        offset = next;
    }
    if msg.kind == BINDING_ERROR {
        return Err(StunError::ErrorResponse {
            code: error_code.unwrap_or(0),
        });
    }
    xor_mapped.or(mapped).ok_or(StunError::NoAddress)
}

/// `(XOR-)MAPPED-ADDRESS`: reserved byte, family, port, address; XORed with the cookie
/// (and for IPv6 the transaction id) when `xor` has the id.
fn decode_address(value: &[u8], xor: Option<&TransactionId>) -> Result<SocketAddr, StunError> {
    let family = *value.get(1).ok_or(StunError::Address)?;
    let port = be16(value, 2).ok_or(StunError::Address)?;
    let ip = value.get(4..).ok_or(StunError::Address)?;
    let mut mask = [0u8; 16];
    let mut port_mask = 0;
    if let Some(id) = xor {
        for (m, b) in mask.iter_mut().zip(MAGIC.iter().chain(id.iter())) {
            *m = *b;
        }
        port_mask = u16::from_be_bytes([0x21, 0x12]);
    }
    let ip = match (family, ip.len()) {
        (0x01, 4) => {
            let mut o = [0u8; 4];
            for ((slot, b), m) in o.iter_mut().zip(ip).zip(mask) {
                *slot = b ^ m;
            }
            IpAddr::V4(Ipv4Addr::from(o))
        }
        (0x02, 16) => {
            let mut o = [0u8; 16];
            for ((slot, b), m) in o.iter_mut().zip(ip).zip(mask) {
                *slot = b ^ m;
            }
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return Err(StunError::Address),
    };
    Ok(SocketAddr::new(ip, port ^ port_mask))
}

/// CRC-32 (IEEE 802.3, as in zlib), bitwise: `FINGERPRINT` covers a few dozen bytes.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

/// The `USERNAME` attribute of a STUN message (RFC 8489), if `packet` is one and has it.
#[cfg(any(feature = "webrtc-rs", feature = "fuzzing"))]
pub(crate) fn stun_username(packet: &[u8]) -> Option<&[u8]> {
    let header = packet.get(..HEADER)?;
    if header.first()? & 0xc0 != 0 || header.get(4..8)? != MAGIC {
        return None;
    }
    let len = usize::from(be16(header, 2)?);
    let mut attrs = packet.get(HEADER..HEADER + len)?;
    while attrs.len() >= 4 {
        let kind = be16(attrs, 0)?;
        let alen = usize::from(be16(attrs, 2)?);
        let value = attrs.get(4..4 + alen)?;
        if kind == USERNAME {
            return Some(value);
        }
        attrs = attrs
            .get((4 + alen).next_multiple_of(4)..)
            .unwrap_or_default();
    }
    None
}

/// What a [`Gatherer`] learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GatherEvent {
    /// `server` saw our requests come from `mapped`.
    Mapped {
        server: SocketAddr,
        mapped: SocketAddr,
    },
    /// `server` gave no usable answer.
    Failed { server: SocketAddr, reason: String },
}

struct Query {
    server: SocketAddr,
    id: TransactionId,
    sent: u32,
    /// When to retransmit or give up; `None` once finished.
    next: Option<Instant>,
    /// The last bad answer, for the failure report.
    last_error: Option<StunError>,
}

/// Asks each STUN server for our mapped address: one transaction per server, sent
/// [`STUN_TRIES`] times [`STUN_INTERVAL`] apart (the same transaction id each time).
///
/// Sans-IO: [`Gatherer::handle_receive`] claims responses to its transactions (also
/// late duplicates, so they never reach a peer connection), [`Gatherer::handle_timeout`]
/// retransmits and gives up; drain `poll_transmit` and `poll_event` after every call.
pub(crate) struct Gatherer {
    queries: Vec<Query>,
    transmits: VecDeque<(SocketAddr, [u8; HEADER])>,
    events: VecDeque<GatherEvent>,
}

impl Gatherer {
    /// Starts a transaction to each server (random ids from `rng`); the first requests
    /// are ready in `poll_transmit`.
    pub(crate) fn new(servers: &[SocketAddr], now: Instant, rng: &mut impl RngCore) -> Self {
        let mut g = Gatherer {
            queries: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        for &server in servers {
            let mut id = [0u8; 12];
            rng.fill_bytes(&mut id);
            g.queries.push(Query {
                server,
                id,
                sent: 0,
                next: Some(now),
                last_error: None,
            });
        }
        g.handle_timeout(now);
        g
    }

    /// True once every server has answered or failed.
    pub(crate) fn is_done(&self) -> bool {
        self.queries.iter().all(|q| q.next.is_none())
    }

    /// When [`Gatherer::handle_timeout`] wants calling.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.queries.iter().filter_map(|q| q.next).min()
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        for q in &mut self.queries {
            let Some(at) = q.next else { continue };
            if at > now {
                continue;
            }
            if q.sent < STUN_TRIES {
                q.sent += 1;
                q.next = Some(now + STUN_INTERVAL);
                self.transmits.push_back((q.server, binding_request(&q.id)));
            } else {
                q.next = None;
                let reason = match &q.last_error {
                    Some(e) => format!("no usable answer after {} requests ({e})", q.sent),
                    None => format!("no answer after {} requests", q.sent),
                };
                self.events.push_back(GatherEvent::Failed {
                    server: q.server,
                    reason,
                });
            }
        }
    }

    /// Takes `packet` if it is a response to one of our transactions (true), else leaves
    /// it for the peer connections (false). A response from another address than the
    /// server's, or a malformed one, is taken and ignored: the transaction goes on.
    pub(crate) fn handle_receive(&mut self, source: SocketAddr, packet: &[u8]) -> bool {
        let Some(id) = response_id(packet) else {
            return false;
        };
        let Some(q) = self.queries.iter_mut().find(|q| q.id == id) else {
            return false;
        };
        if q.next.is_none() || source != q.server {
            return true; // a late duplicate, or not from the server we asked
        }
        match decode_response(packet, &q.id) {
            Ok(mapped) => {
                q.next = None;
                self.events.push_back(GatherEvent::Mapped {
                    server: q.server,
                    mapped,
                });
            }
            Err(e @ StunError::ErrorResponse { .. }) => {
                q.next = None;
                self.events.push_back(GatherEvent::Failed {
                    server: q.server,
                    reason: e.to_string(),
                });
            }
            Err(e) => q.last_error = Some(e),
        }
        true
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<(SocketAddr, [u8; HEADER])> {
        self.transmits.pop_front()
    }

    pub(crate) fn poll_event(&mut self) -> Option<GatherEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::panic,
        reason = "test code: a panic is a failed test"
    )]

    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    /// RFC 5769 §2.2, "Sample IPv4 Response": XOR-MAPPED-ADDRESS 192.0.2.1:32853,
    /// with SOFTWARE, MESSAGE-INTEGRITY and FINGERPRINT.
    const RFC5769_IPV4: &str = "
        01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 08 00 01 a1 47 e1 12 a6 43
        00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
        80 28 00 04 c0 7d 4c 96";
    /// RFC 5769 §2.3, "Sample IPv6 Response": [2001:db8:1234:5678:11:2233:4455:6677]:32853.
    const RFC5769_IPV6: &str = "
        01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
        00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
        80 28 00 04 c8 fb 0b 4c";
    /// RFC 5769 §2.1, "Sample Request" (a Binding request, not a response).
    const RFC5769_REQUEST: &str = "
        00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
        00 24 00 04 6e 00 01 ff
        80 29 00 08 93 2f f9 b1 51 26 3b 36
        00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
        00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
        80 28 00 04 e5 7a 3b cf";
    const RFC5769_ID: TransactionId = [
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    ];

    /// A success response for `id` mapping to `addr` (IPv4), as a server would build it.
    fn response(id: &TransactionId, addr: SocketAddr) -> Vec<u8> {
        let SocketAddr::V4(a) = addr else { panic!() };
        let mut p = vec![0x01, 0x01, 0x00, 0x0c];
        p.extend_from_slice(&MAGIC);
        p.extend_from_slice(id);
        p.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x01]);
        p.extend_from_slice(&(a.port() ^ 0x2112).to_be_bytes());
        let ip = a.ip().octets();
        p.extend((0..4).map(|i| ip[i] ^ MAGIC[i]));
        p
    }

    proptest::proptest! {
        /// Any mapped IPv4 address a server reports comes back exactly, for its id only.
        #[test]
        fn mapped_addresses_round_trip(
            ip in proptest::prelude::any::<[u8; 4]>(),
            port in 1u16..,
            id in proptest::prelude::any::<TransactionId>(),
            other in proptest::prelude::any::<TransactionId>(),
        ) {
            let addr = SocketAddr::from((ip, port));
            let packet = response(&id, addr);
            proptest::prop_assert_eq!(decode_response(&packet, &id), Ok(addr));
            if other != id {
                proptest::prop_assert!(decode_response(&packet, &other).is_err());
            }
        }

        /// Arbitrary datagrams, and the RFC 5769 response with arbitrary bytes
        /// overwritten, decode or fail with a typed error; never panic.
        #[test]
        fn arbitrary_datagrams_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            at in 0usize..80,
            patch in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..8),
        ) {
            let _ = decode_response(&bytes, &RFC5769_ID);
            #[cfg(feature = "webrtc-rs")]
            let _ = stun_username(&bytes);
            let _ = response_id(&bytes);
            let mut vector = hex(RFC5769_IPV4);
            for (i, b) in patch.iter().enumerate() {
                if let Some(slot) = vector.get_mut(at + i) {
                    *slot = *b;
                }
            }
            let _ = decode_response(&vector, &RFC5769_ID);
        }
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn binding_request_encodes_header_only() {
        let id = [9u8; 12];
        let r = binding_request(&id);
        assert_eq!(&r[..8], &[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
        assert_eq!(&r[8..], &id);
        // Our decoder sees it as STUN, not as a response.
        assert_eq!(response_id(&r), None);
        assert_eq!(
            decode_response(&r, &id),
            Err(StunError::NotResponse(BINDING_REQUEST))
        );
    }

    #[test]
    fn rfc5769_ipv4_and_ipv6_responses_decode() {
        let v4 = hex(RFC5769_IPV4);
        assert_eq!(response_id(&v4), Some(RFC5769_ID));
        assert_eq!(
            decode_response(&v4, &RFC5769_ID),
            Ok("192.0.2.1:32853".parse().unwrap())
        );
        let v6 = hex(RFC5769_IPV6);
        assert_eq!(
            decode_response(&v6, &RFC5769_ID),
            Ok("[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                .parse()
                .unwrap())
        );
        // The sample request is STUN with a valid fingerprint, but no response.
        let req = hex(RFC5769_REQUEST);
        assert_eq!(response_id(&req), None);
        assert_eq!(
            decode_response(&req, &RFC5769_ID),
            Err(StunError::NotResponse(BINDING_REQUEST))
        );
        assert_eq!(
            decode_response(&v4, &[0; 12]),
            Err(StunError::WrongTransaction)
        );
    }

    #[test]
    fn no_truncation_or_bit_flip_of_the_vectors_yields_another_address() {
        for (vector, expected) in [
            (RFC5769_IPV4, "192.0.2.1:32853"),
            (RFC5769_IPV6, "[2001:db8:1234:5678:11:2233:4455:6677]:32853"),
        ] {
            let expected: SocketAddr = expected.parse().unwrap();
            let good = hex(vector);
            for n in 0..good.len() {
                assert!(decode_response(&good[..n], &RFC5769_ID).is_err(), "len {n}");
            }
            let mut longer = good.clone();
            longer.extend_from_slice(&[0; 4]);
            assert!(decode_response(&longer, &RFC5769_ID).is_err());
            // FINGERPRINT covers every byte before it. A flip may still pass when it
            // hides FINGERPRINT (its type turned into an optional attribute's, or a
            // longer MESSAGE-INTEGRITY swallowing it) — but then nothing else changed.
            let mut refused = 0;
            for i in 0..good.len() {
                for bit in 0..8 {
                    let mut bad = good.clone();
                    bad[i] ^= 1 << bit;
                    match decode_response(&bad, &RFC5769_ID) {
                        Err(_) => refused += 1,
                        Ok(addr) => assert_eq!(addr, expected, "byte {i} bit {bit}"),
                    }
                }
            }
            assert!(refused >= good.len() * 8 - 16, "{refused}");
        }
    }

    #[test]
    fn malformed_responses_get_typed_errors_not_panics() {
        let id = [3u8; 12];
        let addr: SocketAddr = "203.0.113.7:40000".parse().unwrap();
        let good = response(&id, addr);
        assert_eq!(decode_response(&good, &id), Ok(addr));
        // Attribute length past the end.
        let mut p = good.clone();
        p[23] = 0x40;
        assert_eq!(decode_response(&p, &id), Err(StunError::Attributes));
        // Bad family.
        let mut p = good.clone();
        p[25] = 0x03;
        assert_eq!(decode_response(&p, &id), Err(StunError::Address));
        // Unknown comprehension-required attribute.
        let mut p = good.clone();
        p[21] = 0x7f;
        assert_eq!(
            decode_response(&p, &id),
            Err(StunError::UnknownRequired(0x7f))
        );
        // Unknown comprehension-optional attribute: skipped, but then no address.
        let mut p = good.clone();
        p[20] = 0x80;
        assert_eq!(decode_response(&p, &id), Err(StunError::NoAddress));
        // Length not a multiple of 4 / not the datagram's.
        let mut p = good.clone();
        p[3] = 0x0d;
        assert!(matches!(
            decode_response(&p, &id),
            Err(StunError::Length { .. })
        ));
        // Error response 401.
        let mut p = vec![0x01, 0x11, 0x00, 0x08];
        p.extend_from_slice(&MAGIC);
        p.extend_from_slice(&id);
        p.extend_from_slice(&[0x00, 0x09, 0x00, 0x04, 0, 0, 4, 1]);
        assert_eq!(
            decode_response(&p, &id),
            Err(StunError::ErrorResponse { code: 401 })
        );
        // Garbage of every short length, DTLS-looking and all-ones.
        for n in 0..64 {
            for fill in [0u8, 0x16, 0xff] {
                assert!(decode_response(&vec![fill; n], &id).is_err());
            }
        }
    }

    #[test]
    fn stun_username_is_found_and_garbage_is_not() {
        // Binding request: type, length 16, cookie, transaction id; SOFTWARE "ab" padded,
        // then USERNAME "x:y" padded.
        let mut p = vec![0x00, 0x01, 0x00, 0x10, 0x21, 0x12, 0xa4, 0x42];
        p.extend_from_slice(&[7; 12]);
        p.extend_from_slice(&[0x80, 0x22, 0x00, 0x02, b'a', b'b', 0, 0]);
        p.extend_from_slice(&[0x00, 0x06, 0x00, 0x03, b'x', b':', b'y', 0]);
        #[cfg(feature = "webrtc-rs")]
        {
            assert_eq!(stun_username(&p), Some(&b"x:y"[..]));
            for n in 0..p.len() {
                let _ = stun_username(&p[..n]); // no panic on truncation
            }
            assert_eq!(stun_username(&[22; 40]), None); // DTLS
            let mut long = p.clone();
            long[3] = 0xff; // length past the end
            assert_eq!(stun_username(&long), None);
        }
        // A request is never taken for a response.
        assert_eq!(response_id(&p), None);
    }

    fn drain(g: &mut Gatherer) -> (Vec<(SocketAddr, [u8; HEADER])>, Vec<GatherEvent>) {
        (
            std::iter::from_fn(|| g.poll_transmit()).collect(),
            std::iter::from_fn(|| g.poll_event()).collect(),
        )
    }

    #[test]
    fn gatherer_asks_retransmits_and_gives_up() {
        let s1: SocketAddr = "192.0.2.10:3478".parse().unwrap();
        let s2: SocketAddr = "192.0.2.11:3478".parse().unwrap();
        let t0 = Instant::now();
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut g = Gatherer::new(&[s1, s2], t0, &mut rng);
        let (tx, ev) = drain(&mut g);
        assert_eq!(tx.iter().map(|t| t.0).collect::<Vec<_>>(), [s1, s2]);
        assert!(ev.is_empty());
        let id1: TransactionId = tx[0].1[8..].try_into().unwrap();
        assert_ne!(&tx[0].1[8..], &tx[1].1[8..], "one id per server");
        assert_eq!(g.poll_timeout(), Some(t0 + STUN_INTERVAL));

        // Early and spurious timeouts do nothing.
        g.handle_timeout(t0 + STUN_INTERVAL / 2);
        assert_eq!(drain(&mut g), (vec![], vec![]));

        // s1 answers, from the right address, after a wrong-id, a spoofed-source and a
        // malformed answer.
        let mapped: SocketAddr = "203.0.113.7:40000".parse().unwrap();
        assert!(!g.handle_receive(s1, &response(&[0; 12], mapped)));
        let other: SocketAddr = "192.0.2.99:3478".parse().unwrap();
        assert!(g.handle_receive(other, &response(&id1, other)));
        let mut broken = response(&id1, mapped);
        broken[25] = 9;
        assert!(g.handle_receive(s1, &broken));
        assert_eq!(drain(&mut g), (vec![], vec![]));
        assert!(g.handle_receive(s1, &response(&id1, mapped)));
        assert_eq!(
            drain(&mut g).1,
            [GatherEvent::Mapped { server: s1, mapped }]
        );
        // A late duplicate is taken (kept from the peers) and ignored.
        assert!(g.handle_receive(s1, &response(&id1, mapped)));
        assert_eq!(drain(&mut g), (vec![], vec![]));
        assert!(!g.is_done());

        // s2 never answers: retransmitted with the same id, then given up.
        let mut sent = 1;
        let mut now = t0;
        while !g.is_done() {
            now = g.poll_timeout().unwrap();
            g.handle_timeout(now);
            let (tx2, ev) = drain(&mut g);
            for (to, req) in &tx2 {
                assert_eq!(*to, s2);
                assert_eq!(&req[..], &tx[1].1[..]);
                sent += 1;
            }
            if let Some(GatherEvent::Failed { server, reason }) = ev.first() {
                assert_eq!(*server, s2);
                assert!(reason.contains("no answer after 3"), "{reason}");
            }
        }
        assert_eq!(sent, STUN_TRIES);
        assert_eq!(now, t0 + STUN_INTERVAL * STUN_TRIES);
        assert_eq!(g.poll_timeout(), None);
    }
}
