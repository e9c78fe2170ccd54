//! A small HTTP/1.1 proxy in front of a test registry, on loopback only: it logs every
//! request (method, path, kind) so tests and the benchmark can count requests per image, and
//! it can answer chosen requests itself (faults: error statuses, wrong, truncated, oversized or
//! endless bodies, dropped connections), always or only for the first N matching requests.
//!
//! It understands just enough HTTP/1.1 for our client and distribution: request heads up to
//! 64 KiB, bodies with `Content-Length` (chunked request bodies are refused), keep-alive, no
//! pipelining (the client waits for each answer). At most 256 connections at once.
//!
//! For round-trip tests and the benchmark it can hold every answer back by a fixed delay
//! ([`Proxy::set_delay`]: the registry's answer, or the proxy's own, waits that long before its
//! first byte goes to the client), as a registry tens of milliseconds away would. Each logged
//! request records when its head arrived and when its answer began to go out, so a test can
//! tell requests sent one after another from requests sent at once ([`critical_path`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

const MAX_HEAD: usize = 64 * 1024;
const MAX_CONNECTIONS: usize = 256;

/// What a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// `/v2/`
    Ping,
    /// `/v2/<name>/manifests/<ref>`
    Manifest,
    /// `/v2/<name>/blobs/<digest>`
    Blob,
    /// `/v2/<name>/blobs/uploads/…`
    Upload,
    /// `/v2/<name>/referrers/<digest>`
    Referrers,
    /// `/v2/<name>/tags/list`
    Tags,
    /// The bearer gate's token endpoint (`/token`).
    Token,
    /// Anything else (e.g. a token endpoint).
    Other,
}

/// One logged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Logged {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// Request target (path and query).
    pub path: String,
    /// Classified kind.
    pub kind: Kind,
    /// When the request head had arrived.
    pub started: std::time::Instant,
    /// When the first byte of its answer went to the client (after the delay); `None` while
    /// (or if) none has.
    pub answered: Option<std::time::Instant>,
    /// Its number in the proxy's lifetime (not reset by [`Proxy::reset`]).
    pub id: u64,
}

/// The longest chain of requests in `log` each sent after the answer to the one before began
/// to arrive: the requests on the critical path, i.e. the round trips one after another. With
/// a proxy delay well above the client's own processing time, requests sent at once never
/// chain (each starts before any answer exists) and requests sent one after another always
/// do, so the count does not depend on timing. Returns the chain, in order.
pub(crate) fn critical_path(log: &[Logged]) -> Vec<Logged> {
    let mut order: Vec<&Logged> = log.iter().collect();
    order.sort_by_key(|r| r.started);
    // best[i]: the longest chain ending at order[i], as indices.
    let mut best: Vec<Vec<usize>> = Vec::with_capacity(order.len());
    for (i, r) in order.iter().enumerate() {
        let mut chain: Vec<usize> = Vec::new();
        for (j, before) in order[..i].iter().enumerate() {
            if before.answered.is_some_and(|a| a <= r.started) && best[j].len() > chain.len() {
                chain = best[j].clone();
            }
        }
        chain.push(i);
        best.push(chain);
    }
    best.into_iter()
        .max_by_key(Vec::len)
        .unwrap_or_default()
        .into_iter()
        .map(|i| order[i].clone())
        .collect()
}

/// A canned answer for requests the proxy intercepts.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (`Content-Type`, …).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Send `Content-Length` (else the body ends when the connection closes).
    pub content_length: bool,
    /// Declare this `Content-Length` instead of the real one (the connection is closed
    /// after the body, so a lie is harmless to the proxy).
    pub declared_length: Option<u64>,
    /// Send the body one byte at a time with this pause between bytes (slowloris).
    pub trickle: Option<std::time::Duration>,
    /// Close the connection without answering at all (the request was read, not forwarded).
    pub close_without_answer: bool,
    /// After the head, send `body` over and over without end (until the client goes away,
    /// or [`ENDLESS_CAP`] bytes at most, so a test that forgets to stop does not spin).
    pub endless: bool,
}

/// Most bytes an endless body sends before the proxy gives up on it.
pub(crate) const ENDLESS_CAP: u64 = 8 * 1024 * 1024 * 1024;

impl Fault {
    /// An empty answer with `status`.
    pub(crate) fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            content_length: true,
            declared_length: None,
            trickle: None,
            close_without_answer: false,
            endless: false,
        }
    }

    /// A `200` with `body` and `content_type`.
    pub(crate) fn body(content_type: &str, body: Vec<u8>) -> Self {
        Self {
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
            ..Self::status(200)
        }
    }

    /// `status` with `Retry-After: <value>`.
    pub(crate) fn retry_after(status: u16, value: &str) -> Self {
        let mut f = Self::status(status);
        f.headers.push(("Retry-After".into(), value.into()));
        f
    }

    /// Read the request, then close the connection without a byte of answer.
    pub(crate) fn drop_connection() -> Self {
        Self {
            close_without_answer: true,
            ..Self::status(200)
        }
    }

    /// A `200` declaring `Content-Length` of all of `full`, sending only its first `after`
    /// bytes, then closing the connection (a connection dropped mid-body).
    pub(crate) fn cut(content_type: &str, full: &[u8], after: usize) -> Self {
        let mut f = Self::body(content_type, full[..after.min(full.len())].to_vec());
        f.declared_length = Some(full.len() as u64);
        f
    }

    /// A `200` whose body never ends: `declared` as `Content-Length` (e.g. 1 GiB), or none
    /// (the body would end with the connection, which never comes).
    pub(crate) fn endless(content_type: &str, declared: Option<u64>) -> Self {
        let mut f = Self::body(content_type, vec![b' '; 64 * 1024]);
        f.content_length = declared.is_some();
        f.declared_length = declared;
        f.endless = true;
        f
    }
}

/// An injected fault: requests with `method` whose path contains `path_part` get `fault`,
/// all of them (`remaining: None`) or the next `remaining` ones (then they pass through).
struct Rule {
    method: String,
    path_part: String,
    fault: Fault,
    remaining: Option<usize>,
}

/// Token auth in front of an anonymous registry, as distribution's token server does it:
/// `/v2/…` without a valid `Bearer` token gets 401 and a challenge naming `/token` on the
/// proxy; `/token` hands out a token for the asked scope when Basic credentials match.
struct BearerGate {
    user: String,
    password: String,
    realm: String,
    /// token -> scope it grants (`repository:<name>:pull[,push]`)
    issued: HashMap<String, String>,
    counter: u64,
}

#[derive(Default)]
struct State {
    log: Vec<Logged>,
    /// How long every answer is held back.
    delay: std::time::Duration,
    /// The next request's [`Logged::id`].
    next_id: u64,
    /// The first matching rule that is not used up answers instead of the registry.
    rules: Vec<Rule>,
    bearer: Option<BearerGate>,
}

impl State {
    /// The gate's own answer for this request, if it does not pass through.
    fn gate(
        &mut self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Option<Fault> {
        let gate = self.bearer.as_mut()?;
        let path_only = path.split('?').next().unwrap_or(path);
        if path_only == "/token" {
            use base64::Engine as _;
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", gate.user, gate.password))
            );
            // GET with Basic credentials, or an OAuth2 refresh-token POST (docker
            // `identitytoken`; this gate accepts the password as the refresh token).
            let form = String::from_utf8_lossy(body).into_owned();
            let query = if method == "POST" {
                let fields: Vec<&str> = form.split('&').collect();
                let refresh_ok = fields.contains(&"grant_type=refresh_token")
                    && fields.contains(&format!("refresh_token={}", gate.password).as_str());
                if !refresh_ok {
                    return Some(Fault::status(401));
                }
                form.as_str()
            } else {
                if authorization != Some(expected.as_str()) {
                    return Some(Fault::status(401));
                }
                path.split_once('?').map(|(_, q)| q).unwrap_or_default()
            };
            let scope = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("scope="))
                .map(|s| {
                    s.replace("%3A", ":")
                        .replace("%2C", ",")
                        .replace("%2F", "/")
                })
                .unwrap_or_default();
            gate.counter += 1;
            let token = format!("token-{}", gate.counter);
            gate.issued.insert(token.clone(), scope);
            let key = if method == "POST" {
                "access_token"
            } else {
                "token"
            };
            let answer = serde_json::to_vec(&serde_json::json!({key: token, "expires_in": 300}))
                .expect("json");
            return Some(Fault::body("application/json", answer));
        }
        let challenge = || {
            let mut f = Fault::status(401);
            f.headers.push((
                "WWW-Authenticate".into(),
                format!(r#"Bearer realm="{}",service="imprint-test""#, gate.realm),
            ));
            f
        };
        let Some(token) = authorization.and_then(|a| a.strip_prefix("Bearer ")) else {
            return Some(challenge());
        };
        let Some(scope) = gate.issued.get(token) else {
            return Some(challenge());
        };
        if path_only == "/v2/" {
            return None;
        }
        // `/v2/<name>/(manifests|blobs|referrers|tags)/…`
        let name = path_only
            .strip_prefix("/v2/")
            .and_then(|r| {
                ["/manifests/", "/blobs/", "/referrers/", "/tags/"]
                    .iter()
                    .find_map(|k| r.find(k).map(|i| &r[..i]))
            })
            .unwrap_or_default();
        let needs_push = !matches!(method, "GET" | "HEAD");
        let ok = scope == &format!("repository:{name}:pull,push")
            || (!needs_push && scope == &format!("repository:{name}:pull"));
        if ok { None } else { Some(challenge()) }
    }
}

/// A running proxy (it stops when the test's runtime stops).
#[derive(Clone)]
pub(crate) struct Proxy {
    addr: String,
    state: Arc<Mutex<State>>,
}

impl Proxy {
    /// Start a proxy in front of `upstream` (`host:port`) on a free loopback port.
    pub(crate) async fn start(upstream: &str) -> Self {
        Self::start_inner(upstream, None).await
    }

    /// Like [`Proxy::start`], with token auth (a bearer challenge and a `/token` endpoint
    /// that wants `user`/`password` as HTTP Basic).
    pub(crate) async fn start_with_bearer(upstream: &str, user: &str, password: &str) -> Self {
        Self::start_inner(upstream, Some((user, password))).await
    }

    /// Invalidate every token handed out (as if they expired).
    pub(crate) fn revoke_tokens(&self) {
        if let Some(g) = self.state.lock().expect("proxy state").bearer.as_mut() {
            g.issued.clear();
        }
    }

    async fn start_inner(upstream: &str, bearer: Option<(&str, &str)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr").to_string();
        let state = Arc::new(Mutex::new(State {
            bearer: bearer.map(|(user, password)| BearerGate {
                user: user.to_owned(),
                password: password.to_owned(),
                realm: format!("http://{addr}/token"),
                issued: HashMap::new(),
                counter: 0,
            }),
            ..State::default()
        }));
        let upstream = upstream.to_owned();
        let st = state.clone();
        let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    return;
                };
                let st = st.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _ = handle(client, &upstream, st).await;
                    drop(permit);
                });
            }
        });
        Self { addr, state }
    }

    /// `127.0.0.1:<port>`, to use as the registry in references.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Everything logged so far.
    pub(crate) fn requests(&self) -> Vec<Logged> {
        self.state.lock().expect("proxy state").log.clone()
    }

    /// How many requests of `method` and `kind` were seen.
    pub(crate) fn count(&self, method: &str, kind: Kind) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.kind == kind)
            .count()
    }

    /// Hold every answer back by `delay` from now on (a registry that far away).
    pub(crate) fn set_delay(&self, delay: std::time::Duration) {
        self.state.lock().expect("proxy state").delay = delay;
    }

    /// Forget the log.
    pub(crate) fn reset(&self) {
        self.state.lock().expect("proxy state").log.clear();
    }

    /// Answer requests with `method` whose path contains `path_part` with `fault`.
    pub(crate) fn inject(&self, method: &str, path_part: &str, fault: Fault) {
        self.push_rule(method, path_part, fault, None);
    }

    /// Answer the next `times` requests with `method` whose path contains `path_part` with
    /// `fault`; later ones pass through to the registry (transient failures, retry tests, a
    /// tag that reads differently once).
    pub(crate) fn inject_times(&self, method: &str, path_part: &str, fault: Fault, times: usize) {
        self.push_rule(method, path_part, fault, Some(times));
    }

    fn push_rule(&self, method: &str, path_part: &str, fault: Fault, remaining: Option<usize>) {
        self.state.lock().expect("proxy state").rules.push(Rule {
            method: method.to_owned(),
            path_part: path_part.to_owned(),
            fault,
            remaining,
        });
    }

    /// How many requests with `method` whose path contains `path_part` were seen.
    pub(crate) fn count_path(&self, method: &str, path_part: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path.contains(path_part))
            .count()
    }

    /// Remove all injected faults.
    pub(crate) fn clear_faults(&self) {
        self.state.lock().expect("proxy state").rules.clear();
    }
}

/// Classify a request path.
pub(crate) fn classify(path: &str) -> Kind {
    let path = path.split('?').next().unwrap_or(path);
    if path == "/v2/" || path == "/v2" {
        return Kind::Ping;
    }
    if path == "/token" {
        return Kind::Token;
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Kind::Other;
    };
    if rest.contains("/blobs/uploads") {
        Kind::Upload
    } else if rest.contains("/manifests/") {
        Kind::Manifest
    } else if rest.contains("/blobs/") {
        Kind::Blob
    } else if rest.contains("/referrers/") {
        Kind::Referrers
    } else if rest.ends_with("/tags/list") {
        Kind::Tags
    } else {
        Kind::Other
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

async fn handle(
    mut client: TcpStream,
    upstream: &str,
    state: Arc<Mutex<State>>,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    let (mut server_read, mut server_write) = server.into_split();
    let (mut client_read, client_write) = client.split();
    let client_write = Arc::new(tokio::sync::Mutex::new(client_write));

    // Responses: copied from the registry to the client, chunk by chunk, under the lock so
    // an injected answer never interleaves with a registry answer.
    // Log entries of requests forwarded to the registry whose answer has not begun (at most
    // one: the client does not pipeline). The first chunk after a request is its answer's.
    let waiting: Arc<Mutex<std::collections::VecDeque<u64>>> = Arc::default();
    let cw = client_write.clone();
    let st = state.clone();
    let wq = waiting.clone();
    let responses = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = server_read.read(&mut buf).await?;
            if n == 0 {
                let mut w = cw.lock().await;
                let _ = w.shutdown().await;
                return Ok::<(), std::io::Error>(());
            }
            let first = wq.lock().expect("proxy queue").pop_front();
            if let Some(entry) = first {
                hold_back(&st, entry).await;
            }
            cw.lock().await.write_all(&buf[..n]).await?;
        }
    };

    let requests = async {
        let mut buf: Vec<u8> = Vec::new();
        loop {
            // Read one request head.
            let head_end = loop {
                if let Some(end) = find_head_end(&buf) {
                    break end;
                }
                if buf.len() > MAX_HEAD {
                    return Ok(());
                }
                let mut chunk = [0u8; 16 * 1024];
                let n = client_read.read(&mut chunk).await?;
                if n == 0 {
                    let _ = server_write.shutdown().await;
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let mut lines = head.split("\r\n");
            let request_line = lines.next().unwrap_or_default();
            let mut parts = request_line.split(' ');
            let method = parts.next().unwrap_or_default().to_owned();
            let path = parts.next().unwrap_or_default().to_owned();
            let mut content_length = 0usize;
            let mut authorization: Option<String> = None;
            for line in lines {
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("authorization") {
                        authorization = Some(v.trim().to_owned());
                    }
                    if k.eq_ignore_ascii_case("content-length") {
                        content_length = v.trim().parse().unwrap_or(0);
                    }
                    if k.eq_ignore_ascii_case("transfer-encoding") {
                        // Not supported by this proxy: drop the connection.
                        return Ok(());
                    }
                }
            }
            // Read the body.
            while buf.len() < head_end + content_length {
                let mut chunk = vec![0u8; 64 * 1024];
                let n = client_read.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let request: Vec<u8> = buf.drain(..head_end + content_length).collect();
            let fault = {
                let mut st = state.lock().expect("proxy state");
                let entry = st.next_id;
                st.next_id += 1;
                st.log.push(Logged {
                    method: method.clone(),
                    path: path.clone(),
                    kind: classify(&path),
                    started: std::time::Instant::now(),
                    answered: None,
                    id: entry,
                });
                let body = &request[head_end..];
                let rule = st
                    .rules
                    .iter_mut()
                    .find(|r| {
                        r.method == method
                            && path.contains(r.path_part.as_str())
                            && r.remaining != Some(0)
                    })
                    .map(|r| {
                        if let Some(n) = r.remaining.as_mut() {
                            *n -= 1;
                        }
                        r.fault.clone()
                    });
                // A fault injected for the token endpoint replaces the gate's own answer
                // (hostile token responses); elsewhere the gate decides first.
                let fault = if path.starts_with("/token") && rule.is_some() {
                    rule
                } else {
                    st.gate(&method, &path, authorization.as_deref(), body)
                        .or(rule)
                };
                (fault, entry)
            };
            let entry = fault.1;
            match fault.0 {
                None => {
                    waiting.lock().expect("proxy queue").push_back(entry);
                    server_write.write_all(&request).await?
                }
                Some(f) if f.close_without_answer => {
                    let mut w = client_write.lock().await;
                    let _ = w.shutdown().await;
                    return Ok(());
                }
                Some(f) => {
                    hold_back(&state, entry).await;
                    let mut w = client_write.lock().await;
                    let mut out = format!("HTTP/1.1 {} Injected\r\n", f.status);
                    for (k, v) in &f.headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    if f.content_length {
                        let len = f.declared_length.unwrap_or(f.body.len() as u64);
                        out.push_str(&format!("Content-Length: {len}\r\n"));
                    }
                    out.push_str("Connection: close\r\n\r\n");
                    w.write_all(out.as_bytes()).await?;
                    if method != "HEAD" && f.endless {
                        let mut sent = 0u64;
                        while sent < ENDLESS_CAP && !f.body.is_empty() {
                            if w.write_all(&f.body).await.is_err() {
                                break;
                            }
                            sent += f.body.len() as u64;
                        }
                    } else if method != "HEAD" {
                        match f.trickle {
                            None => w.write_all(&f.body).await?,
                            Some(pause) => {
                                for b in &f.body {
                                    w.write_all(std::slice::from_ref(b)).await?;
                                    w.flush().await?;
                                    tokio::time::sleep(pause).await;
                                }
                            }
                        }
                    }
                    let _ = w.shutdown().await;
                    return Ok(());
                }
            }
        }
    };

    tokio::select! {
        r = responses => r,
        r = requests => r,
    }
}

/// Wait out the proxy's delay for the answer to request `id`, then note when it goes out.
async fn hold_back(state: &Mutex<State>, id: u64) {
    let (delay, started) = {
        let st = state.lock().expect("proxy state");
        (
            st.delay,
            st.log.iter().rev().find(|r| r.id == id).map(|r| r.started),
        )
    };
    if let Some(started) = started
        && !delay.is_zero()
    {
        tokio::time::sleep_until((started + delay).into()).await;
    }
    if let Some(r) = state
        .lock()
        .expect("proxy state")
        .log
        .iter_mut()
        .rev()
        .find(|r| r.id == id)
    {
        r.answered = Some(std::time::Instant::now());
    }
}
