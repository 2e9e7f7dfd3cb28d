//! `secretfd create`: store a new secret.
//!
//! Also home of what `create` and `put` share: reading the value (from
//! `--generate`, `--value-file` or stdin, never from an argument), checking
//! it, and printing the stored version.
//!
//! Stdin is read only when it is not a terminal, because a value typed at a
//! prompt is echoed on screen and into the scrollback, and the newline that
//! ends the line would be stored with it. `--value-file /dev/stdin` reads a
//! terminal on purpose.

#![forbid(unsafe_code)]

use std::io::{IsTerminal, Read};

use aws_sdk_secretsmanager as sm;
use serde_json::{Value, json};
use sm::primitives::Blob;
use sm::types::Tag;

use crate::cli::{CreateArgs, GlobalOptions, PasswordOptions, ValueSource};
use crate::error::{Error, Problem};
use crate::reference::{Reference, Source};
use crate::secret::Secret;
use crate::source::{SourceError, aws, local};
use crate::sys;

use super::password;

/// Largest value Secrets Manager stores: 65,536 bytes for `SecretString` or
/// `SecretBinary` (the CreateSecret and PutSecretValue API reference).
pub const MAX_VALUE_LEN: usize = 65_536;

/// Runs `secretfd create` and returns the exit code.
pub fn run(args: CreateArgs, global: &GlobalOptions) -> Result<i32, Error> {
    // Step 1: every check that needs neither the value nor the network.
    let name = plain_name(&args.name)?;
    let tags = parse_tags(&args.tags)?;

    // Step 2: the value.
    make_non_dumpable("create")?;
    let value = read_value(&args.value)?;

    // Step 3: store it.
    let options = aws::Options { region: global.region.clone(), timeout: global.timeout };
    let output = aws::with_client(&options, None, |client, place| {
        let request = client
            .create_secret()
            .name(&name)
            .set_description(args.description.clone())
            .set_kms_key_id(args.kms_key_id.clone())
            .set_tags((!tags.is_empty()).then_some(tags));
        let request = match value_for_sdk(&value, args.value.binary) {
            SdkValue::String(text) => request.secret_string(text),
            SdkValue::Binary(blob) => request.secret_binary(blob),
        };
        async move { request.send().await.map_err(|error| aws::classify(&error, &place)) }
    })
    .map_err(|error| aws_failure(&args.name, error, create_hint))?;

    print_record(
        args.json,
        vec![
            ("ARN", json!(output.arn.unwrap_or_default())),
            ("Name", json!(output.name.unwrap_or_default())),
            ("VersionId", json!(output.version_id.unwrap_or_default())),
        ],
    );
    Ok(0)
}

/// Fixes for the errors of CreateSecret that the general hints do not cover.
fn create_hint(code: &str, name: &str) -> Option<String> {
    match code {
        "ResourceExistsException" => Some(format!("store a new version with `secretfd put {name}`")),
        "InvalidRequestException" => Some(format!(
            "a secret named {name} may be scheduled for deletion; restore it with \
             `aws secretsmanager restore-secret --secret-id {name}`, or choose another name"
        )),
        "AccessDeniedException" => Some(
            "allow secretsmanager:CreateSecret (and secretsmanager:TagResource with --tag) on this name, \
             and kms:GenerateDataKey on the KMS key"
                .into(),
        ),
        "EncryptionFailure" => Some("check that the KMS key exists, is enabled and allows kms:GenerateDataKey".into()),
        _ => None,
    }
}

/// Checks that NAME is a plain secret name (an `aws-sm:` prefix is allowed)
/// and returns it without the prefix.
fn plain_name(text: &str) -> Result<String, Error> {
    let invalid = |reason: &str| {
        Error::usage(
            Problem::new(text, format!("invalid secret name: {reason}"))
                .with_hint("use letters, digits and /_+=.@- only, with no #key or ?version part"),
        )
    };
    let reference = Reference::parse(text).map_err(|error| invalid(&error.to_string()))?;
    match reference.source {
        Source::Aws(secret) if secret.is_arn() => Err(invalid("a new secret is named by its name, not an ARN")),
        Source::Aws(secret) if reference.selector.is_some() || !secret.is_current() => {
            Err(invalid("a new secret has no key or version yet"))
        }
        Source::Aws(secret) => Ok(secret.secret_id),
        Source::File(_) | Source::Env(_) => Err(invalid("file: and env: name local sources, not a secret")),
    }
}

/// Parses `--tag KEY=VALUE` options.
fn parse_tags(tags: &[String]) -> Result<Vec<Tag>, Error> {
    tags.iter()
        .map(|tag| match tag.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok(Tag::builder().key(key).value(value).build()),
            _ => Err(Error::usage(
                Problem::new(format!("--tag {tag}"), "expected KEY=VALUE with a non-empty KEY")
                    .with_hint("write --tag team=payments; repeat --tag for more tags"),
            )),
        })
        .collect()
}

/// Makes the process non-dumpable before it reads or generates a value, so that the value
/// cannot be read by a debugger or land in a core dump.
pub(super) fn make_non_dumpable(command: &str) -> Result<(), Error> {
    sys::set_non_dumpable()
        .map_err(|errno| Error::failed(Problem::new(command, format!("cannot make secretfd non-dumpable: {errno}"))))
}

/// Reads the value of `create` or `put` from `--generate`, `--value-file` or
/// stdin, and checks it: not empty, at most `MAX_VALUE_LEN` bytes, and valid
/// UTF-8 unless `--binary` is given.
pub(super) fn read_value(source: &ValueSource) -> Result<Secret, Error> {
    if !source.generate && has_password_options(&source.password) {
        return Err(Error::usage(
            Problem::new("password options", "--length and the --exclude-* and --include-* options need --generate")
                .with_hint("add --generate, or drop the password options"),
        ));
    }

    let (value, origin) = if source.generate {
        let policy = password::policy(&source.password)?;
        (password::generate(&policy)?, "the generated password".to_owned())
    } else if let Some(path) = &source.value_file {
        let origin = path.display().to_string();
        let value = local::read_file(path).map_err(|error| {
            Error::failed(Problem::new(&origin, error.to_string()).with_hint("check the path and its permissions"))
        })?;
        (value, origin)
    } else {
        (read_stdin()?, "stdin".to_owned())
    };

    if value.is_empty() {
        return Err(Error::failed(
            Problem::new(&origin, "the value is empty").with_hint("Secrets Manager cannot store an empty value"),
        ));
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::failed(
            Problem::new(&origin, format!("the value is larger than {MAX_VALUE_LEN} bytes"))
                .with_hint("Secrets Manager stores at most 64 KiB per secret"),
        ));
    }
    if !source.binary && std::str::from_utf8(value.expose()).is_err() {
        return Err(Error::failed(
            Problem::new(&origin, "the value is not valid UTF-8, so it cannot be stored as SecretString")
                .with_hint("pass --binary to store the bytes as SecretBinary"),
        ));
    }
    Ok(value)
}

/// Checks whether any password option differs from its default.
fn has_password_options(options: &PasswordOptions) -> bool {
    options.length != 32
        || !options.exclude_characters.is_empty()
        || options.exclude_numbers
        || options.exclude_punctuation
        || options.exclude_uppercase
        || options.exclude_lowercase
        || options.include_space
        || options.no_require_each_included_type
}

/// Reads all of stdin, exactly, unless it is a terminal.
fn read_stdin() -> Result<Secret, Error> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::usage(Problem::new("stdin", "no value given, and stdin is a terminal").with_hint(
            "pipe the value in (secretfd password | secretfd create NAME), pass --generate or \
                 --value-file PATH, or type it with --value-file /dev/stdin and end it with Ctrl-D",
        )));
    }

    // Reserved once and one byte past the limit, so that an oversized value
    // is detected and no partial copy is left behind in a regrown buffer.
    let mut bytes = Vec::with_capacity(MAX_VALUE_LEN + 1);
    let read = stdin.lock().take(MAX_VALUE_LEN as u64 + 1).read_to_end(&mut bytes);
    let value = Secret::new(bytes);
    read.map_err(|error| Error::failed(Problem::new("stdin", format!("cannot read the value: {error}"))))?;
    Ok(value)
}

/// The value in the form the SDK sends.
pub(super) enum SdkValue {
    String(String),
    Binary(Blob),
}

/// Copies the value into the SDK's types. `read_value` has checked that a
/// string value is valid UTF-8.
///
/// NOTE: the SDK takes owned buffers, so this makes one copy that the
/// `Secret` cannot wipe. The wipe-on-free allocator erases it when the SDK
/// frees the request.
pub(super) fn value_for_sdk(value: &Secret, binary: bool) -> SdkValue {
    if binary {
        SdkValue::Binary(Blob::new(value.expose().to_vec()))
    } else {
        let text = String::from_utf8(value.expose().to_vec()).expect("read_value checked that the value is UTF-8");
        SdkValue::String(text)
    }
}

/// Turns a failed AWS call into the one-line error of `run`: the secret, the
/// AWS error code and message, and the fix, preferring the command's own fix
/// from `hint` over the general one.
pub(super) fn aws_failure(name: &str, mut error: aws::AwsError, hint: fn(&str, &str) -> Option<String>) -> Error {
    if let Some(specific) = hint(&error.code, name) {
        error.hint = Some(specific);
    }
    Error::failed(SourceError::from(error).into_problem(name))
}

/// Prints fields as aligned `Name  value` lines, or as one JSON object with
/// `--json`. Text values are stripped of control characters.
pub(super) fn print_record(as_json: bool, fields: Vec<(&str, Value)>) {
    if as_json {
        let object: serde_json::Map<String, Value> =
            fields.into_iter().map(|(name, value)| (name.to_owned(), value)).collect();
        println!("{}", crate::error::escape_json_controls(&Value::Object(object).to_string()));
        return;
    }
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, value) in fields {
        let text = match value {
            Value::String(text) => text,
            Value::Array(items) => {
                items.iter().map(|item| item.as_str().unwrap_or_default()).collect::<Vec<_>>().join(", ")
            }
            other => other.to_string(),
        };
        println!("{name:width$}  {}", crate::error::sanitize(&text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_name_accepts_names_only() {
        assert_eq!(plain_name("app/pw").unwrap(), "app/pw");
        assert_eq!(plain_name("aws-sm:app/pw").unwrap(), "app/pw");
        for text in [
            "app/pw#key",
            "app/pw?version-stage=AWSCURRENT",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/pw-AbCdEf",
            "file:/tmp/x",
            "env:X",
            "app pw",
            "",
        ] {
            let error = plain_name(text).unwrap_err();
            assert_eq!(error.command_exit_code(), 2, "{text}");
        }
    }

    #[test]
    fn tags_parse_key_value() {
        let tags = parse_tags(&["team=payments".into(), "empty=".into(), "a=b=c".into()]).unwrap();
        assert_eq!(tags[0].key(), Some("team"));
        assert_eq!(tags[0].value(), Some("payments"));
        assert_eq!(tags[1].value(), Some(""));
        assert_eq!(tags[2].value(), Some("b=c"));
        assert!(parse_tags(&["novalue".into()]).is_err());
        assert!(parse_tags(&["=x".into()]).is_err());
    }

    #[test]
    fn create_hint_names_the_fix() {
        assert!(create_hint("ResourceExistsException", "app/pw").unwrap().contains("secretfd put app/pw"));
        assert_eq!(create_hint("ThrottlingException", "app/pw"), None);
    }
}
