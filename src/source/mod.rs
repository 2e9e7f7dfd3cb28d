//! Secret sources: fetching every reference of a plan at once.
//!
//! A source that several references share is fetched once. Local sources
//! (`file:`, `env:`) are read directly; Secrets Manager sources go through
//! `aws`, on a single-threaded tokio runtime that is shut down before this
//! module returns, so the caller can exec or fork with no runtime threads
//! left.

#![forbid(unsafe_code)]

pub mod aws;
pub mod local;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use tracing::debug;

use crate::error::Problem;
use crate::extract;
use crate::reference::{Reference, Source};
use crate::secret::Secret;

/// A resolved reference: the delivered bytes and what the plan shows about them.
pub struct Resolved {
    pub secret: Secret,
    /// The Secrets Manager version ID, for AWS sources.
    pub version_id: Option<String>,
}

/// Why one reference could not be resolved; the caller adds the subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub message: String,
    pub hint: Option<String>,
}

impl SourceError {
    pub fn into_problem(self, subject: impl Into<String>) -> Problem {
        Problem { subject: subject.into(), message: self.message, hint: self.hint }
    }
}

impl From<aws::AwsError> for SourceError {
    fn from(error: aws::AwsError) -> SourceError {
        let message = if error.message.is_empty() { error.code } else { format!("{}: {}", error.code, error.message) };
        SourceError { message, hint: error.hint }
    }
}

/// How long the runtime may take to stop its blocking threads (DNS lookups).
const RUNTIME_SHUTDOWN: Duration = Duration::from_millis(100);

/// Tells whether reading the local sources of `references` can wait
/// indefinitely, on a `file:` path that is not a regular file (a FIFO,
/// `/dev/stdin`). Regular files and variables are read at once.
///
/// A path swapped for a FIFO after this check makes the read wait with the
/// stop signals queued. Only someone who can already change the secret can
/// swap the path.
pub fn local_read_may_block(references: &[&Reference]) -> bool {
    references.iter().any(|reference| match &reference.source {
        Source::File(path) => !local::is_regular_file(path),
        Source::Aws(_) | Source::Env(_) => false,
    })
}

/// Resolves every reference, returning one result per reference in order.
/// `stop` is polled alongside the Secrets Manager requests: a future that
/// never completes, or one that ends the process (`FetchGuard::stop_signal`).
pub fn resolve_all(
    references: &[&Reference],
    options: &aws::Options,
    stop: impl Future<Output = Infallible>,
) -> Vec<Result<Resolved, SourceError>> {
    let mut results: Vec<Option<Result<Resolved, SourceError>>> = references.iter().map(|_| None).collect();
    resolve_each(references, options, stop, |index, result| results[index] = Some(result));
    results.into_iter().map(|result| result.expect("every reference has a result")).collect()
}

/// Resolves every reference and calls `on_resolved` once per reference,
/// with its index, as soon as its value is known: local sources first, then
/// Secrets Manager secrets batch by batch, as the responses arrive. The
/// caller can so deliver early values while later batches are in flight.
pub fn resolve_each(
    references: &[&Reference],
    options: &aws::Options,
    stop: impl Future<Output = Infallible>,
    mut on_resolved: impl FnMut(usize, Result<Resolved, SourceError>),
) {
    // Step 1: distinct sources, each fetched once, and the references that
    // use each. A hash map, because ordering `file:` paths compares them
    // component by component, which took a sixth of the instructions of a
    // launch with 100 `file:` secrets.
    let mut distinct: HashMap<&Source, usize> = HashMap::with_capacity(references.len());
    let mut sources: Vec<&Source> = Vec::new();
    let mut users: Vec<Vec<usize>> = Vec::new();
    for (index, reference) in references.iter().enumerate() {
        let source = *distinct.entry(&reference.source).or_insert_with(|| {
            sources.push(&reference.source);
            users.push(Vec::new());
            sources.len() - 1
        });
        users[source].push(index);
    }

    // Step 2: fetch, and apply each fetched value to its references at once.
    // The fetched value is dropped, and so wiped, right after.
    fetch_each(&sources, options, stop, |source, fetched| {
        for &index in &users[source] {
            on_resolved(index, select(references[index], &fetched));
        }
    });
}

/// Applies a reference's key or pointer, if any, to its fetched source.
fn select(reference: &Reference, fetched: &Result<Resolved, SourceError>) -> Result<Resolved, SourceError> {
    let fetched = fetched.as_ref().map_err(Clone::clone)?;
    let secret = match &reference.selector {
        None => Secret::copy_from(fetched.secret.expose()),
        Some(selector) => extract::select(&fetched.secret, selector).map_err(|error| SourceError {
            message: error.to_string(),
            hint: Some(
                "check the key name (case-sensitive) against the stored JSON, or drop the #key part to get the whole value".into(),
            ),
        })?,
    };
    Ok(Resolved { secret, version_id: fetched.version_id.clone() })
}

/// Fetches every source and calls `on_fetched` once per source, with its
/// index: local sources at once, Secrets Manager ones as their batch
/// response arrives.
fn fetch_each(
    sources: &[&Source],
    options: &aws::Options,
    stop: impl Future<Output = Infallible>,
    mut on_fetched: impl FnMut(usize, Result<Resolved, SourceError>),
) {
    let mut aws_indexes = Vec::new();
    let mut aws_secrets = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        let local = match source {
            Source::Aws(secret) => {
                aws_indexes.push(index);
                aws_secrets.push(secret.clone());
                continue;
            }
            Source::File(path) => local::read_file(path),
            Source::Env(var) => local::read_env(var),
        };
        let fetched = local
            .map(|secret| Resolved { secret, version_id: None })
            .map_err(|error| SourceError { message: error.to_string(), hint: local_hint(&error) });
        on_fetched(index, fetched);
    }
    if aws_secrets.is_empty() {
        return;
    }

    debug!(secrets = aws_secrets.len(), "fetching from Secrets Manager");
    run_async(async {
        let mut fetch = pin!(aws::fetch_each(&aws_secrets, options, |aws_index, outcome| {
            let fetched = outcome
                .map(|fetched| Resolved { secret: fetched.secret, version_id: fetched.version_id })
                .map_err(SourceError::from);
            on_fetched(aws_indexes[aws_index], fetched);
        }));
        let mut stop = pin!(stop);
        poll_fn(|context| {
            if let Poll::Ready(never) = stop.as_mut().poll(context) {
                match never {}
            }
            fetch.as_mut().poll(context)
        })
        .await
    });
}

fn local_hint(error: &local::LocalError) -> Option<String> {
    match error {
        local::LocalError::Read { .. } => Some("check the path and its permissions".into()),
        local::LocalError::TooLarge { .. } => Some("secrets larger than 1 MiB are not supported".into()),
        local::LocalError::NotRegular { .. } => Some("name a file, not a directory".into()),
        local::LocalError::EnvMissing(_) => Some("export the variable before starting secretfd".into()),
    }
}

/// Runs a future on a fresh single-threaded runtime and shuts the runtime
/// down before returning.
pub fn run_async<F: Future>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building a single-threaded tokio runtime only fails when the system is out of resources");
    let output = runtime.block_on(future);
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    output
}
