//! [`IceServer`]: a STUN or TURN server from its URL (RFC 7064, RFC 7065).
//!
//! Only parsing and validation live here; the IO loop does the talking. Accepted forms:
//!
//! | URL | meaning |
//! |---|---|
//! | `stun:HOST` / `stun:HOST:PORT` | a STUN server (port 3478 by default) |
//! | `turn:HOST[:PORT][?transport=udp\|tcp]` | a TURN relay (port 3478), with a username and credential |
//! | `turns:HOST[:PORT][?transport=udp\|tcp]` | a TURN relay over TLS (port 5349), likewise |
//!
//! `HOST` is a DNS name, an IPv4 address or an IPv6 address in brackets
//! (`stun:[2001:db8::1]:3478`). Schemes are case-insensitive. `stuns:` (STUN over TLS) is
//! refused, as are user info, paths and, for STUN, queries.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// Default port of `stun:` and `turn:` (RFC 7064 §3.2, RFC 7065 §3.2).
pub const DEFAULT_PORT: u16 = 3478;
/// Default port of `turns:`.
pub const DEFAULT_TLS_PORT: u16 = 5349;
/// Longest host name accepted (a DNS name is at most 253 characters).
const MAX_HOST: usize = 253;

/// The kind of an [`IceServer`], from its URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IceServerKind {
    /// `stun:` — asked for our server-reflexive address.
    Stun,
    /// `turn:` — a relay reached over UDP or TCP.
    Turn,
    /// `turns:` — a relay reached over TLS.
    Turns,
}

/// A STUN or TURN server, validated. Made by [`IceServer::stun`] (or `str::parse`) and
/// [`IceServer::turn`]; its `Display` is the URL (never the credential), its `Debug`
/// hides the credential.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IceServer {
    kind: IceServerKind,
    host: String,
    port: u16,
    /// `?transport=` of a TURN URL: `"udp"` or `"tcp"`.
    transport: Option<&'static str>,
    username: Option<String>,
    credential: Option<String>,
}

/// Why an ICE server URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IceServerError {
    /// The URL does not start with `stun:`, `turn:` or `turns:`.
    #[error("{0:?} is not a stun:, turn: or turns: URL")]
    Scheme(String),
    /// `stuns:` (STUN over TLS or DTLS) is not supported.
    #[error("stuns: (STUN over TLS) is not supported; use stun:")]
    StunOverTls,
    /// No host after the scheme.
    #[error("no host in {0:?}")]
    MissingHost(String),
    /// The host is neither a DNS name, an IPv4 address nor a bracketed IPv6 address.
    #[error("bad host in {0:?}")]
    Host(String),
    /// The port is not a number from 1 to 65535.
    #[error("bad port in {0:?}")]
    Port(String),
    /// The URL has parts its scheme does not allow: `//`, user info, a path, or a query
    /// other than TURN's `?transport=udp|tcp`.
    #[error("unexpected {part:?} in {url:?}")]
    Unexpected {
        /// The URL.
        url: String,
        /// The part that is not allowed.
        part: String,
    },
    /// A `turn:`/`turns:` URL given without a username and credential (use
    /// [`IceServer::turn`]).
    #[error("{0:?} needs a username and credential (IceServer::turn)")]
    MissingCredentials(String),
    /// [`IceServer::turn`] was given a `stun:` URL.
    #[error("{0:?} is not a TURN URL")]
    NotTurn(String),
}

impl IceServer {
    /// A STUN server from `stun:HOST[:PORT]`.
    ///
    /// # Errors
    /// [`IceServerError`] if the URL is malformed or not a `stun:` URL (a `turn:` URL
    /// needs [`IceServer::turn`]).
    pub fn stun(url: &str) -> Result<Self, IceServerError> {
        let parsed = parse(url)?;
        if parsed.kind != IceServerKind::Stun {
            return Err(IceServerError::MissingCredentials(url.to_owned()));
        }
        Ok(parsed)
    }

    /// A TURN relay from `turn:`/`turns:HOST[:PORT][?transport=udp|tcp]` with its
    /// long-term credentials.
    ///
    /// Accepted here so that configurations can carry it, but no adapter relays yet:
    /// binding a transport with a TURN server fails with
    /// [`BindError::TurnUnsupported`](super::BindError::TurnUnsupported).
    ///
    /// # Errors
    /// [`IceServerError`] if the URL is malformed or not a TURN URL.
    pub fn turn(
        url: &str,
        username: impl Into<String>,
        credential: impl Into<String>,
    ) -> Result<Self, IceServerError> {
        let mut parsed = parse(url)?;
        if parsed.kind == IceServerKind::Stun {
            return Err(IceServerError::NotTurn(url.to_owned()));
        }
        parsed.username = Some(username.into());
        parsed.credential = Some(credential.into());
        Ok(parsed)
    }

    /// STUN or TURN.
    #[must_use]
    pub fn kind(&self) -> IceServerKind {
        self.kind
    }

    /// The host: a DNS name or an IP address (IPv6 without brackets).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (the scheme's default when the URL has none).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TURN username (`None` for STUN).
    #[must_use]
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The TURN credential (`None` for STUN).
    #[must_use]
    pub fn credential(&self) -> Option<&str> {
        self.credential.as_deref()
    }
}

impl FromStr for IceServer {
    type Err = IceServerError;

    /// Same as [`IceServer::stun`].
    fn from_str(url: &str) -> Result<Self, Self::Err> {
        IceServer::stun(url)
    }
}

impl fmt::Display for IceServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            IceServerKind::Stun => "stun",
            IceServerKind::Turn => "turn",
            IceServerKind::Turns => "turns",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}:[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{scheme}:{}:{}", self.host, self.port)?;
        }
        if let Some(t) = self.transport {
            write!(f, "?transport={t}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for IceServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("IceServer");
        s.field("url", &self.to_string());
        if let Some(u) = &self.username {
            s.field("username", u).field("credential", &"<hidden>");
        }
        s.finish()
    }
}

fn parse(url: &str) -> Result<IceServer, IceServerError> {
    let (scheme, rest) = url
        .split_once(':')
        .ok_or_else(|| IceServerError::Scheme(url.to_owned()))?;
    let (kind, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "stun" => (IceServerKind::Stun, DEFAULT_PORT),
        "turn" => (IceServerKind::Turn, DEFAULT_PORT),
        "turns" => (IceServerKind::Turns, DEFAULT_TLS_PORT),
        "stuns" => return Err(IceServerError::StunOverTls),
        _ => return Err(IceServerError::Scheme(url.to_owned())),
    };
    let unexpected = |part: &str| IceServerError::Unexpected {
        url: url.to_owned(),
        part: part.to_owned(),
    };
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let transport = match (kind, query) {
        (_, None) => None,
        (IceServerKind::Stun, Some(q)) => return Err(unexpected(&format!("?{q}"))),
        (_, Some(q)) => match q.to_ascii_lowercase().as_str() {
            "transport=udp" => Some("udp"),
            "transport=tcp" => Some("tcp"),
            _ => return Err(unexpected(&format!("?{q}"))),
        },
    };
    if authority.starts_with("//") {
        return Err(unexpected("//"));
    }
    if let Some(bad) = authority.chars().find(|c| matches!(c, '/' | '@' | '#')) {
        return Err(unexpected(&bad.to_string()));
    }
    if authority.is_empty() {
        return Err(IceServerError::MissingHost(url.to_owned()));
    }
    let (host, port) = split_host_port(authority, url)?;
    let port = match port {
        None => default_port,
        Some(p) => parse_port(p).ok_or_else(|| IceServerError::Port(url.to_owned()))?,
    };
    Ok(IceServer {
        kind,
        host,
        port,
        transport,
        username: None,
        credential: None,
    })
}

/// `HOST[:PORT]` with HOST a name, an IPv4 address or `[IPv6]`.
fn split_host_port<'a>(
    authority: &'a str,
    url: &str,
) -> Result<(String, Option<&'a str>), IceServerError> {
    let bad_host = || IceServerError::Host(url.to_owned());
    if let Some(inner) = authority.strip_prefix('[') {
        let (v6, after) = inner.split_once(']').ok_or_else(bad_host)?;
        let ip: Ipv6Addr = v6.parse().map_err(|_| bad_host())?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad_host)?),
        };
        return Ok((ip.to_string(), port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(IceServerError::MissingHost(url.to_owned()));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((ip.to_string(), port));
    }
    let name_ok = host.len() <= MAX_HOST
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && !host.starts_with('-');
    if !name_ok {
        return Err(bad_host());
    }
    Ok((host.to_ascii_lowercase(), port))
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&n| n != 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn stun_urls_parse_with_default_and_explicit_ports() {
        let s = IceServer::stun("stun:stun.example.org").unwrap();
        assert_eq!(
            (s.kind(), s.host(), s.port()),
            (IceServerKind::Stun, "stun.example.org", 3478)
        );
        let s: IceServer = "STUN:127.0.0.1:19302".parse().unwrap();
        assert_eq!((s.host(), s.port()), ("127.0.0.1", 19302));
        assert_eq!(s.to_string(), "stun:127.0.0.1:19302");
        let s = IceServer::stun("stun:[2001:db8::1]").unwrap();
        assert_eq!((s.host(), s.port()), ("2001:db8::1", 3478));
        assert_eq!(s.to_string(), "stun:[2001:db8::1]:3478");
        assert_eq!(s.username(), None);
    }

    #[test]
    fn turn_urls_carry_credentials_and_hide_them() {
        let t = IceServer::turn("turns:relay.example.org?transport=tcp", "u", "secret").unwrap();
        assert_eq!(
            (t.kind(), t.port(), t.username(), t.credential()),
            (IceServerKind::Turns, 5349, Some("u"), Some("secret"))
        );
        assert_eq!(t.to_string(), "turns:relay.example.org:5349?transport=tcp");
        assert!(!format!("{t:?}").contains("secret"));
        let t = IceServer::turn("turn:10.0.0.1:3479", "u", "p").unwrap();
        assert_eq!((t.kind(), t.port()), (IceServerKind::Turn, 3479));
        assert!(matches!(
            IceServer::stun("turn:10.0.0.1"),
            Err(IceServerError::MissingCredentials(_))
        ));
        assert!(matches!(
            IceServer::turn("stun:10.0.0.1", "u", "p"),
            Err(IceServerError::NotTurn(_))
        ));
    }

    #[test]
    fn malformed_urls_get_typed_errors() {
        use IceServerError as E;
        type Check = fn(&E) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, E::Scheme(_))),
            ("stun.example.org", |e| matches!(e, E::Scheme(_))),
            ("http://x", |e| matches!(e, E::Scheme(_))),
            ("stuns:x", |e| matches!(e, E::StunOverTls)),
            ("stun:", |e| matches!(e, E::MissingHost(_))),
            ("stun::3478", |e| matches!(e, E::MissingHost(_))),
            ("stun://x:1", |e| matches!(e, E::Unexpected { .. })),
            ("stun:user@x", |e| matches!(e, E::Unexpected { .. })),
            ("stun:x/path", |e| matches!(e, E::Unexpected { .. })),
            ("stun:x?transport=udp", |e| {
                matches!(e, E::Unexpected { .. })
            }),
            ("turn:x?transport=sctp", |e| {
                matches!(e, E::Unexpected { .. })
            }),
            ("stun:x:0", |e| matches!(e, E::Port(_))),
            ("stun:x:65536", |e| matches!(e, E::Port(_))),
            ("stun:x:+1", |e| matches!(e, E::Port(_))),
            ("stun:x:", |e| matches!(e, E::Port(_))),
            ("stun:x:1:2", |e| matches!(e, E::Port(_))),
            ("stun:bad host", |e| matches!(e, E::Host(_))),
            ("stun:a..b", |e| matches!(e, E::Host(_))),
            ("stun:-a", |e| matches!(e, E::Host(_))),
            ("stun:[::1", |e| matches!(e, E::Host(_))),
            ("stun:[nope]:1", |e| matches!(e, E::Host(_))),
            ("stun:[::1]1", |e| matches!(e, E::Host(_))),
            ("stun:é.example", |e| matches!(e, E::Host(_))),
        ];
        for (url, ok) in cases {
            let e = IceServer::stun(url).unwrap_err();
            assert!(ok(&e), "{url:?}: {e:?}");
        }
        let long = format!("stun:{}", "a".repeat(300));
        assert!(matches!(IceServer::stun(&long), Err(E::Host(_))));
    }
}
