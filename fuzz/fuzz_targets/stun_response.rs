//! The STUN Binding-response decoder used for candidate gathering
//! (`webrtc::fuzzing`, feature `fuzzing` of `quorate-mesh-transport`): no panic on any
//! datagram, and its answers agree with each other and with an independent encoder.
//!
//! Input layout: `mode || id(12) || rest`.
//! - `mode & 1 == 0`: `rest` is the datagram.
//! - `mode & 1 == 1`: the datagram is a Binding success response to `id` built here from
//!   `rest`: the address is `rest`'s first 4 (`mode & 2 == 0`) or 16 bytes and the port
//!   the next 2 (zero-filled when short), in `XOR-MAPPED-ADDRESS`, or in `MAPPED-ADDRESS`
//!   when `mode & 4`; `mode & 8` puts a `SOFTWARE` attribute with the remaining bytes (at
//!   most 255) first; `mode & 16` appends `FINGERPRINT`. It must decode to that address.
//!
//! Asserted for every datagram `p`, with `id` and with `p`'s own transaction id:
//! - `decode_response(p, x)` is `Ok` ⇒ `response_id(p) == Some(x)`;
//! - `response_id(p) == Some(y)` ⇒ `y` is `p[8..20]`, `p` is 20 bytes plus its declared
//!   length, and `decode_response(p, x)` fails for `x != y`;
//! - `stun_username(p) == Some(u)` ⇒ `u` lies inside `p`'s attributes.

#![no_main]
#![allow(
    clippy::indexing_slicing,
    reason = "fuzz target: a panic is a found bug"
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use libfuzzer_sys::fuzz_target;
use quorate_mesh_transport::webrtc::fuzzing::{
    stun_decode_response, stun_response_id, stun_username,
};

const MAGIC: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

fn check(p: &[u8], id: &[u8; 12]) {
    let response = stun_response_id(p);
    if let Some(y) = response {
        assert_eq!(&p[8..20], &y[..]);
        assert_eq!(p.len(), 20 + usize::from(u16::from_be_bytes([p[2], p[3]])));
    }
    let own = p.get(8..20).and_then(|b| <[u8; 12]>::try_from(b).ok());
    for x in [Some(*id), own].into_iter().flatten() {
        match stun_decode_response(p, &x) {
            Ok(_) => assert_eq!(response, Some(x), "decoded, but response_id disagrees"),
            Err(e) => assert!(!e.is_empty()),
        }
    }
    if let Some(u) = stun_username(p) {
        let start = (u.as_ptr() as usize).wrapping_sub(p.as_ptr() as usize);
        assert!(
            start >= 24 && start <= p.len() && u.len() <= p.len() - start,
            "USERNAME outside the message"
        );
    }
}

/// CRC-32 (IEEE), bitwise.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn attribute(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(value);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// A Binding success response to `id` and the address it carries.
fn build(mode: u8, id: &[u8; 12], rest: &[u8]) -> (Vec<u8>, SocketAddr) {
    let ip_len = if mode & 2 == 0 { 4 } else { 16 };
    let mut raw = [0u8; 18];
    for (slot, b) in raw.iter_mut().zip(rest) {
        *slot = *b;
    }
    let port = u16::from_be_bytes([raw[ip_len], raw[ip_len + 1]]);
    let ip = if ip_len == 4 {
        IpAddr::V4(Ipv4Addr::from(
            <[u8; 4]>::try_from(&raw[..4]).unwrap_or_default(),
        ))
    } else {
        IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(&raw[..16]).unwrap_or_default(),
        ))
    };
    let xor = mode & 4 == 0;
    let mut value = vec![0, if ip_len == 4 { 1 } else { 2 }];
    let mask: Vec<u8> = MAGIC.iter().chain(id).copied().collect();
    let port_mask = if xor { 0x2112 } else { 0 };
    value.extend_from_slice(&(port ^ port_mask).to_be_bytes());
    value.extend(
        raw[..ip_len]
            .iter()
            .zip(&mask)
            .map(|(b, m)| if xor { b ^ m } else { *b }),
    );

    let mut attrs = Vec::new();
    if mode & 8 != 0 {
        let software = rest.get(ip_len + 2..).unwrap_or_default();
        attribute(&mut attrs, 0x8022, &software[..software.len().min(255)]);
    }
    attribute(&mut attrs, if xor { 0x0020 } else { 0x0001 }, &value);
    let fingerprint = mode & 16 != 0;
    let length = attrs.len() + if fingerprint { 8 } else { 0 };
    let mut p = vec![0x01, 0x01];
    p.extend_from_slice(&u16::try_from(length).unwrap_or(0).to_be_bytes());
    p.extend_from_slice(&MAGIC);
    p.extend_from_slice(id);
    p.extend_from_slice(&attrs);
    if fingerprint {
        let crc = crc32(&p) ^ 0x5354_554e;
        attribute(&mut p, 0x8028, &crc.to_be_bytes());
    }
    (p, SocketAddr::new(ip, port))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some(id) = rest.get(..12).and_then(|b| <[u8; 12]>::try_from(b).ok()) else {
        return;
    };
    let rest = &rest[12..];
    if mode & 1 == 0 {
        check(rest, &id);
    } else {
        let (p, addr) = build(mode, &id, rest);
        assert_eq!(stun_decode_response(&p, &id), Ok(addr), "{p:02x?}");
        assert_eq!(stun_response_id(&p), Some(id));
        check(&p, &id);
    }
});
