//! AWS Secrets Manager source.
//!
//! One `SdkConfig` is loaded per run, with connect, attempt and operation
//! timeouts always set, and credentials are resolved once up front so that a
//! missing credential is one clear error instead of one per request. Current
//! versions are fetched with BatchGetSecretValue, at most 20 secrets a call
//! (the API's limit on `SecretIdList`); pinned versions with GetSecretValue.
//! All calls run concurrently and share one connection pool per run. A
//! throttled batch falls back at once to concurrent GetSecretValue calls,
//! whose request quota is far higher.
//!
//! Errors are classified by their AWS error code and the SDK's error type,
//! never by message text.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_secretsmanager as sm;
use sm::config::{ProvideCredentials, Region, SharedCredentialsProvider};
use sm::error::{ProvideErrorMetadata, SdkError};
use sm::operation::batch_get_secret_value::{BatchGetSecretValueError, BatchGetSecretValueOutput};
use sm::types::SecretValueEntry;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::reference::AwsSecret;
use crate::secret::Secret;

/// Maximum `SecretIdList` length of one BatchGetSecretValue call, per the
/// Secrets Manager API reference.
pub const BATCH_LIMIT: usize = 20;

/// Connect timeout, unless `--timeout` is shorter.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A fetched value with what the dry-run plan shows about it.
pub struct Fetched {
    pub secret: Secret,
    pub version_id: Option<String>,
}

/// A failed fetch, classified by AWS error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The AWS error code, or a code of ours such as `Timeout` or `NoCredentials`.
    pub code: String,
    pub message: String,
    /// Whether retrying later could succeed (throttling, 5xx, network).
    pub transient: bool,
    pub hint: Option<String>,
}

impl AwsError {
    fn new(code: &str, message: impl Into<String>, transient: bool, hint: Option<String>) -> AwsError {
        AwsError { code: code.to_owned(), message: message.into(), transient, hint }
    }
}

/// Settings of one fetch.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--region`; the standard AWS chain is used when absent.
    pub region: Option<String>,
    /// Bound on the whole fetch, including region and credential discovery.
    pub timeout: Duration,
}

type Outcome = Result<Fetched, AwsError>;

/// Fetches every secret and calls `on_outcome` once per input, with its
/// index, as soon as its batch response arrives. Inputs must be distinct.
pub async fn fetch_each(secrets: &[AwsSecret], options: &Options, mut on_outcome: impl FnMut(usize, Outcome)) {
    let deadline = Instant::now() + options.timeout;
    let mut reported = vec![false; secrets.len()];
    let mut report = |index: usize, outcome: Outcome| {
        reported[index] = true;
        on_outcome(index, outcome);
    };

    // Step 1: configuration, region and credentials, bounded by the deadline.
    let config = match tokio::time::timeout_at(deadline, load_config(options)).await {
        Ok(Ok(config)) => config,
        Ok(Err(error)) => {
            (0..secrets.len()).for_each(|index| report(index, Err(error.clone())));
            return;
        }
        Err(_) => {
            let error = AwsError::new(
                "Timeout",
                format!(
                    "loading the AWS configuration (region and credentials) took longer than {:?}",
                    options.timeout
                ),
                true,
                Some(
                    "check the credential source (profile, SSO, web identity, instance metadata) or raise --timeout"
                        .into(),
                ),
            );
            (0..secrets.len()).for_each(|index| report(index, Err(error.clone())));
            return;
        }
    };
    let endpoint = config.endpoint_url().map(str::to_owned);

    // Step 2: group by region; a secret without a region of its own needs the default.
    let mut by_region: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, secret) in secrets.iter().enumerate() {
        match secret.region.as_deref().or(config.region().map(|r| r.as_ref())) {
            Some(region) => by_region.entry(region.to_owned()).or_default().push(index),
            None => report(index, Err(missing_region())),
        }
    }

    // Step 3: one task per batch of current versions and per pinned version.
    let mut tasks: JoinSet<Vec<(usize, Outcome)>> = JoinSet::new();
    for (region, indexes) in by_region {
        let client =
            sm::Client::from_conf(sm::config::Builder::from(&config).region(Region::new(region.clone())).build());
        let place = Place { region: region.clone(), endpoint: endpoint.clone(), timeout: options.timeout };
        let (mut current, mut pinned): (Vec<usize>, Vec<usize>) =
            indexes.into_iter().partition(|&i| secrets[i].is_current());
        // A lone current version goes through GetSecretValue: one request
        // either way, and GetSecretValue has the far higher request quota and
        // needs no batch permission.
        if current.len() == 1 {
            pinned.append(&mut current);
        }
        for chunk in current.chunks(BATCH_LIMIT) {
            let ids: Vec<(usize, String)> = chunk.iter().map(|&i| (i, secrets[i].secret_id.clone())).collect();
            tasks.spawn(with_deadline(deadline, ids.clone(), batch_get(client.clone(), ids, place.clone())));
        }
        for index in pinned {
            let secret = secrets[index].clone();
            let single = vec![(index, secret.secret_id.clone())];
            let task = get_one(client.clone(), secret, place.clone());
            tasks.spawn(with_deadline(deadline, single, async move { vec![(index, task.await)] }));
        }
    }

    // Step 4: report each batch as it completes.
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(outcomes) => {
                for (index, outcome) in outcomes {
                    report(index, outcome);
                }
            }
            Err(join_error) => warn!("a fetch task failed: {join_error}"),
        }
    }
    for index in (0..secrets.len()).filter(|&index| !reported[index]) {
        on_outcome(index, Err(AwsError::new("InternalError", "the fetch task ended without a result", false, None)));
    }
}

/// The region, endpoint and timeout of a request, for error hints.
#[derive(Debug, Clone)]
pub struct Place {
    pub region: String,
    /// The configured endpoint URL, when it is not the default AWS one.
    pub endpoint: Option<String>,
    pub timeout: Duration,
}

impl Place {
    fn endpoint(&self) -> String {
        self.endpoint.clone().unwrap_or_else(|| format!("the Secrets Manager endpoint of {}", self.region))
    }
}

async fn with_deadline(
    deadline: Instant,
    ids: Vec<(usize, String)>,
    task: impl Future<Output = Vec<(usize, Outcome)>>,
) -> Vec<(usize, Outcome)> {
    match tokio::time::timeout_at(deadline, task).await {
        Ok(outcomes) => outcomes,
        Err(_) => {
            let error = AwsError::new(
                "Timeout",
                "no answer from Secrets Manager before the deadline".to_owned(),
                true,
                Some("check network access to the endpoint, or raise --timeout".into()),
            );
            ids.into_iter().map(|(index, _)| (index, Err(error.clone()))).collect()
        }
    }
}

async fn load_config(options: &Options) -> Result<aws_config::SdkConfig, AwsError> {
    let attempt = (options.timeout / 3).max(options.timeout.min(Duration::from_secs(1)));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(options.timeout))
        .operation_attempt_timeout(attempt)
        .operation_timeout(options.timeout)
        .build();
    let retries = RetryConfig::standard().with_max_attempts(3).with_initial_backoff(initial_backoff(options.timeout));
    let mut loader =
        aws_config::defaults(BehaviorVersion::v2026_11_17()).timeout_config(timeouts).retry_config(retries);
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let config = loader.load().await;
    debug!(region = ?config.region(), endpoint = ?config.endpoint_url(), "loaded AWS configuration");

    // Resolve credentials once, so that a missing credential is reported once
    // and every request reuses the same resolved identity.
    let provider = config.credentials_provider().ok_or_else(no_credentials_configured)?;
    let credentials = provider.provide_credentials().await.map_err(|error| {
        let message = match &error {
            CredentialsError::CredentialsNotLoaded(_) => "no AWS credentials found".to_owned(),
            CredentialsError::ProviderTimedOut(_) => "the AWS credential provider timed out".to_owned(),
            _ => format!("the AWS credential provider failed: {}", deepest_cause(&error)),
        };
        AwsError::new("NoCredentials", message, false, Some(CREDENTIALS_HINT.into()))
    })?;
    debug!("resolved AWS credentials");
    Ok(config.into_builder().credentials_provider(SharedCredentialsProvider::new(credentials)).build())
}

/// Returns the first retry's maximum backoff: the SDK's default of one
/// second, cut to a tenth of a shorter `--timeout`. The standard retry mode
/// waits a random time up to this value, then up to twice it, so the three
/// attempts usually end before the deadline. The last real error
/// (throttling, a refused connection) is then reported, not a bare timeout.
fn initial_backoff(timeout: Duration) -> Duration {
    (timeout / 10).min(Duration::from_secs(1))
}

const CREDENTIALS_HINT: &str = "secretfd looked in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the profile \
     (AWS_PROFILE) in the shared config and credentials files (AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, \
     by default ~/.aws/config and ~/.aws/credentials), web identity (AWS_WEB_IDENTITY_TOKEN_FILE), the ECS \
     container endpoint and EC2 instance metadata; set one of them, or run `aws sso login` for an SSO profile";

fn no_credentials_configured() -> AwsError {
    AwsError::new("NoCredentials", "no AWS credential provider is configured", false, Some(CREDENTIALS_HINT.into()))
}

fn missing_region() -> AwsError {
    AwsError::new(
        "NoRegion",
        "no AWS region: none was given with --region, and none was found in AWS_REGION, AWS_DEFAULT_REGION, \
         the profile's region in ~/.aws/config, or instance metadata",
        false,
        Some("pass --region REGION, set AWS_REGION, or use the secret's ARN".into()),
    )
}

/// Fetches up to `BATCH_LIMIT` current versions in one BatchGetSecretValue
/// call, falling back to GetSecretValue per secret when the batch call as a
/// whole is throttled or not permitted.
async fn batch_get(client: sm::Client, ids: Vec<(usize, String)>, place: Place) -> Vec<(usize, Outcome)> {
    let id_list: Vec<String> = ids.iter().map(|(_, id)| id.clone()).collect();
    let mut entries: Vec<SecretValueEntry> = Vec::new();
    let mut errors = Vec::new();
    let mut next_token: Option<String> = None;

    loop {
        match send_batch(&client, &id_list, next_token.take(), &place).await {
            Ok(mut output) => {
                entries.append(output.secret_values.get_or_insert_with(Vec::new));
                errors.append(output.errors.get_or_insert_with(Vec::new));
                match output.next_token {
                    Some(token) if !token.is_empty() => next_token = Some(token),
                    _ => break,
                }
            }
            Err(error) => {
                let classified = classify(&error, &place);
                if should_fall_back(&classified.code) {
                    debug!(code = %classified.code, "BatchGetSecretValue rejected, falling back to GetSecretValue");
                    return get_each(client, ids, place).await;
                }
                return ids.into_iter().map(|(index, _)| (index, Err(classified.clone()))).collect();
            }
        }
    }

    ids.into_iter()
        .map(|(index, id)| {
            let outcome = if let Some(entry) = entries.iter().find(|e| entry_matches(&id, e)) {
                entry_value(entry)
            } else if let Some(error) = errors.iter().find(|e| e.secret_id() == Some(id.as_str())) {
                let code = error.error_code().unwrap_or("UnknownError");
                Err(service_error(code, error.message().unwrap_or(""), &place))
            } else {
                Err(AwsError::new(
                    "MissingFromResponse",
                    "the BatchGetSecretValue response has neither a value nor an error for this secret",
                    true,
                    Some("retry; if it persists, check the endpoint (AWS_ENDPOINT_URL)".into()),
                ))
            };
            (index, outcome)
        })
        .collect()
}

/// Sends one BatchGetSecretValue request. The first attempt goes out
/// without the SDK's retries, so that a throttled batch falls back to
/// GetSecretValue at once instead of backing off and retrying against the
/// far smaller batch quota. Other transient failures (5xx, timeouts,
/// connection errors) are sent again with the configured retries.
async fn send_batch(
    client: &sm::Client,
    id_list: &[String],
    next_token: Option<String>,
    place: &Place,
) -> Result<BatchGetSecretValueOutput, SdkError<BatchGetSecretValueError, sm::config::http::HttpResponse>> {
    let request = client.batch_get_secret_value().set_secret_id_list(Some(id_list.to_vec())).set_next_token(next_token);
    debug!(region = %place.region, secrets = id_list.len(), "BatchGetSecretValue");
    let no_retries = sm::config::Builder::default().retry_config(RetryConfig::disabled());
    match request.clone().customize().config_override(no_retries).send().await {
        Err(error) => {
            let classified = classify(&error, place);
            if !classified.transient || should_fall_back(&classified.code) {
                return Err(error);
            }
            debug!(code = %classified.code, "BatchGetSecretValue failed, sending it again with retries");
            request.send().await
        }
        ok => ok,
    }
}

/// Batch-level errors after which single GetSecretValue calls may still
/// work: throttling (GetSecretValue has a far higher request quota), a
/// policy that grants GetSecretValue but not BatchGetSecretValue, and
/// endpoints that do not implement the batch call.
fn should_fall_back(code: &str) -> bool {
    is_throttling(code) || matches!(code, "AccessDeniedException" | "UnknownOperationException" | "InvalidAction")
}

async fn get_each(client: sm::Client, ids: Vec<(usize, String)>, place: Place) -> Vec<(usize, Outcome)> {
    let mut tasks = JoinSet::new();
    for (index, id) in ids {
        let secret = AwsSecret { secret_id: id, region: None, version_stage: None, version_id: None };
        let task = get_one(client.clone(), secret, place.clone());
        tasks.spawn(async move { (index, task.await) });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(outcome) = joined {
            outcomes.push(outcome);
        }
    }
    outcomes
}

async fn get_one(client: sm::Client, secret: AwsSecret, place: Place) -> Outcome {
    debug!(region = %place.region, stage = ?secret.version_stage, id = ?secret.version_id, "GetSecretValue");
    let output = client
        .get_secret_value()
        .secret_id(&secret.secret_id)
        .set_version_stage(secret.version_stage.clone())
        .set_version_id(secret.version_id.clone())
        .send()
        .await
        .map_err(|error| classify(&error, &place))?;
    let version_id = output.version_id.clone();
    let secret = match (output.secret_string, output.secret_binary) {
        (Some(text), _) => Secret::from_string(text),
        (None, Some(blob)) => Secret::new(blob.into_inner()),
        (None, None) => return Err(no_value()),
    };
    Ok(Fetched { secret, version_id })
}

/// Whether a batch entry matches the requested `SecretId`: a name matches
/// the entry's name; an ARN matches the full ARN, or its partial form
/// without the six-character suffix that Secrets Manager appends.
fn entry_matches(requested: &str, entry: &SecretValueEntry) -> bool {
    if !requested.starts_with("arn:") {
        return entry.name() == Some(requested);
    }
    let Some(arn) = entry.arn() else { return false };
    arn == requested
        || (arn.len() == requested.len() + 7 && arn.starts_with(requested) && arn.as_bytes()[requested.len()] == b'-')
}

fn entry_value(entry: &SecretValueEntry) -> Outcome {
    let secret = if let Some(text) = entry.secret_string() {
        Secret::copy_from(text.as_bytes())
    } else if let Some(blob) = entry.secret_binary() {
        Secret::copy_from(blob.as_ref())
    } else {
        return Err(no_value());
    };
    Ok(Fetched { secret, version_id: entry.version_id.clone() })
}

fn no_value() -> AwsError {
    AwsError::new(
        "NoValue",
        "the response has neither SecretString nor SecretBinary",
        false,
        Some("store a value with `secretfd put`".into()),
    )
}

fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded" | "SlowDown"
    )
}

/// Returns the text of the innermost error in a chain, such as "Connection
/// refused (os error 111)", which is more specific than the SDK's wrappers around it.
fn deepest_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// Classifies an SDK error by its type and AWS error code.
pub fn classify<E>(error: &SdkError<E, sm::config::http::HttpResponse>, place: &Place) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let Some(code) = service.err().code() else {
                // No AWS error code: a proxy's error page, or a body that is
                // not the operation's JSON. The status is all there is to show.
                let problem =
                    if status < 300 { "a body that is not valid JSON for this call" } else { "no AWS error code" };
                return AwsError::new(
                    "InvalidResponse",
                    format!("{} returned HTTP {status} with {problem}", place.endpoint()),
                    status >= 500,
                    Some("check that AWS_ENDPOINT_URL, if set, points at Secrets Manager".into()),
                );
            };
            let mut classified = service_error(code, service.err().message().unwrap_or(""), place);
            classified.transient |= status >= 500;
            classified
        }
        SdkError::TimeoutError(_) => AwsError::new(
            "Timeout",
            format!("no answer from {} in time", place.endpoint()),
            true,
            Some(format!("check network access to the endpoint, or raise --timeout (now {:?})", place.timeout)),
        ),
        SdkError::DispatchFailure(failure) => {
            let (code, transient) = if failure.is_timeout() {
                ("Timeout", true)
            } else if failure.is_io() {
                ("ConnectionError", true)
            } else {
                ("DispatchFailure", false)
            };
            AwsError::new(
                code,
                format!("request to {} failed: {}", place.endpoint(), deepest_cause(error)),
                transient,
                Some("check network access, the region, and AWS_ENDPOINT_URL if set".into()),
            )
        }
        SdkError::ResponseError(_) => AwsError::new(
            "InvalidResponse",
            format!("the response from {} could not be read: {}", place.endpoint(), deepest_cause(error)),
            true,
            Some("check that AWS_ENDPOINT_URL, if set, points at Secrets Manager".into()),
        ),
        SdkError::ConstructionFailure(_) => AwsError::new(
            "InvalidRequest",
            format!("the request could not be built: {}", deepest_cause(error)),
            false,
            None,
        ),
        _ => AwsError::new("UnknownError", deepest_cause(error), false, None),
    }
}

/// Builds the error for an AWS error code, with the fix for the usual codes.
fn service_error(code: &str, message: &str, place: &Place) -> AwsError {
    let region = &place.region;
    let hint = match code {
        "ResourceNotFoundException" => {
            Some(format!("check the secret name (case-sensitive), the version, and the region ({region})"))
        }
        "AccessDeniedException" => Some(
            "allow secretsmanager:GetSecretValue (and secretsmanager:BatchGetSecretValue for current versions) \
             on this secret, and kms:Decrypt on its KMS key"
                .to_owned(),
        ),
        "DecryptionFailure" => {
            Some("allow kms:Decrypt on the secret's KMS key, and check that the key is enabled".to_owned())
        }
        "InvalidRequestException" => {
            Some("check that the secret is not scheduled for deletion (restore it with RestoreSecret)".to_owned())
        }
        "InvalidParameterException" => Some("check the version stage or version ID".to_owned()),
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId" => Some("check or refresh the AWS credentials".to_owned()),
        code if is_throttling(code) => {
            Some("too many requests in this account and region; retry later or raise --timeout".to_owned())
        }
        "InternalServiceError" | "InternalFailure" | "ServiceUnavailable" => {
            Some("Secrets Manager failed; retry later".to_owned())
        }
        _ => None,
    };
    let transient =
        is_throttling(code) || matches!(code, "InternalServiceError" | "InternalFailure" | "ServiceUnavailable");
    AwsError::new(code, message, transient, hint)
}

/// Runs the AWS calls of a command other than `run` (`create`, `put`,
/// `describe`). It loads the shared configuration and builds a client for the
/// secret's region: the ARN's region when there is one, else `--region` or
/// the standard AWS chain. Then it calls `work` with that client on a
/// single-threaded runtime, which is shut down before this returns.
/// `options.timeout` bounds all of it, configuration and credentials included.
pub fn with_client<T, F, Fut>(options: &Options, arn_region: Option<&str>, work: F) -> Result<T, AwsError>
where
    F: FnOnce(sm::Client, Place) -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let connect_and_work = async {
        let config = load_config(options).await?;
        let region = arn_region
            .map(str::to_owned)
            .or_else(|| config.region().map(|region| region.as_ref().to_owned()))
            .ok_or_else(missing_region)?;
        let client =
            sm::Client::from_conf(sm::config::Builder::from(&config).region(Region::new(region.clone())).build());
        let place = Place { region, endpoint: config.endpoint_url().map(str::to_owned), timeout: options.timeout };
        work(client, place).await
    };
    super::run_async(async {
        tokio::time::timeout(options.timeout, connect_and_work).await.unwrap_or_else(|_| {
            Err(AwsError::new(
                "Timeout",
                format!("no answer from Secrets Manager within {:?}", options.timeout),
                true,
                Some("check network access to the endpoint and the credential source, or raise --timeout".into()),
            ))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, arn: &str) -> SecretValueEntry {
        SecretValueEntry::builder().name(name).arn(arn).secret_string("v").build()
    }

    #[test]
    fn entry_matches_name_and_arn_forms() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf";
        let e = entry("prod/db", arn);
        assert!(entry_matches("prod/db", &e));
        assert!(entry_matches(arn, &e));
        assert!(entry_matches("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db", &e));
        assert!(!entry_matches("prod/db2", &e));
        assert!(!entry_matches("prod", &e));
        assert!(!entry_matches("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod", &e));
    }

    #[test]
    fn initial_backoff_fits_short_timeouts() {
        assert_eq!(initial_backoff(Duration::from_secs(30)), Duration::from_secs(1));
        assert_eq!(initial_backoff(Duration::from_secs(3)), Duration::from_millis(300));
    }

    #[test]
    fn fallback_only_for_batch_level_refusals() {
        assert!(should_fall_back("ThrottlingException"));
        assert!(should_fall_back("AccessDeniedException"));
        assert!(!should_fall_back("ResourceNotFoundException"));
        assert!(!should_fall_back("DecryptionFailure"));
    }

    #[test]
    fn service_error_classification() {
        let place = Place { region: "eu-west-1".into(), endpoint: None, timeout: Duration::from_secs(30) };
        let not_found = service_error("ResourceNotFoundException", "gone", &place);
        assert!(!not_found.transient);
        assert!(not_found.hint.unwrap().contains("eu-west-1"));
        assert!(service_error("ThrottlingException", "slow down", &place).transient);
        assert!(service_error("InternalServiceError", "oops", &place).transient);
    }
}
