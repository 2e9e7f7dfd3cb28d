//! Load: 200 `secretfd run` processes started at once against one moto,
//! each with a secret of its own. Every process must succeed, and every
//! child must see its own value and no other.

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{Moto, unique_name, wait_with_timeout};

const PROCESSES: usize = 200;

/// Bound on the whole test, from the first spawn to the last exit. Moto
/// serves requests one Python thread at a time, so 200 launches take seconds.
const LIMIT: Duration = Duration::from_secs(240);

/// Per-run `--timeout`. The default of 30 seconds is meant for one launch,
/// not for 200 that queue at one moto on a machine that may be running
/// other tests.
const RUN_TIMEOUT: &str = "120s";

#[test]
fn two_hundred_runs_each_see_own_value() {
    // A moto of this test's own, so that the request counts below are this
    // test's alone.
    let moto = Moto::start();
    let secrets: Vec<(String, String)> = (0..PROCESSES)
        .map(|n| {
            let name = unique_name(&format!("load-{n:03}"));
            let value = format!("value-{n:03}-{}", unique_name("canary"));
            moto.create_secret_string(&name, &value);
            (name, value)
        })
        .collect();
    moto.reset_requests();

    // Spawned in a tight loop, with nothing in between, so the runs overlap.
    let start = Instant::now();
    let children: Vec<Child> = secrets
        .iter()
        .map(|(name, _)| {
            moto.secretfd()
                .args(["--timeout", RUN_TIMEOUT, "run", "--stdin", name, "--", "cat"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawning secretfd failed")
        })
        .collect();

    let mut failures = Vec::new();
    for (child, (name, value)) in children.into_iter().zip(&secrets) {
        let remaining = LIMIT.saturating_sub(start.elapsed());
        let finished = wait_with_timeout(child, remaining);
        if finished.timed_out {
            failures.push(format!("{name}: still running after {LIMIT:?}"));
        } else if finished.code() != Some(0) {
            failures.push(format!("{name}: exit {:?}: {}", finished.code(), finished.stderr_text().trim()));
        } else if finished.stdout_text() != *value {
            failures.push(format!("{name}: the child saw {:?}, not its own value", finished.stdout_text()));
        }
    }
    let elapsed = start.elapsed();
    assert!(failures.is_empty(), "{} of {PROCESSES} runs failed:\n{}", failures.len(), failures.join("\n"));

    // Each run has one secret, which goes through one GetSecretValue (more
    // only where the SDK retried a failed attempt), never a batch.
    let requests = moto.requests();
    let batches = requests.iter().filter(|request| *request == "secretsmanager.BatchGetSecretValue").count();
    let singles = requests.iter().filter(|request| *request == "secretsmanager.GetSecretValue").count();
    assert!(singles >= PROCESSES, "{singles} GetSecretValue requests for {PROCESSES} runs");
    assert_eq!(batches, 0, "BatchGetSecretValue requests: {batches}");
    eprintln!("{PROCESSES} concurrent runs finished in {elapsed:?}");
}
