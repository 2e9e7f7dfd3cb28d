//! `secretfd put`: store a new version of an existing secret.
//!
//! The value comes from `--generate`, `--value-file` or stdin, as for
//! `create`. Without `--version-stage` the new version becomes AWSCURRENT and
//! the one before it AWSPREVIOUS, which is how a password is rotated by hand.

#![forbid(unsafe_code)]

use serde_json::json;

use crate::cli::{GlobalOptions, PutArgs};
use crate::error::{Error, Problem};
use crate::reference::{Reference, Source};
use crate::source::aws;

use super::create::{SdkValue, aws_failure, make_non_dumpable, print_record, read_value, value_for_sdk};

/// Runs `secretfd put` and returns the exit code.
pub fn run(args: PutArgs, global: &GlobalOptions) -> Result<i32, Error> {
    // Step 1: every check that needs neither the value nor the network.
    let (secret_id, arn_region) = secret_id(&args.name)?;
    if let Some(stage) = args.version_stages.iter().find(|stage| stage.is_empty()) {
        return Err(Error::usage(Problem::new(format!("--version-stage {stage:?}"), "the staging label is empty")));
    }

    // Step 2: the value.
    make_non_dumpable("put")?;
    let value = read_value(&args.value)?;

    // Step 3: store it.
    let options = aws::Options { region: global.region.clone(), timeout: global.timeout };
    let stages = (!args.version_stages.is_empty()).then(|| args.version_stages.clone());
    let output = aws::with_client(&options, arn_region.as_deref(), |client, place| {
        let request = client.put_secret_value().secret_id(&secret_id).set_version_stages(stages);
        let request = match value_for_sdk(&value, args.value.binary) {
            SdkValue::String(text) => request.secret_string(text),
            SdkValue::Binary(blob) => request.secret_binary(blob),
        };
        async move { request.send().await.map_err(|error| aws::classify(&error, &place)) }
    })
    .map_err(|error| aws_failure(&args.name, error, put_hint))?;

    print_record(
        args.json,
        vec![
            ("ARN", json!(output.arn.unwrap_or_default())),
            ("Name", json!(output.name.unwrap_or_default())),
            ("VersionId", json!(output.version_id.unwrap_or_default())),
            ("VersionStages", json!(output.version_stages.unwrap_or_default())),
        ],
    );
    Ok(0)
}

/// Checks that NAME is a secret name or ARN with no key or version part, and
/// returns the `SecretId` with the ARN's region.
fn secret_id(text: &str) -> Result<(String, Option<String>), Error> {
    let invalid = |reason: String| {
        Error::usage(
            Problem::new(text, format!("invalid secret: {reason}"))
                .with_hint("name the secret by its name or ARN, with no #key or ?version part"),
        )
    };
    let reference = Reference::parse(text).map_err(|error| invalid(error.to_string()))?;
    match reference.source {
        Source::Aws(secret) if reference.selector.is_none() && secret.is_current() => {
            Ok((secret.secret_id, secret.region))
        }
        Source::Aws(_) => Err(invalid("a new version is stored for the whole secret".into())),
        Source::File(_) | Source::Env(_) => Err(invalid("file: and env: name local sources, not a secret".into())),
    }
}

/// Fixes for the errors of PutSecretValue that the general hints do not cover.
fn put_hint(code: &str, name: &str) -> Option<String> {
    match code {
        "ResourceNotFoundException" => {
            Some(format!("create the secret first with `secretfd create {name}`, or check the name and the region"))
        }
        "InvalidRequestException" => Some(format!(
            "the secret may be scheduled for deletion; restore it with \
             `aws secretsmanager restore-secret --secret-id {name}` before storing a new version"
        )),
        "AccessDeniedException" => {
            Some("allow secretsmanager:PutSecretValue on this secret, and kms:GenerateDataKey on its KMS key".into())
        }
        "EncryptionFailure" => {
            Some("check that the secret's KMS key exists, is enabled and allows kms:GenerateDataKey".into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_id_takes_name_or_arn() {
        assert_eq!(secret_id("app/pw").unwrap(), ("app/pw".to_owned(), None));
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/pw-AbCdEf";
        assert_eq!(secret_id(arn).unwrap(), (arn.to_owned(), Some("eu-west-1".to_owned())));
        for text in ["app/pw#key", "app/pw?version-stage=AWSPREVIOUS", "file:/tmp/x", "env:X", ""] {
            assert_eq!(secret_id(text).unwrap_err().command_exit_code(), 2, "{text}");
        }
    }
}
