//! Small servers on 127.0.0.1 for the fault cases that moto cannot produce:
//! AWS errors chosen by the test, throttling, malformed replies and servers
//! that never reply.
//!
//! Each server listens on a port chosen by the kernel and serves every
//! connection on its own thread. Dropping the server stops it: the accept
//! loop ends, open connections are shut down and every thread is joined.

use std::io::{BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use serde_json::Value;

use super::http::{self, find_header};

/// A request received by a [`StubServer`].
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The `X-Amz-Target` header, such as `secretsmanager.GetSecretValue`, or
    /// an empty string when the request has none.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// Returns the first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Parses the body as JSON.
    ///
    /// # Panics
    ///
    /// When the body is not JSON.
    pub fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!("{} body is not JSON ({error}): {}", self.target, String::from_utf8_lossy(&self.body))
        })
    }
}

/// A reply for a [`StubServer`] to send.
///
/// `Content-Length` is added from the body unless the handler set it. A
/// handler can set a larger one together with `Connection: close` to send a
/// truncated reply. With `Connection: close` the server closes the connection
/// after the reply, otherwise the connection stays open for the next request.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Returns a reply with the given status and no headers or body.
    pub fn new(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }

    /// Returns an AWS JSON protocol reply (`application/x-amz-json-1.1`).
    pub fn json(status: u16, body: &Value) -> Response {
        Response::new(status)
            .with_header("Content-Type", "application/x-amz-json-1.1")
            .with_body(body.to_string().into_bytes())
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }
}

/// Returns an AWS JSON protocol error reply, as Secrets Manager sends it: the
/// error code in the body's `__type` and in the `x-amzn-ErrorType` header,
/// e.g. `aws_error(400, "ThrottlingException", "Rate exceeded")`.
pub fn aws_error(status: u16, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "__type": code, "message": message });
    Response::json(status, &body)
        .with_header("x-amzn-ErrorType", code)
        .with_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// An HTTP/1.1 server that replies to every request with its handler's response,
/// keeping connections alive between requests.
pub struct StubServer {
    server: LoopbackServer,
    requests: Arc<Mutex<Vec<String>>>,
}

impl StubServer {
    /// Starts a server on 127.0.0.1 that replies with what `handler` returns.
    pub fn new(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> StubServer {
        let handler: Arc<Handler> = Arc::new(handler);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let server = LoopbackServer::start(move |stream| {
            serve_http(stream, handler.as_ref(), &log);
        });
        StubServer { server, requests }
    }

    /// Returns the endpoint URL for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Returns the requests received so far, in order, in the format of
    /// [`super::Moto::requests`]: the `X-Amz-Target` header, or `METHOD PATH`
    /// for a request without one.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Returns the number of TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.server.connection_count()
    }
}

/// A server that accepts connections and reads whatever arrives, but never
/// replies: the peer of every timeout test.
pub struct SilentServer {
    server: LoopbackServer,
}

impl SilentServer {
    /// Starts a silent server on 127.0.0.1.
    pub fn new() -> SilentServer {
        let server = LoopbackServer::start(|mut stream| {
            let mut buffer = [0; 4096];
            while matches!(stream.read(&mut buffer), Ok(read) if read > 0) {}
        });
        SilentServer { server }
    }

    /// Returns the endpoint URL for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Returns the number of TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.server.connection_count()
    }
}

/// Serves HTTP requests on one connection until the peer closes it, a reply
/// sets `Connection: close`, or the server stops.
fn serve_http(stream: &TcpStream, handler: &Handler, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream);
    let mut writer = stream;
    loop {
        let message = match http::read_message(&mut reader, false) {
            Ok(Some(message)) => message,
            Ok(None) => return,
            Err(error) => {
                // A test may shut its client down mid-request, which is fine. A
                // malformed request from secretfd is not, so it is printed.
                eprintln!("stub server: reading a request failed: {error}");
                return;
            }
        };

        let mut words = message.start_line.split_whitespace();
        let method = words.next().unwrap_or("").to_string();
        let path = words.next().unwrap_or("").to_string();
        let target = message.header("X-Amz-Target").unwrap_or("").to_string();
        log.lock().unwrap().push(if target.is_empty() { format!("{method} {path}") } else { target.clone() });

        let request = Request { method, path, target, headers: message.headers, body: message.body };
        let response = handler(&request);

        let close =
            find_header(&response.headers, "Connection").is_some_and(|value| value.eq_ignore_ascii_case("close"));
        if writer.write_all(&encode_response(&response)).is_err() || close {
            return;
        }
    }
}

fn encode_response(response: &Response) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, reason_phrase(response.status));
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if find_header(&response.headers, "Content-Length").is_none() {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    head.push_str("\r\n");

    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&response.body);
    bytes
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// A TCP listener on 127.0.0.1 with one thread per connection, stopped and
/// joined on drop.
struct LoopbackServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    accept_thread: Option<JoinHandle<()>>,
}

struct ServerState {
    stopping: AtomicBool,
    connections: AtomicUsize,
    /// Clones of the accepted streams, shut down on drop to wake their
    /// threads from blocking reads.
    open_streams: Mutex<Vec<TcpStream>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl LoopbackServer {
    fn start(serve: impl Fn(&TcpStream) + Send + Sync + 'static) -> LoopbackServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|error| panic!("binding a stub server to 127.0.0.1 failed: {error}"));
        let addr = listener.local_addr().expect("listener has an address");
        let state = Arc::new(ServerState {
            stopping: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            open_streams: Mutex::new(Vec::new()),
            workers: Mutex::new(Vec::new()),
        });

        let serve = Arc::new(serve);
        let accept_state = Arc::clone(&state);
        let accept_thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_state.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                accept_state.connections.fetch_add(1, Ordering::SeqCst);
                if let Ok(clone) = stream.try_clone() {
                    accept_state.open_streams.lock().unwrap().push(clone);
                }
                let serve = Arc::clone(&serve);
                let worker = thread::spawn(move || {
                    serve(&stream);
                    // Dropping this handle alone would not close the socket,
                    // because the clone above keeps it open.
                    let _ = stream.shutdown(Shutdown::Both);
                });
                accept_state.workers.lock().unwrap().push(worker);
            }
        });

        LoopbackServer { addr, state, accept_thread: Some(accept_thread) }
    }

    fn connection_count(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        // The accept loop checks the flag after each connection, so one more
        // connection from here wakes it up to see it.
        self.state.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(accept_thread) = self.accept_thread.take() {
            let _ = accept_thread.join();
        }

        for stream in self.state.open_streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let workers: Vec<_> = self.state.workers.lock().unwrap().drain(..).collect();
        for worker in workers {
            let _ = worker.join();
        }
    }
}
