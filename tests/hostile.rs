//! Hostile and unusual input: names with every character Secrets Manager
//! allows, oversized values and references, and terminal escape sequences
//! in names, AWS messages and metadata.
//!
//! The parsers themselves are fuzzed with cargo-fuzz (see `fuzz/`); these
//! tests run the real binary end to end.

mod support;

use std::fs;
use std::time::Duration;

use serde_json::json;
use support::{Moto, Response, StubServer, aws_error, run_with_timeout, secretfd, temp_dir, unique_name};

const LIMIT: Duration = Duration::from_secs(60);

/// Every character Secrets Manager allows in a secret name: ASCII letters,
/// digits and `/_+=.@-` (CreateSecret's `Name` in the API reference).
const NAME_CHARACTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+=.@-";

/// Largest `file:` secret secretfd reads (1 MiB), as its error message and
/// SECURITY.md state.
const MAX_FILE_SECRET: usize = 1024 * 1024;

/// Bytes that would make a terminal do something: ESC (CSI and OSC
/// sequences), the 8-bit CSI, BEL and carriage return.
fn assert_no_terminal_controls(case: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for (control, label) in [('\u{1b}', "ESC"), ('\u{9b}', "8-bit CSI"), ('\u{7}', "BEL"), ('\r', "CR")] {
        assert!(!text.contains(control), "{case}: raw {label} in the output:\n{text:?}");
    }
}

#[test]
fn name_with_every_allowed_character() {
    let moto = Moto::shared();
    let name = format!("{}{NAME_CHARACTERS}", unique_name("hostile-name"));
    // Every printable ASCII character, '#', '?', ':' and '~' included, and
    // not starting with '/' so that it is a key and not a JSON pointer.
    let key: String = (' '..='~').collect();
    let arn = moto.create_secret_string(&name, &json!({ key.as_str(): "every-char", "plain": "p" }).to_string());

    let references = [name.clone(), format!("aws-sm:{name}"), arn.clone(), format!("{name}?version-stage=AWSCURRENT")];
    for reference in &references {
        let finished = run_with_timeout(secretfd().args(["get", &format!("{reference}#plain")]), LIMIT);
        assert_eq!(finished.code(), Some(0), "{reference}: {}", finished.stderr_text());
        assert_eq!(finished.output.stdout, b"p", "{reference}");

        let binding = format!("3={reference}#{key}");
        let finished = run_with_timeout(secretfd().args(["run", "--fd", &binding, "--", "sh", "-c", "cat <&3"]), LIMIT);
        assert_eq!(finished.code(), Some(0), "{binding}: {}", finished.stderr_text());
        assert_eq!(finished.output.stdout, b"every-char", "{binding}");
    }

    let ecs_form = format!("3={arn}:plain::");
    let finished = run_with_timeout(secretfd().args(["run", "--fd", &ecs_form, "--", "sh", "-c", "cat <&3"]), LIMIT);
    assert_eq!(finished.code(), Some(0), "{ecs_form}: {}", finished.stderr_text());
    assert_eq!(finished.output.stdout, b"p");
}

#[test]
fn name_with_disallowed_character_rejected() {
    // Not '#', '?' or ':': they start a key, a query or an ARN field.
    for bad in [' ', '!', '*', 'é', '\\', '"', '\'', '%', '$'] {
        let reference = format!("prod{bad}db");
        let finished = run_with_timeout(support::secretfd_offline().args(["get", &reference]), LIMIT);
        let stderr = finished.stderr_text();
        assert_eq!(finished.code(), Some(2), "{reference:?}: {stderr}");
        assert!(stderr.contains("names may contain only letters, digits and /_+=.@-"), "{reference:?}: {stderr}");
    }
}

/// Delivers a `file:` secret of `size` bytes with each carrier and checks it
/// arrives whole.
fn assert_file_secret_delivered(size: usize) {
    let dir = temp_dir("file-size");
    let path = dir.join("value");
    let value: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    fs::write(&path, &value).unwrap();

    for carrier in ["memfd", "pipe"] {
        let binding = format!("3=file:{}", path.display());
        let mut command = secretfd();
        command.args(["run", "--carrier", carrier, "--fd", &binding, "--", "sh", "-c", "cat <&3"]);
        let finished = run_with_timeout(&mut command, LIMIT);
        assert_eq!(finished.code(), Some(0), "{size} bytes, {carrier}: {}", finished.stderr_text());
        assert_eq!(finished.output.stdout.len(), size, "{size} bytes, {carrier}");
        assert!(finished.output.stdout == value, "{size} bytes, {carrier}: the value changed on the way");
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn file_secret_of_65537_bytes_accepted() {
    // One byte more than Secrets Manager stores, and more than a pipe's
    // default 64 KiB buffer.
    assert_file_secret_delivered(65_537);
}

#[test]
fn file_secret_at_limit_accepted() {
    assert_file_secret_delivered(MAX_FILE_SECRET);
}

#[test]
fn file_secret_over_limit_rejected() {
    let dir = temp_dir("file-too-large");
    let path = dir.join("value");
    fs::write(&path, vec![b'x'; MAX_FILE_SECRET + 1]).unwrap();
    let marker = dir.join("started");

    let binding = format!("3=file:{}", path.display());
    let mut command = secretfd();
    command.args(["run", "--fd", &binding, "--", "touch", marker.to_str().unwrap()]);
    let finished = run_with_timeout(&mut command, LIMIT);
    let stderr = finished.stderr_text();
    assert_eq!(finished.code(), Some(125), "{stderr}");
    assert!(!marker.exists(), "the child started");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("{} is larger than 1048576 bytes", path.display())), "{stderr}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn reference_of_100000_characters_rejected_cleanly() {
    let reference = "a".repeat(100_000);
    let marker = temp_dir("long-reference").join("started");
    let cases = [
        ("run --fd", vec!["run".to_owned(), "--fd".into(), format!("3={reference}"), "--".into()], 125),
        ("run --file", vec!["run".to_owned(), "--file".into(), format!("A={reference}"), "--".into()], 125),
        ("get", vec!["get".to_owned(), reference.clone()], 2),
    ];
    for (case, mut args, code) in cases {
        if args[0] == "run" {
            args.extend(["touch".to_owned(), marker.display().to_string()]);
        }
        let finished = run_with_timeout(support::secretfd_offline().args(&args), LIMIT);
        let stderr = finished.stderr_text();
        assert_eq!(finished.code(), Some(code), "{case}: {stderr}");
        assert!(finished.elapsed < Duration::from_secs(5), "{case}: took {:?}", finished.elapsed);
        assert!(!marker.exists(), "{case}: the child started");
        assert_eq!(stderr.lines().count(), 1, "{case}: {} lines", stderr.lines().count());
        assert!(stderr.contains("longer than 4096 bytes"), "{case}: {}", &stderr[..stderr.len().min(500)]);
        // The message names the reference, but need not repeat all of it.
        assert!(stderr.len() < 1_000, "{case}: a {}-byte error line", stderr.len());
    }
}

#[test]
fn escapes_in_references_neutralised() {
    let hostile = ["prod\u{1b}[2J/db", "prod/db#\u{1b}]0;owned\u{7}", "file:/tmp/\u{9b}31m", "env:\rX", "prod/db\r"];
    for reference in hostile {
        for args in [vec!["get", reference], vec!["describe", reference]] {
            let finished = run_with_timeout(support::secretfd_offline().args(&args), LIMIT);
            assert_eq!(finished.code(), Some(2), "{args:?}: {}", finished.stderr_text());
            assert_no_terminal_controls(&format!("{args:?}"), &finished.output.stderr);
        }
        let binding = format!("A={reference}");
        let finished =
            run_with_timeout(support::secretfd_offline().args(["run", "--file", &binding, "--", "true"]), LIMIT);
        assert_eq!(finished.code(), Some(125), "{binding:?}: {}", finished.stderr_text());
        assert!(finished.stderr_text().contains("control character"), "{}", finished.stderr_text());
        assert_no_terminal_controls(&binding, &finished.output.stderr);
    }

    // A hostile variable name and command name are echoed in errors too.
    let finished = run_with_timeout(
        support::secretfd_offline().args(["run", "--file", "A\u{1b}[31m=prod/db", "--", "true"]),
        LIMIT,
    );
    assert_eq!(finished.code(), Some(125), "{}", finished.stderr_text());
    assert_no_terminal_controls("variable name", &finished.output.stderr);
    let finished = run_with_timeout(support::secretfd_offline().args(["run", "--", "no-such\u{1b}[2Jcommand"]), LIMIT);
    assert_eq!(finished.code(), Some(127), "{}", finished.stderr_text());
    assert_no_terminal_controls("command name", &finished.output.stderr);
}

/// An endpoint, or a man in the middle on a plain-HTTP endpoint, controls
/// error codes, messages, version IDs and metadata. None of them may reach
/// the terminal raw, at any verbosity.
#[test]
fn escapes_from_aws_neutralised() {
    const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\rred";
    let server = StubServer::new(|request| {
        let body = request.body_json();
        let id = body["SecretId"].as_str().or_else(|| body["SecretIdList"][0].as_str()).unwrap_or("x").to_owned();
        // create and put send their own requests; only the reply matters here.
        match request.target.rsplit('.').next().unwrap_or("") {
            "BatchGetSecretValue" if id.starts_with("fails") => {
                let error = json!({ "SecretId": id, "ErrorCode": format!("Code{HOSTILE}"), "Message": HOSTILE });
                Response::json(200, &json!({ "SecretValues": [], "Errors": [error] }))
            }
            "BatchGetSecretValue" => {
                let value = json!({ "Name": id, "SecretString": "v", "VersionId": format!("v1{HOSTILE}") });
                Response::json(200, &json!({ "SecretValues": [value], "Errors": [] }))
            }
            "GetSecretValue" => aws_error(400, &format!("ResourceNotFoundException{HOSTILE}"), HOSTILE),
            "DescribeSecret" => Response::json(
                200,
                &json!({
                    "ARN": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{id}-AbCdEf"),
                    "Name": format!("{id}{HOSTILE}"),
                    "Description": HOSTILE,
                    "Tags": [{ "Key": HOSTILE, "Value": HOSTILE }],
                }),
            ),
            "CreateSecret" | "PutSecretValue" => Response::json(
                200,
                &json!({
                    "ARN": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{HOSTILE}"),
                    "Name": HOSTILE,
                    "VersionId": HOSTILE,
                    "VersionStages": [HOSTILE],
                }),
            ),
            "ListSecretVersionIds" => Response::json(
                200,
                &json!({ "Versions": [{ "VersionId": HOSTILE, "VersionStages": [HOSTILE] }], "Name": id }),
            ),
            _ => aws_error(400, "InvalidAction", HOSTILE),
        }
    });

    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("batch error", vec!["run", "--fd", "3=fails/db", "--", "true"]),
        ("single error", vec!["run", "--fd", "3=fails/db?version-stage=AWSPREVIOUS", "--", "true"]),
        ("dry-run version", vec!["run", "--dry-run", "--fd", "3=works/db", "--", "true"]),
        ("get error", vec!["get", "fails/db?version-stage=AWSPREVIOUS"]),
        ("describe", vec!["describe", "works/db"]),
        ("describe --json", vec!["describe", "--json", "works/db"]),
        ("create", vec!["create", "--generate", "works/new"]),
        ("create --json", vec!["create", "--json", "--generate", "works/new"]),
        ("put --json", vec!["put", "--json", "--generate", "works/db"]),
    ];
    for (case, args) in cases {
        for verbosity in [None, Some("-vvv")] {
            let mut command = support::secretfd_with_endpoint(&server.endpoint());
            command.args(verbosity).args(&args);
            let finished = run_with_timeout(&mut command, LIMIT);
            let label = format!("{case} {}", verbosity.unwrap_or(""));
            assert!(!finished.timed_out, "{label}: hung");
            if case.starts_with("create") || case.starts_with("put") {
                assert_eq!(finished.code(), Some(0), "{label}: {}", finished.stderr_text());
            }
            assert_no_terminal_controls(&label, &finished.output.stderr);
            assert_no_terminal_controls(&label, &finished.output.stdout);
        }
    }
}
