//! Fault injection: `secretfd run` against loopback servers that fail in the
//! ways networks, proxies and AWS fail.
//!
//! Every case must end either in success after retries, or in exit 125 with
//! a message that names the binding and the failure, within `--timeout`
//! plus one second, and without starting the child. Each test prints its
//! measured time (`cargo test --test faults -- --nocapture` shows them).
//!
//! The servers are the harness's `StubServer` and `SilentServer`, plus
//! `RawServer` below for what an HTTP-level stub cannot do: trickle bytes,
//! reset a connection mid-response, cut a body short.

mod support;

use std::io::{BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Request, Response, SilentServer, StubServer, aws_error, run_with_timeout, unique_name};

/// The `--timeout` of every case that is expected to fail.
const TIMEOUT: Duration = Duration::from_secs(3);
/// The slack the deadline allows on top of `--timeout`: process start-up,
/// runtime shutdown and the test's own polling.
const SLACK: Duration = Duration::from_secs(1);
/// How long a test waits before it kills a hung secretfd.
const KILL_AFTER: Duration = Duration::from_secs(30);

/// The bindings of every case: two current versions (one BatchGetSecretValue,
/// since a lone current version goes through GetSecretValue) and one pinned
/// version (GetSecretValue), so both request paths meet the fault.
const BINDINGS: [&str; 6] =
    ["--fd", "3=fault/current", "--fd", "5=fault/second", "--fd", "4=fault/pinned?version-stage=AWSPREVIOUS"];

/// The child's output when both secrets arrive.
const DELIVERED: &str = "value-of-fault/current;value-of-fault/pinned;value-of-fault/second;";

/// Creates a fresh directory and returns the path of a marker file in it,
/// which the child creates when it starts.
fn marker() -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name("secretfd-faults"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("child-started")
}

/// Runs `secretfd run --timeout 3s` with [`BINDINGS`] against `endpoint`; the
/// child prints both values and creates a marker file.
fn run_against(endpoint: &str) -> (support::Finished, bool) {
    let marker = marker();
    let mut command: Command = support::secretfd_with_endpoint(endpoint);
    command.args(["run", "--timeout", &format!("{}s", TIMEOUT.as_secs())]).args(BINDINGS);
    command.args(["--", "sh", "-c", "cat <&3; echo ';'; cat <&4; echo ';'; cat <&5; echo ';'; touch \"$0\""]);
    command.arg(&marker);
    let finished = run_with_timeout(&mut command, KILL_AFTER);
    let started = marker.exists();
    let _ = std::fs::remove_dir_all(marker.parent().unwrap());
    (finished, started)
}

/// Checks a case that must fail: exit 125 within the deadline, no child, and
/// one `secretfd: ` line per binding that contains every `expected` text.
fn expect_failure(case: &str, endpoint: &str, expected: &[&str]) -> String {
    let (finished, started) = run_against(endpoint);
    let stderr = finished.stderr_text();
    eprintln!("fault case {case}: exit {:?} after {:?}\n{stderr}", finished.code(), finished.elapsed);

    assert!(!finished.timed_out, "{case}: secretfd hung and was killed\n{stderr}");
    assert_eq!(finished.code(), Some(125), "{case}: {stderr}");
    assert!(finished.elapsed <= TIMEOUT + SLACK, "{case}: took {:?}\n{stderr}", finished.elapsed);
    assert!(!started, "{case}: the child started despite the failure");
    assert!(finished.output.stdout.is_empty(), "{case}: output on stdout");

    let lines: Vec<&str> = stderr.lines().collect();
    let bindings = ["--fd 3=fault/current", "--fd 5=fault/second", "--fd 4=fault/pinned"];
    assert_eq!(lines.len(), bindings.len(), "{case}: one line per binding expected:\n{stderr}");
    for (line, binding) in lines.iter().zip(bindings) {
        assert!(line.starts_with(&format!("secretfd: {binding}")), "{case}: {line}");
        for text in expected {
            assert!(line.contains(text), "{case}: {line:?} lacks {text:?}");
        }
    }
    stderr
}

/// Checks a case that must recover: exit 0 within the deadline with both values delivered.
fn expect_success(case: &str, endpoint: &str) {
    let (finished, started) = run_against(endpoint);
    eprintln!("fault case {case}: exit {:?} after {:?}", finished.code(), finished.elapsed);
    assert_eq!(finished.code(), Some(0), "{case}: {}", finished.stderr_text());
    assert!(finished.elapsed <= TIMEOUT + SLACK, "{case}: took {:?}", finished.elapsed);
    assert!(started, "{case}: the child did not run");
    assert_eq!(finished.stdout_text().replace('\n', ""), DELIVERED, "{case}");
}

/// Builds the reply of a healthy Secrets Manager: `value-of-ID` for every secret ID.
fn healthy(request: &Request) -> Response {
    let body = request.body_json();
    if request.target.ends_with("BatchGetSecretValue") {
        let values: Vec<Value> = body["SecretIdList"]
            .as_array()
            .expect("SecretIdList is an array")
            .iter()
            .map(|id| {
                let id = id.as_str().unwrap();
                json!({ "Name": id, "SecretString": format!("value-of-{id}"), "VersionId": "v1" })
            })
            .collect();
        Response::json(200, &json!({ "SecretValues": values, "Errors": [] }))
    } else {
        let id = body["SecretId"].as_str().unwrap();
        Response::json(200, &json!({ "Name": id, "SecretString": format!("value-of-{id}"), "VersionId": "v1" }))
    }
}

/// A handler that sends `fault` for the first `failures` requests of each
/// API operation, then replies as [`healthy`] does.
fn failing_first(failures: usize, fault: Response) -> impl Fn(&Request) -> Response + Send + Sync {
    let batch = AtomicUsize::new(0);
    let single = AtomicUsize::new(0);
    move |request| {
        let counter = if request.target.ends_with("BatchGetSecretValue") { &batch } else { &single };
        if counter.fetch_add(1, Ordering::SeqCst) < failures { fault.clone() } else { healthy(request) }
    }
}

#[test]
fn connection_refused_fails_fast() {
    // Bind a port, then close it: nothing listens there any more.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let stderr = expect_failure("connection refused", &endpoint, &["ConnectionError", "Connection refused"]);
    assert!(stderr.contains(&endpoint), "the message does not name the endpoint: {stderr}");
}

#[test]
fn silent_server_times_out() {
    let server = SilentServer::new();
    expect_failure("accepted but silent", &server.endpoint(), &["Timeout", "raise --timeout"]);
    assert!(server.connections() >= 1);
}

#[test]
fn slow_trickle_times_out() {
    // A complete, valid reply, sent one byte every 200 ms: about 30 s in all.
    let server = RawServer::new(|_, stream| {
        let Some(request) = read_request(stream) else { return };
        let reply = encode(&healthy(&request));
        for byte in reply {
            if stream.write_all(&[byte]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
    });
    expect_failure("slow trickle", &server.endpoint(), &["Timeout"]);
}

#[test]
fn reset_mid_response_fails() {
    let server = RawServer::new(|_, stream| reset_mid_response(stream));
    expect_failure("reset mid-response", &server.endpoint(), &["fault/"]);
    assert!(server.connections() >= 2, "no retry after a reset: {} connection(s)", server.connections());
}

#[test]
fn reset_once_then_success() {
    let server = RawServer::new(|index, stream| {
        if index < 2 {
            reset_mid_response(stream);
        } else {
            serve_healthy(stream);
        }
    });
    expect_success("reset mid-response, then success", &server.endpoint());
}

#[test]
fn http_500_fails_after_retries() {
    let server = StubServer::new(|_| aws_error(500, "InternalServiceError", "stub internal error"));
    expect_failure("HTTP 500", &server.endpoint(), &["InternalServiceError", "stub internal error"]);
    // The standard retry mode makes three attempts per operation.
    assert!(server.requests().len() >= 4, "no retries: {:?}", server.requests());
}

#[test]
fn http_503_without_aws_body_fails() {
    // What a load balancer in front of the endpoint sends: no AWS error code.
    let server = StubServer::new(|_| {
        Response::new(503).with_header("Content-Type", "text/html").with_body("<html>Service Unavailable</html>")
    });
    expect_failure(
        "HTTP 503 from a proxy",
        &server.endpoint(),
        &["InvalidResponse", "HTTP 503 with no AWS error code"],
    );
}

#[test]
fn http_503_then_success() {
    let fault = aws_error(503, "ServiceUnavailable", "stub unavailable");
    let server = StubServer::new(failing_first(1, fault));
    expect_success("HTTP 503, then success", &server.endpoint());
}

#[test]
fn throttling_then_success() {
    let fault = aws_error(400, "ThrottlingException", "Rate exceeded");
    let server = StubServer::new(failing_first(1, fault));
    expect_success("ThrottlingException, then success", &server.endpoint());
}

#[test]
fn throttled_every_request_fails() {
    let server = StubServer::new(|_| aws_error(400, "ThrottlingException", "Rate exceeded"));
    expect_failure("throttled on every request", &server.endpoint(), &["ThrottlingException", "Rate exceeded"]);
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.ends_with(".GetSecretValue")),
        "no fallback to GetSecretValue after a throttled batch: {requests:?}"
    );
}

#[test]
fn malformed_json_fails() {
    let server = StubServer::new(|_| {
        Response::new(200).with_header("Content-Type", "application/x-amz-json-1.1").with_body("{\"SecretValues\": [")
    });
    let expected = ["InvalidResponse", "HTTP 200 with a body that is not valid JSON"];
    expect_failure("malformed JSON", &server.endpoint(), &expected);
}

#[test]
fn body_cut_short_fails() {
    // Content-Length promises 400 bytes; the connection closes after 20.
    let server = StubServer::new(|_| {
        Response::new(200)
            .with_header("Content-Type", "application/x-amz-json-1.1")
            .with_header("Content-Length", "400")
            .with_header("Connection", "close")
            .with_body("{\"SecretValues\": [{\"")
    });
    expect_failure("body cut short", &server.endpoint(), &["InvalidResponse"]);
}

#[test]
fn response_missing_secret_fails() {
    // A batch reply with neither a value nor an error for the secret, and a
    // single reply with neither SecretString nor SecretBinary.
    let server = StubServer::new(|request| {
        if request.target.ends_with("BatchGetSecretValue") {
            Response::json(200, &json!({ "SecretValues": [], "Errors": [] }))
        } else {
            Response::json(200, &json!({ "Name": "fault/pinned", "VersionId": "v1" }))
        }
    });
    let stderr = expect_failure("response missing the secret", &server.endpoint(), &[]);
    assert!(stderr.contains("--fd 3=fault/current: MissingFromResponse"), "{stderr}");
    assert!(stderr.contains("--fd 4=fault/pinned?version-stage=AWSPREVIOUS: NoValue"), "{stderr}");
}

/// The `--timeout` of the cases that go through the instance metadata
/// client. Its own retries against a silent server took about 5 s when
/// measured (three 1 s read timeouts plus backoff).
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Instance metadata is the last link of the credential chain. Here it
/// points at a loopback server that never replies (and, in the second run,
/// at a closed loopback port); secretfd must still give up within the
/// deadline and say which credential sources it looked at.
#[test]
fn metadata_unreachable_reports_no_credentials() {
    let silent = SilentServer::new();
    let closed_port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    let cases = [("silent", silent.endpoint()), ("refused", format!("http://127.0.0.1:{closed_port}"))];

    for (label, metadata) in cases {
        assert!(support::is_loopback_endpoint(&metadata));
        let marker = marker();
        let mut command = support::secretfd_offline();
        command
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &metadata)
            .args(["run", "--timeout", "10s", "--fd", "3=prod/db", "--", "touch"])
            .arg(&marker);
        let finished = run_with_timeout(&mut command, KILL_AFTER);
        let stderr = finished.stderr_text();
        eprintln!(
            "fault case no credentials, metadata {label}: exit {:?} after {:?}",
            finished.code(),
            finished.elapsed
        );

        assert_eq!(finished.code(), Some(125), "{label}: {stderr}");
        assert!(finished.elapsed <= METADATA_TIMEOUT + SLACK, "{label}: took {:?}", finished.elapsed);
        assert!(!marker.exists(), "{label}: the child started");
        let errors: Vec<&str> = stderr.lines().filter(|line| line.starts_with("secretfd: ")).collect();
        assert_eq!(errors.len(), 1, "{label}: {stderr}");
        assert!(errors[0].starts_with("secretfd: --fd 3=prod/db: NoCredentials: "), "{label}: {stderr}");
        assert!(stderr.contains("AWS_ACCESS_KEY_ID"), "{label}: {stderr}");
        assert!(stderr.contains("instance metadata"), "{label}: {stderr}");
    }
    assert!(silent.connections() >= 1, "secretfd never asked the metadata endpoint");
}

#[test]
fn metadata_unreachable_reports_no_region() {
    let silent = SilentServer::new();
    let marker = marker();
    let mut command = support::secretfd_offline();
    command
        .env_remove("AWS_REGION")
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", silent.endpoint())
        .args(["run", "--timeout", "10s", "--fd", "3=prod/db", "--", "touch"])
        .arg(&marker);
    let finished = run_with_timeout(&mut command, KILL_AFTER);
    let stderr = finished.stderr_text();
    eprintln!("fault case no region, metadata silent: exit {:?} after {:?}", finished.code(), finished.elapsed);

    assert_eq!(finished.code(), Some(125), "{stderr}");
    assert!(finished.elapsed <= METADATA_TIMEOUT + SLACK, "took {:?}", finished.elapsed);
    assert!(!marker.exists(), "the child started");
    // The SDK may log a warning per failed metadata request before it.
    let errors: Vec<&str> = stderr.lines().filter(|line| line.starts_with("secretfd: ")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].starts_with("secretfd: --fd 3=prod/db: NoRegion: no AWS region"), "{stderr}");
    assert!(errors[0].contains("set AWS_REGION"), "{stderr}");
    assert!(silent.connections() >= 1, "secretfd never asked the metadata endpoint");
}

/// Reads one HTTP request from `stream`, or `None` when the client went away.
fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let message = support::http::read_message(&mut reader, false).ok()??;
    let mut words = message.start_line.split_whitespace();
    let method = words.next().unwrap_or("").to_owned();
    let path = words.next().unwrap_or("").to_owned();
    let target = message.header("X-Amz-Target").unwrap_or("").to_owned();
    Some(Request { method, path, target, headers: message.headers, body: message.body })
}

/// Serves healthy replies on one connection until the client closes it.
fn serve_healthy(stream: &mut TcpStream) {
    while let Some(request) = read_request(stream) {
        if stream.write_all(&encode(&healthy(&request))).is_err() {
            return;
        }
    }
}

/// Sends the start of a reply, then closes the socket with request bytes
/// still unread, which makes the kernel send a TCP reset instead of a FIN.
fn reset_mid_response(stream: &mut TcpStream) {
    let mut start = [0; 16];
    if stream.read_exact(&mut start).is_err() {
        return;
    }
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n{\"SecretValues\": [{\"Name\"");
    // Let the rest of the request arrive, so it is unread at close.
    thread::sleep(Duration::from_millis(50));
}

fn encode(response: &Response) -> Vec<u8> {
    let mut bytes = format!("HTTP/1.1 {} Stub\r\n", response.status).into_bytes();
    for (name, value) in &response.headers {
        bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    bytes.extend_from_slice(format!("Content-Length: {}\r\n\r\n", response.body.len()).as_bytes());
    bytes.extend_from_slice(&response.body);
    bytes
}

/// A TCP server on 127.0.0.1 that hands each connection, with its index
/// (0 for the first), to `serve` on its own thread. Dropping it stops the
/// accept loop; connection threads end when their peer (secretfd) exits.
struct RawServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
}

impl RawServer {
    fn new(serve: impl Fn(usize, &mut TcpStream) + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let serve = Arc::new(serve);

        let counter = Arc::clone(&connections);
        let stop = Arc::clone(&stopping);
        let accept_thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let index = counter.fetch_add(1, Ordering::SeqCst);
                let serve = Arc::clone(&serve);
                thread::spawn(move || serve(index, &mut stream));
            }
        });
        RawServer { addr, connections, stopping, accept_thread: Some(accept_thread) }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        // One more connection wakes the accept loop to see the flag.
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(accept_thread) = self.accept_thread.take() {
            let _ = accept_thread.join();
        }
    }
}
