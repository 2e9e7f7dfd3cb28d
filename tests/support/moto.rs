//! A real Secrets Manager API for the tests: moto, served on 127.0.0.1 by
//! `tests/support/moto_harness.py`, and helpers that create and change
//! secrets through its JSON API.
//!
//! The harness process blocks reading a pipe on its stdin and exits when that
//! pipe closes. The write end lives in the [`Moto`] value, so the harness
//! stops when the test process exits, whether the tests passed, failed or the
//! process was killed.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use super::http;

/// Time allowed for Python to import moto and report its port. Importing moto
/// takes a few seconds, longer while the other tests compile or run.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The message of every failure to start moto, with the fix.
const MOTO_MISSING: &str = "moto is not installed or cannot start: run scripts/test, which \
    installs moto[server] into .venv-test, or set SECRETFD_TEST_PYTHON to a Python that has it";

/// A SigV4-shaped `Authorization` header. Moto does not check signatures, but
/// it reads the service name from the credential scope to pick its backend.
const FAKE_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 \
    Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, \
    SignedHeaders=host, Signature=0";

/// A moto server process on 127.0.0.1.
///
/// Secrets are kept in moto's memory for the life of the process. Tests that
/// share one instance avoid name collisions with [`super::unique_name`].
pub struct Moto {
    /// The harness, with its stdin pipe still open: closing it stops moto.
    child: Child,
    port: u16,
}

impl Moto {
    /// Returns the test binary's shared moto, starting it on first use.
    ///
    /// It is never dropped, so it runs until the test process exits and the
    /// kernel closes the harness's stdin. Tests that count requests use their
    /// own [`Moto::start`] instead, because other tests' requests land in the
    /// shared log.
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    /// Starts a moto process for the caller alone. Dropping it kills the
    /// process.
    ///
    /// # Panics
    ///
    /// When moto is not installed or does not report its port in time.
    pub fn start() -> Moto {
        let python = harness_python();
        let script = harness_script();
        let mut child = Command::new(&python)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("{MOTO_MISSING}\n  cannot run {}: {error}", python.display()));

        // The harness prints its port on one line once it listens. The line is
        // read on a thread so that a harness that hangs cannot hang the test.
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let result = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = sender.send(result);
        });
        let reply = receiver.recv_timeout(STARTUP_TIMEOUT);

        let problem = match reply {
            Ok(Ok(line)) => match line.trim().parse::<u16>() {
                Ok(port) if port != 0 => return Moto { child, port },
                _ if line.is_empty() => "exited before reporting its port".to_string(),
                _ => format!("reported {line:?} instead of a port"),
            },
            Ok(Err(error)) => format!("reading its port failed: {error}"),
            Err(_) => format!("did not report its port within {STARTUP_TIMEOUT:?}"),
        };
        let _ = child.kill();
        let status = child.wait();
        panic!(
            "{MOTO_MISSING}\n  {} {} {problem} (exit: {status:?}). Its stderr is printed above.",
            python.display(),
            script.display(),
        );
    }

    /// Returns the endpoint URL for `AWS_ENDPOINT_URL`, such as
    /// `http://127.0.0.1:41235`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Returns the harness process's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Returns the requests moto received since it started or since
    /// [`Moto::reset_requests`], in order. Each entry is the `X-Amz-Target`
    /// header, such as `secretsmanager.BatchGetSecretValue`, or `METHOD PATH`
    /// for a request without one.
    pub fn requests(&self) -> Vec<String> {
        let response = http::send(self.addr(), "GET", "/_harness/requests", &[], b"")
            .unwrap_or_else(|error| panic!("reading moto's request log failed: {error}"));
        assert_eq!(response.status, 200, "request log: {}", response.body_text());
        serde_json::from_slice(&response.body)
            .unwrap_or_else(|error| panic!("request log is not a JSON list of strings: {error}"))
    }

    /// Clears the request log.
    pub fn reset_requests(&self) {
        let response = http::send(self.addr(), "POST", "/_harness/reset", &[], b"")
            .unwrap_or_else(|error| panic!("clearing moto's request log failed: {error}"));
        assert_eq!(response.status, 200, "request log reset: {}", response.body_text());
    }

    /// Calls one Secrets Manager operation and returns the HTTP status and the
    /// JSON reply. `target` is an operation name such as `GetSecretValue`, or
    /// a whole `X-Amz-Target` value such as `secretsmanager.GetSecretValue`.
    ///
    /// # Panics
    ///
    /// When moto cannot be reached or its reply is not JSON.
    pub fn call(&self, target: &str, body: &Value) -> (u16, Value) {
        let target = if target.contains('.') { target.to_string() } else { format!("secretsmanager.{target}") };
        let headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", target.as_str()),
            ("Authorization", FAKE_AUTHORIZATION),
        ];
        let request_body = body.to_string();
        let response = http::send(self.addr(), "POST", "/", &headers, request_body.as_bytes())
            .unwrap_or_else(|error| panic!("{target} to moto failed: {error}"));
        let reply = serde_json::from_slice(&response.body).unwrap_or_else(|error| {
            panic!(
                "{target}: moto returned {} with a body that is not JSON ({error}): {}",
                response.status,
                response.body_text()
            )
        });
        (response.status, reply)
    }

    /// Creates a secret with a `SecretString` and returns its ARN.
    pub fn create_secret_string(&self, name: &str, value: &str) -> String {
        let reply = self.call_ok("CreateSecret", &json!({ "Name": name, "SecretString": value }));
        string_field(&reply, "ARN")
    }

    /// Creates a secret with a `SecretBinary` and returns its ARN.
    pub fn create_secret_binary(&self, name: &str, value: &[u8]) -> String {
        let reply = self.call_ok("CreateSecret", &json!({ "Name": name, "SecretBinary": base64_encode(value) }));
        string_field(&reply, "ARN")
    }

    /// Stores a new `SecretString` version, which becomes `AWSCURRENT` while
    /// the previous one becomes `AWSPREVIOUS`, and returns its version ID.
    pub fn put_secret_value(&self, name: &str, value: &str) -> String {
        let reply = self.call_ok("PutSecretValue", &json!({ "SecretId": name, "SecretString": value }));
        string_field(&reply, "VersionId")
    }

    /// Stores a new `SecretBinary` version and returns its version ID.
    pub fn put_secret_binary(&self, name: &str, value: &[u8]) -> String {
        let reply = self.call_ok("PutSecretValue", &json!({ "SecretId": name, "SecretBinary": base64_encode(value) }));
        string_field(&reply, "VersionId")
    }

    /// Deletes a secret. Without `force` it is only scheduled for deletion
    /// (30 days), so reading it fails with `InvalidRequestException`. With
    /// `force` it is gone at once and reading it fails with
    /// `ResourceNotFoundException`.
    pub fn delete_secret(&self, name: &str, force: bool) {
        let body = if force {
            json!({ "SecretId": name, "ForceDeleteWithoutRecovery": true })
        } else {
            json!({ "SecretId": name })
        };
        self.call_ok("DeleteSecret", &body);
    }

    /// Returns a `secretfd` command whose AWS endpoint is this moto.
    pub fn secretfd(&self) -> Command {
        super::secretfd_with_endpoint(&self.endpoint())
    }

    /// Calls an operation and panics with moto's reply unless it succeeded.
    fn call_ok(&self, target: &str, body: &Value) -> Value {
        let (status, reply) = self.call(target, body);
        assert_eq!(status, 200, "{target} failed: {reply}");
        reply
    }
}

impl Drop for Moto {
    /// Kills the harness by PID and reaps it. Only exclusive instances get
    /// here: the shared one lives in a static, which is never dropped.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns the path of the harness script that serves moto.
pub fn harness_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_harness.py")
}

/// Finds the Python that has moto: `SECRETFD_TEST_PYTHON` (set by
/// scripts/test), else the repository's `.venv-test`.
///
/// # Panics
///
/// When neither exists, with the install hint.
pub fn harness_python() -> PathBuf {
    if let Some(python) = std::env::var_os("SECRETFD_TEST_PYTHON").filter(|value| !value.is_empty()) {
        return PathBuf::from(python);
    }
    let venv_python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python");
    if venv_python.exists() {
        return venv_python;
    }
    panic!("{MOTO_MISSING}\n  SECRETFD_TEST_PYTHON is not set and {} does not exist", venv_python.display());
}

fn string_field(reply: &Value, field: &str) -> String {
    reply[field].as_str().unwrap_or_else(|| panic!("moto's reply has no string {field}: {reply}")).to_string()
}

/// Encodes bytes as standard base64 with padding (RFC 4648, section 4), the
/// encoding of blob fields such as `SecretBinary` in the AWS JSON protocol.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b0 = u32::from(group[0]);
        let b1 = group.get(1).copied().map_or(0, u32::from);
        let b2 = group.get(2).copied().map_or(0, u32::from);
        let bits = (b0 << 16) | (b1 << 8) | b2;

        let sextet = |shift: u32| char::from(ALPHABET[((bits >> shift) & 0x3f) as usize]);
        encoded.push(sextet(18));
        encoded.push(sextet(12));
        encoded.push(if group.len() > 1 { sextet(6) } else { '=' });
        encoded.push(if group.len() > 2 { sextet(0) } else { '=' });
    }
    encoded
}
