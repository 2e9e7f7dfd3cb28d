//! Throttling of BatchGetSecretValue: `secretfd run` against a loopback
//! server that throttles every batch call. Secrets Manager allows far fewer
//! BatchGetSecretValue requests per second than GetSecretValue requests, so
//! a throttled batch falls back to concurrent GetSecretValue calls at once,
//! without retrying the batch first.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::json;
use support::{Request, Response, StubServer, aws_error, run_with_timeout, secretfd_with_endpoint};

const LIMIT: Duration = Duration::from_secs(60);

/// How long a GetSecretValue reply waits for the other calls of the same
/// run to arrive, which they do only when secretfd sends them concurrently.
const GATHER_WAIT: Duration = Duration::from_secs(10);

/// Returns a GetSecretValue reply for `id`, whose value is `value-of-ID`.
fn secret_reply(id: &str) -> Response {
    Response::json(
        200,
        &json!({
            "ARN": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{id}-AbCdEf"),
            "Name": id,
            "SecretString": format!("value-of-{id}"),
            "VersionId": format!("version-of-{id}"),
            "VersionStages": ["AWSCURRENT"],
        }),
    )
}

/// Counts GetSecretValue calls that are in flight at the same time. Each
/// call waits until `expected` calls have arrived or [`GATHER_WAIT`] passes,
/// so calls sent one after another each wait out the full delay and the
/// peak stays at 1.
struct Gathering {
    expected: usize,
    arrived: Mutex<usize>,
    all_arrived: Condvar,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl Gathering {
    fn new(expected: usize) -> Gathering {
        Gathering {
            expected,
            arrived: Mutex::new(0),
            all_arrived: Condvar::new(),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    fn reply(&self, request: &Request) -> Response {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);

        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_arrived.notify_all();
        let (arrived, _) =
            self.all_arrived.wait_timeout_while(arrived, GATHER_WAIT, |count| *count < self.expected).unwrap();
        drop(arrived);

        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let id = request.body_json()["SecretId"].as_str().unwrap().to_owned();
        secret_reply(&id)
    }
}

fn count(requests: &[String], target: &str) -> usize {
    requests.iter().filter(|request| request.as_str() == target).count()
}

#[test]
fn throttled_batch_falls_back_to_concurrent_gets() {
    let gathering = Arc::new(Gathering::new(3));
    let handler_gathering = Arc::clone(&gathering);
    let server = StubServer::new(move |request| {
        if request.target.ends_with(".BatchGetSecretValue") {
            aws_error(400, "ThrottlingException", "Rate exceeded")
        } else {
            handler_gathering.reply(request)
        }
    });

    let finished = run_with_timeout(
        secretfd_with_endpoint(&server.endpoint()).args([
            "-v",
            "run",
            "--fd",
            "3=app/one",
            "--fd",
            "4=app/two",
            "--fd",
            "5=app/three",
            "--",
            "sh",
            "-c",
            "cat <&3; echo; cat <&4; echo; cat <&5",
        ]),
        LIMIT,
    );

    let stderr = finished.stderr_text();
    assert_eq!(finished.code(), Some(0), "{stderr}");
    assert_eq!(finished.stdout_text(), "value-of-app/one\nvalue-of-app/two\nvalue-of-app/three");
    assert!(!stderr.contains("value-of-"), "a value reached stderr: {stderr}");

    let requests = server.requests();
    assert_eq!(
        count(&requests, "secretsmanager.BatchGetSecretValue"),
        1,
        "the throttled batch was retried: {requests:?}"
    );
    assert_eq!(count(&requests, "secretsmanager.GetSecretValue"), 3, "{requests:?}");
    assert_eq!(gathering.peak.load(Ordering::SeqCst), 3, "the GetSecretValue calls were not concurrent");
}

#[test]
fn throttled_batches_fall_back_per_chunk() {
    // 25 secrets are two batches (20 and 5); both are throttled.
    let server = StubServer::new(|request| {
        if request.target.ends_with(".BatchGetSecretValue") {
            aws_error(400, "ThrottlingException", "Rate exceeded")
        } else {
            secret_reply(request.body_json()["SecretId"].as_str().unwrap())
        }
    });

    let mut command = secretfd_with_endpoint(&server.endpoint());
    command.arg("run");
    for n in 0..25 {
        command.arg("--fd").arg(format!("{}=bulk/{n:02}", n + 3));
    }
    // The child prints every descriptor's value, one per line, in order.
    // Through /dev/fd, because dash redirects only single-digit descriptors.
    let script = (0..25).map(|n| format!("cat /dev/fd/{}; echo", n + 3)).collect::<Vec<_>>().join("; ");
    command.args(["--", "sh", "-c", &script]);
    let finished = run_with_timeout(&mut command, LIMIT);

    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    let expected: String = (0..25).map(|n| format!("value-of-bulk/{n:02}\n")).collect();
    assert_eq!(finished.stdout_text(), expected);

    let requests = server.requests();
    assert_eq!(count(&requests, "secretsmanager.BatchGetSecretValue"), 2, "{requests:?}");
    assert_eq!(count(&requests, "secretsmanager.GetSecretValue"), 25, "{requests:?}");
}

#[test]
fn throttled_fallback_that_fails_starts_no_child() {
    // Both calls are throttled: the run fails closed, naming the AWS error
    // code, after the SDK's retries of each GetSecretValue.
    let server = StubServer::new(|_| aws_error(400, "ThrottlingException", "Rate exceeded"));
    let marker = std::env::temp_dir().join(support::unique_name("secretfd-throttle-child-ran"));
    let touch = format!("touch {}", marker.display());

    let finished = run_with_timeout(
        secretfd_with_endpoint(&server.endpoint()).args([
            "run",
            "--fd",
            "3=app/one",
            "--fd",
            "4=app/two",
            "--",
            "sh",
            "-c",
            &touch,
        ]),
        LIMIT,
    );

    let stderr = finished.stderr_text();
    assert_eq!(finished.code(), Some(125), "{stderr}");
    assert!(stderr.contains("ThrottlingException"), "{stderr}");
    assert!(stderr.contains("app/one"), "{stderr}");
    assert!(stderr.contains("app/two"), "{stderr}");
    assert!(!marker.exists(), "the child ran although the fetch failed");

    let requests = server.requests();
    assert_eq!(count(&requests, "secretsmanager.BatchGetSecretValue"), 1, "{requests:?}");
    assert!(count(&requests, "secretsmanager.GetSecretValue") >= 1, "{requests:?}");
}
