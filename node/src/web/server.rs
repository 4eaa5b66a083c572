//! The IO half of the web server: the listener, one task per connection, files from disk.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::request::{self, MAX_HEAD, Method, PAGE, Refusal, Route};
use super::{BUILD_FILES, PageConfig, WebConfig, WebError};
use crate::accept::{Listener, accept_until};

/// After answering, unread request bytes are drained for this long at most, so closing
/// does not reset the connection before the client has read the answer.
const LINGER: Duration = Duration::from_secs(1);

/// Bytes drained at most while lingering.
const LINGER_BYTES: usize = 64 * 1024;

/// A bound web server. [`WebServer::run`] serves until its shutdown future completes.
#[derive(Debug)]
pub struct WebServer {
    listener: Listener,
    site: Site,
    config: WebConfig,
}

/// The served directories, canonical (symbolic links resolved).
#[derive(Debug)]
struct Site {
    www: PathBuf,
    pkg: PathBuf,
}

/// What every connection task shares.
#[derive(Debug)]
struct Shared {
    site: Site,
    config_json: Vec<u8>,
    head_timeout: Duration,
    write_timeout: Duration,
}

impl WebServer {
    /// Checks the web directory (the page and the wasm build must be there) and binds the
    /// listen address.
    ///
    /// # Errors
    /// [`WebError::NoPage`] if `DIR/www/index.html` is missing, [`WebError::NotBuilt`] if
    /// the wasm build is missing from `DIR/pkg` (run `scripts/build-web`),
    /// [`WebError::Dir`] if the directory cannot be read, [`WebError::Listen`] if the
    /// address cannot be bound.
    pub async fn bind(config: WebConfig) -> Result<Self, WebError> {
        let site = check_dir(&config.dir)?;
        let addr = config.listen;
        let listener = Listener::bind(addr)
            .await
            .map_err(|source| WebError::Listen { addr, source })?;
        Ok(WebServer {
            listener,
            site,
            config,
        })
    }

    /// The address actually bound (with the port chosen when asked for port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// Serves, answering `/config.json` with `page`, until `shutdown` completes; open
    /// connections are then dropped. Nothing a client does ends this future; accept errors
    /// (such as running out of file descriptors) are logged and retried.
    pub async fn run(self, page: PageConfig, shutdown: impl Future<Output = ()>) {
        let WebServer {
            listener,
            site,
            config,
        } = self;
        let config_json = serde_json::to_vec(&page).unwrap_or_else(|_| b"{}".to_vec());
        let shared = Arc::new(Shared {
            site,
            config_json,
            head_timeout: config.head_timeout,
            write_timeout: config.write_timeout,
        });
        let local_addr = listener.local_addr();
        tracing::info!(%local_addr, dir = %config.dir.display(), "serving the web page");
        let busy = refusal_response(Refusal::Busy);
        let mut tasks = accept_until(
            "web",
            listener,
            config.max_connections,
            &busy,
            shutdown,
            |stream, peer| {
                let shared = Arc::clone(&shared);
                async move { serve(stream, peer, &shared).await }
            },
        )
        .await;
        tasks.abort_all();
        tracing::info!("web server stopped");
    }
}

fn check_dir(dir: &Path) -> Result<Site, WebError> {
    let page = dir.join("www").join("index.html");
    if !page.is_file() {
        return Err(WebError::NoPage { page });
    }
    for name in BUILD_FILES {
        let file = dir.join("pkg").join(name);
        if !file.is_file() {
            return Err(WebError::NotBuilt { missing: file });
        }
    }
    let canonical = |path: PathBuf| {
        std::fs::canonicalize(&path).map_err(|source| WebError::Dir { path, source })
    };
    Ok(Site {
        www: canonical(dir.join("www"))?,
        pkg: canonical(dir.join("pkg"))?,
    })
}

/// Why no head was read.
enum NoHead {
    /// The client closed or the socket failed before sending anything: nothing to answer.
    Gone,
    /// Something to answer with.
    Refused(Refusal),
}

/// A response body.
enum Body {
    Bytes(Vec<u8>),
    File(tokio::fs::File, u64),
}

/// One response: status, content type, extra header lines, body.
struct Response {
    status: (u16, &'static str),
    content_type: &'static str,
    extra: &'static str,
    location: Option<&'static str>,
    body: Body,
}

/// Serves one connection: one request, one response, then close.
async fn serve(mut stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let head = match timeout(shared.head_timeout, read_head(&mut stream)).await {
        Ok(Ok(head)) => Ok(head),
        Ok(Err(NoHead::Gone)) => return,
        Ok(Err(NoHead::Refused(refusal))) => Err(refusal),
        Err(_) => Err(Refusal::Timeout),
    };
    let answer = async {
        let (method, response) = match head.and_then(|head| request::parse(&head)) {
            Ok(request) => (request.method, respond(&request.route, shared).await),
            Err(refusal) => (Method::Get, refused(refusal)),
        };
        tracing::debug!(%peer, status = response.status.0, "web request");
        write_response(&mut stream, method, response).await
    };
    match timeout(shared.write_timeout, answer).await {
        Ok(Ok(())) => linger(&mut stream).await,
        Ok(Err(e)) => tracing::debug!(%peer, "web: writing failed: {e}"),
        Err(_) => tracing::debug!(%peer, "web: writing timed out"),
    }
}

/// Reads until the end of the head, at most [`MAX_HEAD`] bytes.
async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> Result<Vec<u8>, NoHead> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    loop {
        let Some(space) = buf.get_mut(len..).filter(|s| !s.is_empty()) else {
            return Err(NoHead::Refused(Refusal::HeadTooLarge));
        };
        let n = stream.read(space).await.map_err(|_| NoHead::Gone)?;
        if n == 0 {
            return Err(if len == 0 {
                NoHead::Gone
            } else {
                NoHead::Refused(Refusal::BadRequest("the request head is incomplete"))
            });
        }
        len = len.saturating_add(n).min(MAX_HEAD);
        if let Some(end) = request::head_len(buf.get(..len).unwrap_or_default()) {
            buf.truncate(end);
            return Ok(buf);
        }
    }
}

async fn respond(route: &Route, shared: &Shared) -> Response {
    match route {
        Route::Root => Response {
            status: (302, "Found"),
            content_type: "text/plain; charset=utf-8",
            extra: "",
            location: Some(PAGE),
            body: Body::Bytes(Vec::new()),
        },
        Route::Config => Response {
            status: (200, "OK"),
            content_type: "application/json",
            extra: "",
            location: None,
            body: Body::Bytes(shared.config_json.clone()),
        },
        Route::File(segments) => match open(&shared.site, segments).await {
            Ok((file, len, content_type)) => Response {
                status: (200, "OK"),
                content_type,
                extra: "",
                location: None,
                body: Body::File(file, len),
            },
            Err(refusal) => refused(refusal),
        },
    }
}

/// Opens a routed file: a regular file that, symbolic links resolved, is still inside
/// the served directory its first segment names.
async fn open(
    site: &Site,
    segments: &[String],
) -> Result<(tokio::fs::File, u64, &'static str), Refusal> {
    let (first, rest) = segments.split_first().ok_or(Refusal::NotFound)?;
    let base = match first.as_str() {
        "www" => &site.www,
        "pkg" => &site.pkg,
        _ => return Err(Refusal::NotFound),
    };
    let path = rest.iter().fold(base.clone(), |path, s| path.join(s));
    let real = tokio::fs::canonicalize(&path)
        .await
        .map_err(|_| Refusal::NotFound)?;
    if !real.starts_with(base) {
        return Err(Refusal::NotFound);
    }
    // Checked before opening: opening a FIFO would block.
    let meta = tokio::fs::metadata(&real)
        .await
        .map_err(|_| Refusal::NotFound)?;
    if !meta.is_file() {
        return Err(Refusal::NotFound);
    }
    let file = tokio::fs::File::open(&real)
        .await
        .map_err(|_| Refusal::NotFound)?;
    let name = rest.last().map_or("", String::as_str);
    Ok((file, meta.len(), request::content_type(name)))
}

fn refused(refusal: Refusal) -> Response {
    let (code, reason) = refusal.status();
    Response {
        status: (code, reason),
        content_type: "text/plain; charset=utf-8",
        extra: if refusal == Refusal::MethodNotAllowed {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        },
        location: None,
        body: Body::Bytes(format!("{code} {reason}\n").into_bytes()),
    }
}

/// The whole response for a refusal, for writing without a task (503).
fn refusal_response(refusal: Refusal) -> Vec<u8> {
    let response = refused(refusal);
    let Body::Bytes(body) = &response.body else {
        return Vec::new();
    };
    let len = u64::try_from(body.len()).unwrap_or(u64::MAX);
    let mut out = head_bytes(&response, len).into_bytes();
    out.extend_from_slice(body);
    out
}

fn head_bytes(response: &Response, len: u64) -> String {
    let (code, reason) = response.status;
    let mut head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {}\r\nContent-Length: {len}\r\n\
         Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n{}",
        response.content_type, response.extra
    );
    if let Some(location) = response.location {
        head.push_str("Location: ");
        head.push_str(location);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

async fn write_response(
    stream: &mut TcpStream,
    method: Method,
    response: Response,
) -> std::io::Result<()> {
    let len = match &response.body {
        Body::Bytes(bytes) => u64::try_from(bytes.len()).unwrap_or(u64::MAX),
        Body::File(_, len) => *len,
    };
    stream
        .write_all(head_bytes(&response, len).as_bytes())
        .await?;
    if method == Method::Head {
        return stream.flush().await;
    }
    match response.body {
        Body::Bytes(bytes) => stream.write_all(&bytes).await?,
        Body::File(file, len) => {
            let sent = tokio::io::copy(&mut file.take(len), stream).await?;
            if sent != len {
                // The file shrank while being sent; closing tells the client.
                return Err(std::io::Error::other("the file changed while being sent"));
            }
        }
    }
    stream.flush().await
}

/// Half-closes, then drains what the client still sends (briefly), so the close does not
/// turn into a reset that could discard the response before the client reads it.
async fn linger(stream: &mut TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut buf = [0u8; 4096];
        let mut drained = 0usize;
        while drained < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => drained = drained.saturating_add(n),
            }
        }
    };
    drop(timeout(LINGER, drain).await);
}
