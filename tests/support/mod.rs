//! Support shared by secretfd's integration tests, included by each test
//! file with `mod support;`.
//!
//! - [`Moto`]: a real Secrets Manager API (moto) on 127.0.0.1, with helpers
//!   that create and change secrets.
//! - [`StubServer`] and [`SilentServer`]: small servers on 127.0.0.1 for
//!   fault cases such as AWS errors, throttling, malformed replies and
//!   timeouts.
//! - [`secretfd`] and its variants: the real binary with a clean environment.
//! - [`wait_with_timeout`] and [`run_with_timeout`]: bounded waits.
//!
//! Network safety: every `secretfd` command built here starts from an empty
//! environment with fake static credentials, a region, instance metadata
//! disabled, no shared config or credentials file, and an endpoint on
//! loopback. No profile, SSO or role setting of the test process reaches it.
//! The moto harness scrubs its own environment the same way.

// Each test file uses a different part of this module, so any one test
// binary leaves some items and re-exports unused.
#![allow(dead_code, unused_imports)]

pub mod http;
mod memory;
mod moto;
mod process;
mod stub;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub use memory::memory_hits;
pub use moto::{Moto, base64_encode, harness_python, harness_script};
pub use process::{Finished, open_fds, run_with_stdin, run_with_timeout, wait_with_timeout};
pub use stub::{Request, Response, SilentServer, StubServer, aws_error};

/// An endpoint on loopback where nothing listens (the discard port, 9), for
/// commands that must not reach any server: a connection attempt is refused
/// at once.
pub const CLOSED_ENDPOINT: &str = "http://127.0.0.1:9";

/// Returns a secret name that no other test of any test process on this
/// machine uses: `PREFIX-PID-N`. Tests that share one moto stay apart this
/// way.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Creates a fresh, empty directory under the system temp dir, named after
/// `label` and unique like [`unique_name`].
pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name(&format!("secretfd-test-{label}")));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Creates a secret in the shared moto whose value is the JSON object
/// `{"password": PASSWORD}`, and returns its unique name.
pub fn create_json_secret(prefix: &str, password: &str) -> String {
    let name = unique_name(prefix);
    Moto::shared().create_secret_string(&name, &serde_json::json!({ "password": password }).to_string());
    name
}

/// Returns a `secretfd` command that talks to the test binary's shared moto,
/// starting it on first use.
pub fn secretfd() -> Command {
    secretfd_with_endpoint(&Moto::shared().endpoint())
}

/// Returns a `secretfd` command that talks to `endpoint`, such as a
/// [`StubServer`]'s.
pub fn secretfd_with_endpoint(endpoint: &str) -> Command {
    isolated_command(env!("CARGO_BIN_EXE_secretfd"), endpoint)
}

/// Returns a `secretfd` command for cases that need no server, such as
/// `--help` or usage errors. Its endpoint is [`CLOSED_ENDPOINT`].
pub fn secretfd_offline() -> Command {
    secretfd_with_endpoint(CLOSED_ENDPOINT)
}

/// Returns a command for `program` with the test environment and nothing
/// else: `PATH=/usr/bin:/bin`, fake static credentials for `us-east-1`,
/// instance metadata disabled, `/dev/null` as the AWS config and credentials
/// files, and `AWS_ENDPOINT_URL=endpoint`. Stdin is closed unless the test
/// sets it.
///
/// # Panics
///
/// When `endpoint` is not on loopback, so that no test can point secretfd at
/// another host by mistake.
pub fn isolated_command(program: impl AsRef<OsStr>, endpoint: &str) -> Command {
    assert!(
        is_loopback_endpoint(endpoint),
        "test endpoint {endpoint:?} is not http://127.0.0.1:PORT or http://[::1]:PORT"
    );

    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL", endpoint)
        .stdin(Stdio::null());
    command
}

/// Tells whether `endpoint` is plain HTTP to 127.0.0.0/8 or [::1]. Host names
/// such as `localhost` are rejected because a resolver could map them
/// elsewhere.
pub fn is_loopback_endpoint(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let Ok(addr) = authority.parse::<std::net::SocketAddr>() else {
        return false;
    };
    addr.ip().is_loopback()
}
