//! The sans-IO half of the web server: finding the end of a request head, parsing it, and
//! turning its path into a [`Route`] that cannot leave the served directories.
//!
//! Everything here takes untrusted bytes and returns a typed [`Refusal`] instead of
//! panicking; the proptests below feed it arbitrary input.

/// Largest request head (request line and headers) read: 8 KiB.
pub const MAX_HEAD: usize = 8 * 1024;

/// The directories under the web directory that are served, by their URL prefix.
pub const SERVED_DIRS: [&str; 2] = ["www", "pkg"];

/// Where `/` redirects: the page.
pub const PAGE: &str = "/www/index.html";

/// The generated page configuration's path.
pub const CONFIG_PATH: &str = "/config.json";

/// A request method the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: the headers of a `GET`, without the body.
    Head,
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// Its method.
    pub method: Method,
    /// What the path asks for.
    pub route: Route,
}

/// What a request path names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// `/`: redirected to [`PAGE`].
    Root,
    /// `/config.json`: generated, not read from disk.
    Config,
    /// A file: the first segment is one of [`SERVED_DIRS`], and no segment is empty,
    /// `.` or `..`, starts with `.`, or contains `/`, `\` or NUL.
    File(Vec<String>),
}

/// Why a request is refused; each maps to one status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Malformed request line, header or path; a path with a `..` segment (400).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// Nothing is served there (404).
    #[error("not found")]
    NotFound,
    /// A method other than GET or HEAD (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The head did not arrive in time (408).
    #[error("request timeout")]
    Timeout,
    /// The head is over [`MAX_HEAD`] bytes (431).
    #[error("request header fields too large")]
    HeadTooLarge,
    /// Too many connections at once (503).
    #[error("service unavailable")]
    Busy,
    /// An HTTP version other than 1.0 and 1.1 (505).
    #[error("HTTP version not supported")]
    VersionNotSupported,
}

impl Refusal {
    /// The status line's code and reason phrase.
    #[must_use]
    pub fn status(self) -> (u16, &'static str) {
        match self {
            Refusal::BadRequest(_) => (400, "Bad Request"),
            Refusal::NotFound => (404, "Not Found"),
            Refusal::MethodNotAllowed => (405, "Method Not Allowed"),
            Refusal::Timeout => (408, "Request Timeout"),
            Refusal::HeadTooLarge => (431, "Request Header Fields Too Large"),
            Refusal::Busy => (503, "Service Unavailable"),
            Refusal::VersionNotSupported => (505, "HTTP Version Not Supported"),
        }
    }
}

/// The length of the head at the start of `buf` (through its blank line), if it is all
/// there. Accepts CRLF and bare LF line ends.
#[must_use]
pub fn head_len(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    // Blank lines before the request line are skipped (RFC 9112 §2.2 allows it).
    let mut started = false;
    for (i, &b) in buf.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        let line = buf.get(line_start..i).unwrap_or_default();
        let blank = line.is_empty() || line == b"\r";
        if blank && started {
            return Some(i + 1);
        }
        started |= !blank;
        line_start = i + 1;
    }
    None
}

/// Parses a complete head (as delimited by [`head_len`]).
///
/// # Errors
/// A [`Refusal`] for anything but a well-formed `GET` or `HEAD` of an origin-form path in
/// HTTP/1.0 or 1.1 that [`route`] accepts.
pub fn parse(head: &[u8]) -> Result<Request, Refusal> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .skip_while(|line| line.is_empty());
    let request_line = lines.next().ok_or(Refusal::BadRequest("no request line"))?;
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::BadRequest(
            "the request line is not METHOD PATH VERSION",
        ));
    };
    check_version(version)?;
    for line in lines.take_while(|line| !line.is_empty()) {
        check_header(line)?;
    }
    let method = match method {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        other if is_token(other) => return Err(Refusal::MethodNotAllowed),
        _ => return Err(Refusal::BadRequest("invalid method")),
    };
    let route = route(target)?;
    Ok(Request { method, route })
}

fn check_version(version: &[u8]) -> Result<(), Refusal> {
    match version {
        b"HTTP/1.1" | b"HTTP/1.0" => Ok(()),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(Refusal::VersionNotSupported)
        }
        _ => Err(Refusal::BadRequest("invalid HTTP version")),
    }
}

/// `name: value`, the name a token, the value without control characters (tab aside).
/// Obsolete line folding (a line starting with whitespace) is refused (RFC 9112 §5.2).
fn check_header(line: &[u8]) -> Result<(), Refusal> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(Refusal::BadRequest("a header line without a colon"))?;
    let (name, value) = line.split_at(colon);
    if !is_token(name) {
        return Err(Refusal::BadRequest("invalid header name"));
    }
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(Refusal::BadRequest("a control character in a header value"));
    }
    Ok(())
}

/// A non-empty RFC 9110 token.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Maps a request target to a [`Route`]: origin-form only (`/…`), query and fragment
/// dropped, each segment percent-decoded (as UTF-8) *after* splitting on `/`, so `%2F`
/// cannot make a separator.
///
/// # Errors
/// [`Refusal::BadRequest`] for a target that is not origin-form or not visible ASCII, a
/// bad percent escape, a segment that decodes to invalid UTF-8, to `..`, or to
/// something holding `/`, `\` or NUL; [`Refusal::NotFound`] for a directory (a trailing
/// `/`), a hidden name (a leading `.`) or anything outside [`SERVED_DIRS`].
pub fn route(target: &[u8]) -> Result<Route, Refusal> {
    if !target.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(Refusal::BadRequest("the path is not visible ASCII"));
    }
    let path = target
        .split(|&b| b == b'?' || b == b'#')
        .next()
        .unwrap_or_default();
    let Some(rest) = path.strip_prefix(b"/") else {
        return Err(Refusal::BadRequest("the path does not start with /"));
    };
    let mut segments = Vec::new();
    for raw in rest.split(|&b| b == b'/') {
        let segment = percent_decode(raw)?;
        match segment.as_str() {
            "" | "." => {}
            ".." => return Err(Refusal::BadRequest("a .. segment")),
            s if s.contains(['/', '\\', '\0']) => {
                return Err(Refusal::BadRequest("a separator or NUL inside a segment"));
            }
            _ => segments.push(segment),
        }
    }
    let is_dir = path.ends_with(b"/") || path.ends_with(b"/.");
    match segments.as_slice() {
        [] if is_dir => Ok(Route::Root),
        [one] if one == "config.json" && !is_dir => Ok(Route::Config),
        [first, _, ..] if !is_dir && SERVED_DIRS.contains(&first.as_str()) => {
            if segments.iter().any(|s| s.starts_with('.')) {
                Err(Refusal::NotFound)
            } else {
                Ok(Route::File(segments))
            }
        }
        _ => Err(Refusal::NotFound),
    }
}

/// Decodes `%XX` escapes; the result must be UTF-8.
///
/// # Errors
/// [`Refusal::BadRequest`] for a `%` not followed by two hex digits, or bytes that are
/// not UTF-8 once decoded.
pub fn percent_decode(raw: &[u8]) -> Result<String, Refusal> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hi = bytes.next().and_then(|&h| hex_value(h));
        let lo = bytes.next().and_then(|&l| hex_value(l));
        let (Some(hi), Some(lo)) = (hi, lo) else {
            return Err(Refusal::BadRequest("a bad percent escape"));
        };
        out.push((hi << 4) | lo);
    }
    String::from_utf8(out).map_err(|_| Refusal::BadRequest("the path is not UTF-8"))
}

fn hex_value(h: u8) -> Option<u8> {
    char::from(h)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The `Content-Type` for a file name, by its extension.
#[must_use]
pub fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map_or("", |(_, ext)| ext);
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        reason = "test code: a panic is a failed test"
    )]

    use proptest::prelude::*;

    use super::*;

    fn file(parts: &[&str]) -> Route {
        Route::File(parts.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn the_head_ends_at_the_first_blank_line() {
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"), Some(27));
        assert_eq!(head_len(b"GET / HTTP/1.1\n\n"), Some(16));
        assert_eq!(head_len(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"), Some(22));
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(head_len(b""), None);
        assert_eq!(head_len(b"\r\n\r\n"), None);
    }

    #[test]
    fn good_requests_parse() {
        let r = parse(b"GET /www/index.html HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n").unwrap();
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.route, file(&["www", "index.html"]));
        let r = parse(b"HEAD /pkg/quorate_web_bg.wasm?v=3 HTTP/1.0\n\n").unwrap();
        assert_eq!(r.method, Method::Head);
        assert_eq!(r.route, file(&["pkg", "quorate_web_bg.wasm"]));
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n").unwrap().route, Route::Root);
        assert_eq!(
            parse(b"GET /config.json HTTP/1.1\r\n\r\n").unwrap().route,
            Route::Config
        );
    }

    #[test]
    fn bad_requests_are_refused_with_the_right_code() {
        let bad = Refusal::BadRequest;
        let not_three = bad("the request line is not METHOD PATH VERSION");
        let cases: [(&[u8], Refusal); 12] = [
            (b"\r\n", bad("no request line")),
            (b"GET /\r\n\r\n", not_three),
            (b"GET  / HTTP/1.1\r\n\r\n", not_three),
            (b"GET / HTTP/1.1 x\r\n\r\n", not_three),
            (b"POST / HTTP/1.1\r\n\r\n", Refusal::MethodNotAllowed),
            (
                b"DELETE /www/a.js HTTP/1.1\r\n\r\n",
                Refusal::MethodNotAllowed,
            ),
            (b"G(T / HTTP/1.1\r\n\r\n", bad("invalid method")),
            (b"GET / HTTP/2.0\r\n\r\n", Refusal::VersionNotSupported),
            (b"GET / HTTQ/1.1\r\n\r\n", bad("invalid HTTP version")),
            (
                b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
                bad("a header line without a colon"),
            ),
            (
                b"GET / HTTP/1.1\r\n folded: x\r\n\r\n",
                bad("invalid header name"),
            ),
            (
                b"GET / HTTP/1.1\r\nA: \x01\r\n\r\n",
                bad("a control character in a header value"),
            ),
        ];
        for (head, refusal) in cases {
            assert_eq!(
                parse(head),
                Err(refusal),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        assert_eq!(Refusal::HeadTooLarge.status().0, 431);
        assert_eq!(Refusal::MethodNotAllowed.status().0, 405);
    }

    #[test]
    fn paths_cannot_escape_the_served_directories() {
        let bad = Refusal::BadRequest("a .. segment");
        for target in [
            "/www/../Cargo.toml",
            "/www/%2e%2e/Cargo.toml",
            "/www/%2E%2E/%2e%2e/etc/passwd",
            "/..",
            "/pkg/a/../../x",
        ] {
            assert_eq!(route(target.as_bytes()), Err(bad), "{target}");
        }
        for target in ["/www/..%2fCargo.toml", "/www/a%5c..%5cb", "/www/a%00.js"] {
            assert_eq!(
                route(target.as_bytes()),
                Err(Refusal::BadRequest("a separator or NUL inside a segment")),
                "{target}"
            );
        }
        for target in [
            "/Cargo.toml",
            "/src/lib.rs",
            "/node_modules/x/y.js",
            "/www",
            "/www/",
            "/pkg/",
            "/www/.hidden",
            "/pkg/.git/config",
            "/config.json/",
            "/www/index.html/",
        ] {
            assert_eq!(route(target.as_bytes()), Err(Refusal::NotFound), "{target}");
        }
        for target in ["www/index.html", "http://x/www/index.html", "*"] {
            assert_eq!(
                route(target.as_bytes()),
                Err(Refusal::BadRequest("the path does not start with /")),
                "{target}"
            );
        }
        assert_eq!(
            route(b"/www/%zz"),
            Err(Refusal::BadRequest("a bad percent escape"))
        );
        assert_eq!(
            route(b"/www/%ff"),
            Err(Refusal::BadRequest("the path is not UTF-8"))
        );
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(
            route(b"//www//./index.html").unwrap(),
            file(&["www", "index.html"])
        );
        assert_eq!(
            route(b"/www/a%20b.js#frag").unwrap(),
            file(&["www", "a b.js"])
        );
        assert_eq!(route(b"/%77ww/x.js").unwrap(), file(&["www", "x.js"]));
        assert_eq!(route(b"/?x=/../").unwrap(), Route::Root);
        assert_eq!(route(b"/./").unwrap(), Route::Root);
        assert_eq!(percent_decode(b"%e2%9c%93").unwrap(), "\u{2713}");
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("quorate_web.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("quorate_web_bg.wasm"), "application/wasm");
        assert_eq!(content_type("A.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("x.json"), "application/json");
        assert_eq!(content_type("README"), "application/octet-stream");
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Some(len) = head_len(&bytes) {
                prop_assert!(len <= bytes.len());
            }
            drop(parse(&bytes));
        }

        #[test]
        fn request_like_bytes_never_panic(
            method in "[A-Z(]{0,7}",
            target in "[/.%a-z0-9?#\\\\]{0,40}",
            version in "HTTP/[0-9.]{0,4}",
            headers in proptest::collection::vec("[ -~\t\r]{0,20}", 0..4),
        ) {
            let head = format!("{method} {target} {version}\r\n{}\r\n\r\n", headers.join("\r\n"));
            let len = head_len(head.as_bytes());
            prop_assert!(len.is_some());
            drop(parse(head.as_bytes()));
        }

        #[test]
        fn routed_files_stay_inside(target in "/[a-z.%2-5EeFfCc/\\\\]{0,40}") {
            if let Ok(Route::File(segments)) = route(target.as_bytes()) {
                prop_assert!(SERVED_DIRS.contains(&segments[0].as_str()));
                for s in &segments {
                    prop_assert!(!s.is_empty() && !s.starts_with('.'));
                    prop_assert!(!s.contains(['/', '\\', '\0']));
                }
            }
        }
    }
}
