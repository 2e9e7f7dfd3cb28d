//! Secret references: the `REF` of every binding and of `get`.
//!
//! A reference names where a value comes from (a Secrets Manager secret, a
//! local file, or the launcher's own environment), which version, and which
//! part of a JSON secret. Parsing is pure so that every malformed reference is
//! rejected before any network call.
//!
//! Grammar, with `NAME` restricted to the characters Secrets Manager allows
//! in names (letters, digits and `/_+=.@-`), so `#`, `?` and `:` can never be
//! part of it:
//!
//! ```text
//! [aws-sm:]NAME[?QUERY][#KEY]        KEY is a top-level key, or a JSON Pointer when it starts with /
//! [aws-sm:]NAME#KEY?QUERY            the same, key first; QUERY must then be a valid version query
//! arn:PART:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX[?QUERY][#KEY]
//! arn:...:secret:NAME-SUFFIX:JSON_KEY:VERSION_STAGE:VERSION_ID   (ECS valueFrom; fields may be empty)
//! file:PATH
//! env:VAR
//! QUERY = version-stage=STAGE | version-id=ID, joined by &
//! ```

#![forbid(unsafe_code)]

use std::fmt;
use std::path::PathBuf;

/// Maximum length of a reference. An ARN is at most 2048 characters and a
/// name at most 512 (Secrets Manager quotas), which leaves ample room for a key.
pub const MAX_REFERENCE_LEN: usize = 4096;

/// Maximum length of a secret name in Secrets Manager.
const MAX_NAME_LEN: usize = 512;

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The reference as the user wrote it, for messages.
    pub text: String,
    pub source: Source,
    pub selector: Option<Selector>,
}

/// The origin of a value. Two bindings with equal sources are fetched once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Aws(AwsSecret),
    File(PathBuf),
    Env(String),
}

/// A Secrets Manager secret and version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AwsSecret {
    /// The `SecretId` sent to the API: a name or a full or partial ARN.
    pub secret_id: String,
    /// The region named in the ARN, which overrides every other setting.
    pub region: Option<String>,
    pub version_stage: Option<String>,
    pub version_id: Option<String>,
}

impl AwsSecret {
    /// Whether the current version is wanted, which BatchGetSecretValue can fetch.
    pub fn is_current(&self) -> bool {
        self.version_stage.is_none() && self.version_id.is_none()
    }

    pub fn is_arn(&self) -> bool {
        self.secret_id.starts_with("arn:")
    }
}

/// The part of a JSON secret that is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A top-level key of a JSON object, matched exactly.
    Key(String),
    /// An RFC 6901 JSON Pointer such as `/db/primary/password`.
    Pointer(String),
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Key(key) => write!(f, "key '{key}'"),
            Selector::Pointer(pointer) => write!(f, "JSON pointer '{pointer}'"),
        }
    }
}

/// The reason a reference was rejected. The caller adds the reference text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidReference(pub String);

fn invalid(message: impl Into<String>) -> InvalidReference {
    InvalidReference(message.into())
}

impl Reference {
    /// Parses a reference, rejecting anything malformed with the reason.
    pub fn parse(text: &str) -> Result<Reference, InvalidReference> {
        if text.is_empty() {
            return Err(invalid("the reference is empty; expected a secret name, an ARN, file:PATH or env:VAR"));
        }
        if text.len() > MAX_REFERENCE_LEN {
            return Err(invalid(format!("the reference is longer than {MAX_REFERENCE_LEN} bytes")));
        }
        if text.chars().any(char::is_control) {
            return Err(invalid("the reference contains a control character"));
        }

        let (source, selector) = if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err(invalid("file: needs a path, as in file:/run/secrets/db_password"));
            }
            (Source::File(PathBuf::from(path)), None)
        } else if let Some(var) = text.strip_prefix("env:") {
            if !is_env_name(var) {
                return Err(invalid(
                    "env: needs a variable name of letters, digits and underscores, as in env:DB_PASSWORD",
                ));
            }
            (Source::Env(var.to_owned()), None)
        } else {
            let aws = text.strip_prefix("aws-sm:").unwrap_or(text);
            let (secret, selector) = if aws.starts_with("arn:") { parse_arn(aws)? } else { parse_name(aws)? };
            (Source::Aws(secret), selector)
        };

        Ok(Reference { text: text.to_owned(), source, selector })
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)
}

fn check_name(name: &str) -> Result<(), InvalidReference> {
    if name.is_empty() {
        return Err(invalid("the secret name is empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid(format!("the secret name is longer than {MAX_NAME_LEN} characters")));
    }
    if let Some(bad) = name.chars().find(|&c| !is_name_char(c)) {
        return Err(invalid(format!(
            "the secret name contains '{bad}'; names may contain only letters, digits and /_+=.@-"
        )));
    }
    Ok(())
}

/// Parses `NAME[?QUERY][#KEY]` or `NAME#KEY?QUERY`.
fn parse_name(text: &str) -> Result<(AwsSecret, Option<Selector>), InvalidReference> {
    let name_end = text.find(['#', '?']).unwrap_or(text.len());
    let (name, rest) = text.split_at(name_end);
    check_name(name)?;
    let (version_stage, version_id, selector) = parse_suffix(rest)?;
    let secret = AwsSecret { secret_id: name.to_owned(), region: None, version_stage, version_id };
    Ok((secret, selector))
}

/// Parses an ARN, with either our `?QUERY#KEY` suffix or the ECS
/// `:JSON_KEY:VERSION_STAGE:VERSION_ID` suffix.
fn parse_arn(text: &str) -> Result<(AwsSecret, Option<Selector>), InvalidReference> {
    let expected = "expected arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX";
    let parts: Vec<&str> = text.splitn(7, ':').collect();
    let [_, partition, service, region, account, resource_type, resource] = parts[..] else {
        return Err(invalid(format!("the ARN is incomplete; {expected}")));
    };
    if partition.is_empty() || service != "secretsmanager" || resource_type != "secret" {
        return Err(invalid(format!("not a Secrets Manager secret ARN; {expected}")));
    }
    // The region (and with it the partition) selects the endpoint host when
    // no endpoint URL is configured, so only the characters of real names
    // (us-east-1, aws-us-gov) pass, never '#', '?', '/' or '.'.
    let is_aws_label = |text: &str| text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !is_aws_label(partition) {
        return Err(invalid(format!("the ARN's partition '{partition}' is not a partition name such as aws")));
    }
    if region.is_empty() {
        return Err(invalid("the ARN has no region"));
    }
    if !is_aws_label(region) {
        return Err(invalid(format!("the ARN's region '{region}' is not a region name such as us-east-1")));
    }
    if account.is_empty() || !account.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid("the ARN's account must be a 12-digit number"));
    }

    let name_end = resource.find([':', '#', '?']).unwrap_or(resource.len());
    let (name, suffix) = resource.split_at(name_end);
    check_name(name)?;
    let arn = &text[..text.len() - suffix.len()];

    let (version_stage, version_id, selector) = match suffix.strip_prefix(':') {
        Some(ecs) => parse_ecs_suffix(ecs)?,
        None => parse_suffix(suffix)?,
    };
    let secret = AwsSecret { secret_id: arn.to_owned(), region: Some(region.to_owned()), version_stage, version_id };
    Ok((secret, selector))
}

type Suffix = (Option<String>, Option<String>, Option<Selector>);

/// Parses the ECS `valueFrom` fields after the ARN: `JSON_KEY:VERSION_STAGE:VERSION_ID`,
/// any of which may be empty or left off.
fn parse_ecs_suffix(text: &str) -> Result<Suffix, InvalidReference> {
    let fields: Vec<&str> = text.split(':').collect();
    if fields.len() > 3 {
        return Err(invalid("too many fields after the ARN; the ECS form is ARN:JSON_KEY:VERSION_STAGE:VERSION_ID"));
    }
    let field = |i: usize| fields.get(i).filter(|f| !f.is_empty()).map(|f| f.to_string());
    let selector = field(0).map(Selector::Key);
    Ok((field(1), field(2), selector))
}

/// Parses `[?QUERY][#KEY]` or `#KEY?QUERY` after a name or ARN.
fn parse_suffix(text: &str) -> Result<Suffix, InvalidReference> {
    if text.is_empty() {
        return Ok((None, None, None));
    }
    let (query, key) = if let Some(query_and_key) = text.strip_prefix('?') {
        match query_and_key.split_once('#') {
            Some((query, key)) => (Some(query), Some(key)),
            None => (Some(query_and_key), None),
        }
    } else {
        let key = &text[1..];
        // Key first: a trailing query is taken only when it is a valid version
        // query, so a key that merely contains '?' keeps working.
        match key.rfind('?') {
            Some(at) if parse_query(&key[at + 1..]).is_ok() => (Some(&key[at + 1..]), Some(&key[..at])),
            _ => (None, Some(key)),
        }
    };

    let (version_stage, version_id) = match query {
        Some(query) => parse_query(query)?,
        None => (None, None),
    };
    let selector = key.map(parse_selector).transpose()?;
    Ok((version_stage, version_id, selector))
}

fn parse_query(query: &str) -> Result<(Option<String>, Option<String>), InvalidReference> {
    let mut stage = None;
    let mut id = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "version-stage" => &mut stage,
            "version-id" => &mut id,
            _ => {
                return Err(invalid(format!(
                    "unknown query parameter '{name}'; use version-stage=STAGE or version-id=ID"
                )));
            }
        };
        if value.is_empty() {
            return Err(invalid(format!("{name} needs a value, as in {name}=AWSPREVIOUS")));
        }
        if slot.replace(value.to_owned()).is_some() {
            return Err(invalid(format!("{name} is given twice")));
        }
    }
    Ok((stage, id))
}

fn parse_selector(key: &str) -> Result<Selector, InvalidReference> {
    if key.is_empty() {
        return Err(invalid("the key after '#' is empty"));
    }
    if !key.starts_with('/') {
        return Ok(Selector::Key(key.to_owned()));
    }
    // RFC 6901: '~' may only appear as the escapes ~0 ('~') and ~1 ('/').
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(invalid("invalid JSON pointer: '~' must be written ~0, and a '/' inside a key ~1"));
        }
    }
    Ok(Selector::Pointer(key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(text: &str) -> (AwsSecret, Option<Selector>) {
        let reference = Reference::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        match reference.source {
            Source::Aws(secret) => (secret, reference.selector),
            other => panic!("{text}: expected an AWS source, got {other:?}"),
        }
    }

    const ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf";

    #[test]
    fn name_plain_and_prefixed() {
        for text in ["prod/db", "aws-sm:prod/db"] {
            let (secret, selector) = aws(text);
            assert_eq!(secret.secret_id, "prod/db");
            assert!(secret.is_current());
            assert_eq!(secret.region, None);
            assert_eq!(selector, None);
        }
    }

    #[test]
    fn name_with_key_and_pointer() {
        assert_eq!(aws("prod/db#password").1, Some(Selector::Key("password".into())));
        assert_eq!(aws("prod/db#/db/primary/password").1, Some(Selector::Pointer("/db/primary/password".into())));
        assert_eq!(aws("prod/db#a?b").1, Some(Selector::Key("a?b".into())));
    }

    #[test]
    fn name_with_versions() {
        let (secret, _) = aws("prod/db?version-stage=AWSPREVIOUS");
        assert_eq!(secret.version_stage.as_deref(), Some("AWSPREVIOUS"));
        let (secret, selector) = aws("prod/db?version-id=0123-abcd#password");
        assert_eq!(secret.version_id.as_deref(), Some("0123-abcd"));
        assert_eq!(selector, Some(Selector::Key("password".into())));
        let (secret, selector) = aws("prod/db#password?version-stage=AWSPENDING");
        assert_eq!(secret.version_stage.as_deref(), Some("AWSPENDING"));
        assert_eq!(selector, Some(Selector::Key("password".into())));
    }

    #[test]
    fn arn_takes_region() {
        let (secret, selector) = aws(ARN);
        assert_eq!(secret.secret_id, ARN);
        assert_eq!(secret.region.as_deref(), Some("eu-west-1"));
        assert_eq!(selector, None);
        let (secret, selector) = aws(&format!("{ARN}?version-stage=AWSPREVIOUS#password"));
        assert_eq!(secret.secret_id, ARN);
        assert_eq!(secret.version_stage.as_deref(), Some("AWSPREVIOUS"));
        assert_eq!(selector, Some(Selector::Key("password".into())));
    }

    #[test]
    fn arn_rejects_malformed_region_and_partition() {
        let cases = [
            ("arn:aws-cn:secretsmanager:cn#north-1:123456789012:secret:a-AbCdEf?version-stage=AWSCURRENT", "region"),
            ("arn:aws:secretsmanager:evil.example/x:123456789012:secret:a-AbCdEf", "region"),
            ("arn:aws:secretsmanager:US-EAST-1:123456789012:secret:a-AbCdEf", "region"),
            ("arn:a?ws:secretsmanager:us-east-1:123456789012:secret:a-AbCdEf", "partition"),
        ];
        for (text, part) in cases {
            let error = Reference::parse(text).unwrap_err().to_string();
            assert!(error.contains(&format!("the ARN's {part}")), "{text}: {error}");
        }
        assert!(Reference::parse("arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:a-AbCdEf").is_ok());
    }

    #[test]
    fn arn_ecs_value_from_form() {
        let (secret, selector) = aws(&format!("{ARN}:username::"));
        assert_eq!(secret.secret_id, ARN);
        assert_eq!(selector, Some(Selector::Key("username".into())));
        assert!(secret.is_current());
        let (secret, selector) = aws(&format!("{ARN}::AWSPREVIOUS:"));
        assert_eq!(selector, None);
        assert_eq!(secret.version_stage.as_deref(), Some("AWSPREVIOUS"));
        let (secret, _) = aws(&format!("{ARN}:password:AWSCURRENT:6f1c"));
        assert_eq!(secret.version_id.as_deref(), Some("6f1c"));
        assert_eq!(aws(&format!("aws-sm:{ARN}:k")).1, Some(Selector::Key("k".into())));
    }

    #[test]
    fn file_and_env_sources() {
        let file = Reference::parse("file:/run/secrets/db#x").unwrap();
        assert_eq!(file.source, Source::File("/run/secrets/db#x".into()));
        let env = Reference::parse("env:DB_PASSWORD").unwrap();
        assert_eq!(env.source, Source::Env("DB_PASSWORD".into()));
    }

    #[test]
    fn invalid_references_rejected() {
        let long = "a".repeat(100_000);
        let cases = [
            "",
            "file:",
            "env:",
            "env:1ABC",
            "env:A-B",
            "prod db",
            "prod/db#",
            "prod/db?",
            "prod/db?version-stage=",
            "prod/db?stage=AWSCURRENT",
            "prod/db?version-stage=A&version-stage=B",
            "prod/db#/a~2b",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret",
            "arn:aws:s3:eu-west-1:123456789012:secret:x",
            "arn:aws:secretsmanager::123456789012:secret:x-AbCdEf",
            "arn:aws:secretsmanager:eu-west-1:abc:secret:x-AbCdEf",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf:a:b:c:d",
            "prod/db\u{1b}[31m",
            long.as_str(),
        ];
        for text in cases {
            assert!(Reference::parse(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn every_allowed_name_character_accepted() {
        let name = "azAZ09/_+=.@-";
        assert_eq!(aws(name).0.secret_id, name);
        assert!(Reference::parse(&"n".repeat(512)).is_ok());
        assert!(Reference::parse(&"n".repeat(513)).is_err());
    }
}
