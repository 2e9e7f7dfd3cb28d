//! `secretfd describe`: a secret's metadata, never its value.
//!
//! Two read-only calls: DescribeSecret (ARN, description, KMS key, dates,
//! rotation, tags) and ListSecretVersionIds (every version with its staging
//! labels and dates). Deprecated versions, the ones with no staging label
//! left, are listed too, because `get NAME?version-id=ID` can still read them
//! until Secrets Manager removes them. They show `-` as their stages. Neither
//! call returns the value, so the value never enters this process.

#![forbid(unsafe_code)]

use aws_sdk_secretsmanager as sm;
use serde_json::{Map, Value, json};
use sm::operation::describe_secret::DescribeSecretOutput;
use sm::primitives::{DateTime, DateTimeFormat};
use sm::types::SecretVersionsListEntry;

use crate::cli::{DescribeArgs, GlobalOptions};
use crate::error::{Error, Problem, sanitize};
use crate::reference::{Reference, Source};
use crate::source::aws;

use super::create::aws_failure;

/// Runs `secretfd describe` and returns the exit code.
pub fn run(args: DescribeArgs, global: &GlobalOptions) -> Result<i32, Error> {
    let reference = Reference::parse(&args.reference)
        .map_err(|error| Error::usage(Problem::new(&args.reference, format!("invalid reference: {error}"))))?;
    let Source::Aws(secret) = reference.source else {
        return Err(Error::usage(
            Problem::new(&args.reference, "file: and env: references have no metadata to describe")
                .with_hint("name a Secrets Manager secret by its name or ARN"),
        ));
    };

    let options = aws::Options { region: global.region.clone(), timeout: global.timeout };
    let (described, versions) = aws::with_client(&options, secret.region.as_deref(), |client, place| async move {
        let described = client
            .describe_secret()
            .secret_id(&secret.secret_id)
            .send()
            .await
            .map_err(|error| aws::classify(&error, &place))?;
        let versions = list_versions(&client, &secret.secret_id, &place).await?;
        Ok((described, versions))
    })
    .map_err(|error| aws_failure(&args.reference, error, describe_hint))?;

    let record = record(&described, versions);
    if args.json {
        println!("{}", crate::error::escape_json_controls(&Value::Object(record).to_string()));
    } else {
        print_text(&record);
    }
    Ok(0)
}

/// Lists every version, deprecated ones included, following `NextToken`.
async fn list_versions(
    client: &sm::Client,
    secret_id: &str,
    place: &aws::Place,
) -> Result<Vec<SecretVersionsListEntry>, aws::AwsError> {
    let mut versions = Vec::new();
    let mut next_token = None;
    loop {
        let output = client
            .list_secret_version_ids()
            .secret_id(secret_id)
            .include_deprecated(true)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|error| aws::classify(&error, place))?;
        versions.extend(output.versions.unwrap_or_default());
        match output.next_token {
            Some(token) if !token.is_empty() => next_token = Some(token),
            _ => return Ok(versions),
        }
    }
}

fn describe_hint(code: &str, _name: &str) -> Option<String> {
    match code {
        "AccessDeniedException" => {
            Some("allow secretsmanager:DescribeSecret and secretsmanager:ListSecretVersionIds on this secret".into())
        }
        "InvalidParameterException" => Some("check the secret name or ARN".into()),
        _ => None,
    }
}

/// Builds the output with the field names of the Secrets Manager API, leaving
/// out fields the secret does not have. Versions are listed newest first.
fn record(described: &DescribeSecretOutput, mut versions: Vec<SecretVersionsListEntry>) -> Map<String, Value> {
    let mut record = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            record.insert(name.to_owned(), value);
        }
    };
    let text = |value: Option<&str>| value.map(|text| json!(text));

    put("ARN", text(described.arn()));
    put("Name", text(described.name()));
    put("Description", text(described.description()));
    put("KmsKeyId", text(described.kms_key_id()));
    put("OwningService", text(described.owning_service()));
    put("PrimaryRegion", text(described.primary_region()));
    put("CreatedDate", date(described.created_date()));
    put("LastChangedDate", date(described.last_changed_date()));
    put("LastAccessedDate", date(described.last_accessed_date()));
    put("DeletedDate", date(described.deleted_date()));
    put("RotationEnabled", Some(json!(described.rotation_enabled().unwrap_or(false))));
    put("RotationLambdaARN", text(described.rotation_lambda_arn()));
    if let Some(rules) = described.rotation_rules() {
        let mut object = Map::new();
        if let Some(days) = rules.automatically_after_days() {
            object.insert("AutomaticallyAfterDays".into(), json!(days));
        }
        if let Some(expression) = rules.schedule_expression() {
            object.insert("ScheduleExpression".into(), json!(expression));
        }
        if let Some(duration) = rules.duration() {
            object.insert("Duration".into(), json!(duration));
        }
        put("RotationRules", Some(Value::Object(object)));
    }
    put("LastRotatedDate", date(described.last_rotated_date()));
    put("NextRotationDate", date(described.next_rotation_date()));
    let tags: Vec<Value> = described
        .tags()
        .iter()
        .map(|tag| json!({ "Key": tag.key().unwrap_or_default(), "Value": tag.value().unwrap_or_default() }))
        .collect();
    put("Tags", Some(Value::Array(tags)));

    // Newest first. Versions created in the same second (dates have whole
    // seconds) are ordered by their most important staging label.
    versions.sort_by(|a, b| {
        b.created_date()
            .cmp(&a.created_date())
            .then_with(|| stage_rank(a).cmp(&stage_rank(b)))
            .then_with(|| a.version_id().cmp(&b.version_id()))
    });
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| {
            let mut object = Map::new();
            object.insert("VersionId".into(), json!(version.version_id().unwrap_or_default()));
            object.insert("VersionStages".into(), json!(version.version_stages()));
            if let Some(created) = date(version.created_date()) {
                object.insert("CreatedDate".into(), created);
            }
            if let Some(accessed) = date(version.last_accessed_date()) {
                object.insert("LastAccessedDate".into(), accessed);
            }
            Value::Object(object)
        })
        .collect();
    put("Versions", Some(Value::Array(versions)));
    record
}

/// Orders versions by label: AWSCURRENT, AWSPENDING, AWSPREVIOUS, other
/// labels, then deprecated versions with no label.
fn stage_rank(version: &SecretVersionsListEntry) -> u8 {
    let stages = version.version_stages();
    let has = |stage: &str| stages.iter().any(|s| s == stage);
    if has("AWSCURRENT") {
        0
    } else if has("AWSPENDING") {
        1
    } else if has("AWSPREVIOUS") {
        2
    } else if !stages.is_empty() {
        3
    } else {
        4
    }
}

/// Formats a date as RFC 3339 in UTC, such as `2026-01-31T12:00:00Z`.
fn date(value: Option<&DateTime>) -> Option<Value> {
    value.and_then(|date| date.fmt(DateTimeFormat::DateTime).ok()).map(Value::String)
}

/// Prints the record as aligned `Field  value` lines, then one line per
/// version. Every text from the service is stripped of control characters.
fn print_text(record: &Map<String, Value>) {
    let scalar_fields: Vec<(&String, String)> = record
        .iter()
        .filter_map(|(name, value)| {
            let text = match (name.as_str(), value) {
                ("Versions", _) => return None,
                ("Tags", Value::Array(tags)) => tags
                    .iter()
                    .map(|tag| format!("{}={}", tag["Key"].as_str().unwrap_or(""), tag["Value"].as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(", "),
                ("RotationRules", Value::Object(rules)) => {
                    rules.iter().map(|(rule, value)| format!("{rule}={}", plain(value))).collect::<Vec<_>>().join(", ")
                }
                (_, value) => plain(value),
            };
            Some((name, text))
        })
        .collect();
    let width = scalar_fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, text) in &scalar_fields {
        let text = if text.is_empty() { "-" } else { text };
        println!("{name:width$}  {}", sanitize(text));
    }

    let Some(Value::Array(versions)) = record.get("Versions") else { return };
    let mut rows = vec![["VersionId".to_owned(), "VersionStages".to_owned(), "CreatedDate".to_owned()]];
    for version in versions {
        let stages: Vec<&str> =
            version["VersionStages"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let stages = if stages.is_empty() { "-".to_owned() } else { stages.join(",") };
        rows.push([plain(&version["VersionId"]), stages, version.get("CreatedDate").map(plain).unwrap_or("-".into())]);
    }
    let widths: Vec<usize> = (0..3).map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0)).collect();
    println!("Versions");
    for row in rows {
        let line = format!("  {:w0$}  {:w1$}  {}", row[0], row[1], row[2], w0 = widths[0], w1 = widths[1]);
        println!("{}", sanitize(line.trim_end()));
    }
}

/// Formats a JSON value as plain text, with strings unquoted.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lists_versions_newest_first_without_value() {
        let described = DescribeSecretOutput::builder()
            .arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:app/pw-AbCdEf")
            .name("app/pw")
            .tags(sm::types::Tag::builder().key("team").value("payments").build())
            .build();
        let version = |id: &str, seconds: i64, stages: &[&str]| {
            let mut entry =
                SecretVersionsListEntry::builder().version_id(id).created_date(DateTime::from_secs(seconds));
            for stage in stages {
                entry = entry.version_stages(*stage);
            }
            entry.build()
        };
        let versions = vec![
            version("old", 100, &["AWSPREVIOUS"]),
            version("gone", 50, &[]),
            version("new", 200, &["AWSCURRENT"]),
            version("same-second", 200, &["AWSPREVIOUS"]),
        ];

        let record = record(&described, versions);

        let ids: Vec<&str> =
            record["Versions"].as_array().unwrap().iter().map(|v| v["VersionId"].as_str().unwrap()).collect();
        assert_eq!(ids, ["new", "same-second", "old", "gone"]);
        assert_eq!(record["Versions"][0]["VersionStages"], json!(["AWSCURRENT"]));
        assert_eq!(record["Versions"][0]["CreatedDate"], json!("1970-01-01T00:03:20Z"));
        assert_eq!(record["Versions"][3]["VersionStages"], json!([]));
        assert_eq!(record["Tags"], json!([{ "Key": "team", "Value": "payments" }]));
        assert_eq!(record["RotationEnabled"], json!(false));
        assert!(!record.contains_key("Description"));
        assert!(!record.contains_key("SecretString"));
    }
}
