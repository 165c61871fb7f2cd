//! A reverse proxy on 127.0.0.1 in front of the S3 test server that records what passes:
//! every request (method, path and query, `Range` header), its answer's status and body
//! size. The S3 tests count a run's requests and bytes through it; `benches/scale.rs` also
//! delays every request (a bucket in another data centre) and logs a timeline of them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request that went through the proxy.
#[derive(Debug, Clone)]
pub(crate) struct ProxiedRequest {
    pub(crate) method: String,
    /// Path and query, as sent.
    pub(crate) uri: String,
    /// The `Range` header, when the request had one.
    pub(crate) range: Option<String>,
    pub(crate) status: u16,
    /// Bytes of the answer's body.
    pub(crate) bytes: u64,
}

impl ProxiedRequest {
    pub(crate) fn is_get_object(&self) -> bool {
        self.method == "GET" && !self.uri.contains("list-type") && !self.uri.contains("?prefix")
    }
}

/// The proxy; stops when dropped.
pub(crate) struct S3Proxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct ProxyState {
    upstream: String,
    delay: Duration,
    client: reqwest::Client,
    seen: Mutex<Vec<ProxiedRequest>>,
    /// One line per request (start and end in ms since the proxy started, method, path):
    /// the timeline that shows what a run does one request at a time.
    log: Option<Mutex<std::fs::File>>,
    started: Instant,
    /// GETs whose path contains this text: after the first `skip` (`.1`), held until
    /// `count` (`.2`) of them arrived, then answered together (a race made certain).
    rendezvous: Mutex<Option<(String, usize, usize)>>,
    released: tokio::sync::Notify,
}

impl S3Proxy {
    /// Forwards to `upstream` (`http://127.0.0.1:PORT`), each request after `delay`.
    pub(crate) fn start(upstream: &str, delay: Duration, log: Option<std::fs::File>) -> S3Proxy {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            delay,
            // Plain HTTP on loopback, bodies untouched.
            client: reqwest::Client::builder().no_gzip().build().unwrap(),
            seen: Mutex::new(Vec::new()),
            log: log.map(Mutex::new),
            started: Instant::now(),
            rendezvous: Mutex::new(None),
            released: tokio::sync::Notify::new(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(forward).with_state(served);
                tokio::select! {
                    result = axum::serve(listener, app).into_future() => result.unwrap(),
                    _ = stopped => {}
                }
            });
            rt.shutdown_timeout(Duration::from_millis(100));
        });
        S3Proxy {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Lets `skip` GETs whose path contains `path` through, then holds the next `count` until
    /// all of them arrived, so that each is answered with the same object (at most 30 s).
    pub(crate) fn rendezvous(&self, path: &str, skip: usize, count: usize) {
        *self.state.rendezvous.lock().unwrap() = Some((path.to_owned(), skip, count));
    }

    /// The requests since the last call, in the order they were answered.
    pub(crate) fn take(&self) -> Vec<ProxiedRequest> {
        std::mem::take(&mut *self.state.seen.lock().unwrap())
    }
}

impl Drop for S3Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits the delay, then forwards the request (method, path, query, headers including
/// `Host`, body) and relays the answer, recording both.
async fn forward(
    axum::extract::State(state): axum::extract::State<Arc<ProxyState>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::http::header;
    let (parts, body) = request.into_parts();
    let received = state.started.elapsed();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    tokio::time::sleep(state.delay).await;
    let wait = {
        let mut rendezvous = state.rendezvous.lock().unwrap();
        match &mut *rendezvous {
            Some((path, skip, _))
                if *skip > 0 && parts.method == "GET" && parts.uri.path().contains(&**path) =>
            {
                *skip -= 1;
                None
            }
            Some((path, _, count))
                if parts.method == "GET" && parts.uri.path().contains(&**path) =>
            {
                *count -= 1;
                if *count == 0 {
                    *rendezvous = None;
                    state.released.notify_waiters();
                    None
                } else {
                    // Registered before the lock is released: no wake-up is missed.
                    let mut notified = Box::pin(state.released.notified());
                    notified.as_mut().enable();
                    Some(notified)
                }
            }
            _ => None,
        }
    };
    if let Some(notified) = wait {
        let _ = tokio::time::timeout(Duration::from_secs(30), notified).await;
    }
    let uri = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let target = format!("{}{uri}", state.upstream);
    let mut headers = parts.headers.clone();
    for hop in [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
    ] {
        headers.remove(hop);
    }
    let answer = state
        .client
        .request(parts.method.clone(), target)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let mut response = axum::response::Response::builder();
    let (status, bytes) = match answer {
        Ok(answer) => {
            response = response.status(answer.status());
            for (name, value) in answer.headers() {
                if name != header::TRANSFER_ENCODING && name != header::CONNECTION {
                    response = response.header(name, value);
                }
            }
            let status = answer.status().as_u16();
            (status, answer.bytes().await.unwrap_or_default())
        }
        Err(e) => {
            response = response.status(502);
            (502, bytes::Bytes::from(e.to_string()))
        }
    };
    if let Some(log) = &state.log {
        use std::io::Write as _;
        let line = format!(
            "{:.1} {:.1} {} {}\n",
            received.as_secs_f64() * 1e3,
            state.started.elapsed().as_secs_f64() * 1e3,
            parts.method,
            parts.uri
        );
        let _ = log.lock().unwrap().write_all(line.as_bytes());
    }
    state.seen.lock().unwrap().push(ProxiedRequest {
        method: parts.method.to_string(),
        uri,
        range: parts
            .headers
            .get(header::RANGE)
            .and_then(|r| r.to_str().ok())
            .map(str::to_owned),
        status,
        bytes: bytes.len() as u64,
    });
    response.body(axum::body::Body::from(bytes)).unwrap()
}
