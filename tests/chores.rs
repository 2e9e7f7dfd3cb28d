//! The secret chores end to end: `password`, `create`, `put`, `get` and
//! `describe`, with the real binary against moto.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    Finished, Moto, StubServer, aws_error, run_with_stdin, run_with_timeout, secretfd, temp_dir, unique_name,
    wait_with_timeout,
};

const LIMIT: Duration = Duration::from_secs(60);

/// GetRandomPassword's punctuation set.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

fn run(args: &[&str]) -> Finished {
    run_with_timeout(secretfd().args(args), LIMIT)
}

fn run_stdin(args: &[&str], input: &[u8]) -> Finished {
    run_with_stdin(secretfd().args(args), input, LIMIT)
}

/// Asserts exit 0 and returns stdout.
fn ok(finished: &Finished) -> Vec<u8> {
    assert_eq!(finished.code(), Some(0), "stderr: {}", finished.stderr_text());
    finished.output.stdout.clone()
}

/// Asserts the exit code and a one-line stderr that contains every fragment.
fn fails_with(finished: &Finished, code: i32, fragments: &[&str]) {
    let stderr = finished.stderr_text();
    assert_eq!(finished.code(), Some(code), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "expected one line: {stderr}");
    assert!(stderr.starts_with("secretfd: "), "{stderr}");
    for fragment in fragments {
        assert!(stderr.contains(fragment), "{fragment:?} missing from: {stderr}");
    }
}

fn describe_json(name: &str) -> Value {
    serde_json::from_slice(&ok(&run(&["describe", "--json", name]))).unwrap()
}

/// `(VersionId, VersionStages)` of every version in `describe --json` output.
fn versions(described: &Value) -> Vec<(String, Vec<String>)> {
    described["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| {
            let stages = version["VersionStages"].as_array().unwrap().iter();
            let stages = stages.map(|stage| stage.as_str().unwrap().to_owned()).collect();
            (version["VersionId"].as_str().unwrap().to_owned(), stages)
        })
        .collect()
}

fn classes(password: &str) -> [bool; 4] {
    [
        password.bytes().any(|c| c.is_ascii_lowercase()),
        password.bytes().any(|c| c.is_ascii_uppercase()),
        password.bytes().any(|c| c.is_ascii_digit()),
        password.bytes().any(|c| PUNCTUATION.as_bytes().contains(&c)),
    ]
}

// password

#[test]
fn password_length_and_exclusions() {
    for _ in 0..20 {
        let password = String::from_utf8(ok(&run(&["password", "--length", "40", "--exclude-characters", "\"\\"])))
            .expect("a password is ASCII");
        assert_eq!(password.len(), 40, "{password:?}");
        assert!(!password.contains('"'), "{password}");
        assert!(!password.contains('\\'), "{password}");
        assert!(!password.contains('\n'), "a newline was printed to a pipe");
        assert_eq!(classes(&password), [true; 4], "{password}");
    }
}

#[test]
fn password_defaults_to_32_characters() {
    let password = ok(&run(&["password"]));
    assert_eq!(password.len(), 32);
    assert!(password.iter().all(|c| c.is_ascii_graphic()), "{password:?}");
}

/// Expected count of each character class over `samples` passwords of
/// `length` characters from an alphabet with `sizes[i]` characters of class
/// i, when every class must appear: a password is drawn uniformly and thrown
/// away unless it has every class. By inclusion-exclusion over the set S of
/// classes that are missing, P(accept) = sum (-1)^|S| (1 - p_S)^L and
/// E[count of one character of class c, accepted] =
/// sum over S without c of (-1)^|S| L (1/n) (1 - p_S)^(L-1).
fn expected_per_character(sizes: &[usize], length: i32, samples: f64) -> Vec<f64> {
    let n: usize = sizes.iter().sum();
    let mut accept = 0.0;
    let mut per_class = vec![0.0; sizes.len()];
    for subset in 0u32..(1 << sizes.len()) {
        let sign = if subset.count_ones() % 2 == 0 { 1.0 } else { -1.0 };
        let missing: usize = (0..sizes.len()).filter(|i| subset & (1 << i) != 0).map(|i| sizes[i]).sum();
        let remaining = (n - missing) as f64 / n as f64;
        accept += sign * remaining.powi(length);
        for (class, expected) in per_class.iter_mut().enumerate() {
            if subset & (1 << class) == 0 {
                *expected += sign * f64::from(length) / n as f64 * remaining.powi(length - 1);
            }
        }
    }
    per_class.into_iter().map(|expected| expected / accept * samples).collect()
}

/// Critical value of the chi-square distribution with `df` degrees of
/// freedom at upper-tail probability 0.0001 (z = 3.719), by the
/// Wilson-Hilferty approximation, which is within 1% for df above 30.
fn chi_square_critical(df: f64) -> f64 {
    let z = 3.719;
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + z * a.sqrt()).powi(3)
}

#[test]
fn password_characters_uniform_over_10000() {
    const PASSWORDS: usize = 10_000;
    const LENGTH: usize = 40;
    const WORKERS: usize = 4;

    // Generated by the binary, as a user would: a few shells, each running
    // it in a loop and ending each password with a newline (the password,
    // printed to a pipe, has none of its own).
    let script =
        r#"for ((i = 0; i < $2; i++)); do "$0" password --length 40 --exclude-characters "$1" && echo || exit; done"#;
    let per_worker = (PASSWORDS / WORKERS).to_string();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let mut shell = support::isolated_command("bash", support::CLOSED_ENDPOINT);
            shell.args(["-c", script, env!("CARGO_BIN_EXE_secretfd"), "\"\\", &per_worker]);
            thread::spawn(move || ok(&run_with_timeout(&mut shell, Duration::from_secs(600))))
        })
        .collect();
    let output: Vec<u8> = workers.into_iter().flat_map(|worker| worker.join().unwrap()).collect();
    let passwords: Vec<&[u8]> = output.split(|&c| c == b'\n').filter(|line| !line.is_empty()).collect();
    assert_eq!(passwords.len(), PASSWORDS);

    let mut counts: BTreeMap<u8, u64> = BTreeMap::new();
    for password in passwords {
        assert_eq!(password.len(), LENGTH);
        assert_eq!(classes(std::str::from_utf8(password).unwrap()), [true; 4]);
        for &c in password {
            *counts.entry(c).or_default() += 1;
        }
    }

    // Every allowed character appears, and nothing else.
    let punctuation: Vec<u8> = PUNCTUATION.bytes().filter(|&c| c != b'"' && c != b'\\').collect();
    let alphabet_classes: [Vec<u8>; 4] =
        [(b'a'..=b'z').collect(), (b'A'..=b'Z').collect(), (b'0'..=b'9').collect(), punctuation];
    let allowed: Vec<u8> = alphabet_classes.iter().flatten().copied().collect();
    assert_eq!(allowed.len(), 92);
    for c in &allowed {
        assert!(counts.contains_key(c), "{:?} never appeared", char::from(*c));
    }
    assert_eq!(counts.len(), allowed.len(), "unexpected characters: {counts:?}");

    // Chi-square against the exact expected counts under the rule that every
    // class must appear.
    let sizes: Vec<usize> = alphabet_classes.iter().map(Vec::len).collect();
    let expected = expected_per_character(&sizes, LENGTH as i32, PASSWORDS as f64);
    let mut chi_square = 0.0;
    for (class, characters) in alphabet_classes.iter().enumerate() {
        for c in characters {
            let observed = counts[c] as f64;
            chi_square += (observed - expected[class]).powi(2) / expected[class];
        }
    }
    let critical = chi_square_critical((allowed.len() - 1) as f64);
    assert!(chi_square < critical, "chi-square {chi_square:.1} >= {critical:.1}; counts {counts:?}");
}

#[test]
fn password_expected_counts_sum_to_total() {
    // The formula above is checked against a case that is easy by hand: with
    // one class there is no rejection and every character is equally likely.
    let expected = expected_per_character(&[10], 5, 100.0);
    assert!((expected[0] - 50.0).abs() < 1e-9, "{expected:?}");
    let sizes = [26, 26, 10, 30];
    let expected = expected_per_character(&sizes, 40, 10_000.0);
    let total: f64 = expected.iter().zip(sizes).map(|(e, size)| e * size as f64).sum();
    assert!((total - 400_000.0).abs() < 1e-3, "{total}");
}

#[test]
fn password_impossible_options_exit_2() {
    let cases: [&[&str]; 5] = [
        &["--length", "0"],
        &["--length", "4097"],
        &["--length", "3"],
        &["--exclude-numbers", "--exclude-punctuation", "--exclude-uppercase", "--exclude-lowercase"],
        &["--exclude-lowercase", "--exclude-uppercase", "--exclude-punctuation", "--exclude-characters", "0123456789"],
    ];
    for options in cases {
        let mut args = vec!["password"];
        args.extend_from_slice(options);
        let finished = run_with_timeout(support::secretfd_offline().args(&args), LIMIT);
        fails_with(&finished, 2, &["password options"]);
        assert!(finished.output.stdout.is_empty(), "{options:?}");
    }
}

#[test]
fn password_newline_only_on_terminal() {
    // `script` runs the command on a pseudo-terminal, which turns "\n" into "\r\n".
    let binary = env!("CARGO_BIN_EXE_secretfd");
    let mut command = support::isolated_command("script", support::CLOSED_ENDPOINT);
    command.args(["-qec", &format!("{binary} password --length 12"), "/dev/null"]);
    let output = ok(&run_with_timeout(&mut command, LIMIT));
    let text = String::from_utf8(output).unwrap();
    assert!(text.ends_with("\r\n"), "{text:?}");
    assert_eq!(text.trim_end().len(), 12, "{text:?}");
}

// create, get, describe

#[test]
fn create_generate_then_get_and_describe() {
    let name = unique_name("app/pw");

    let created = String::from_utf8(ok(&run(&["create", &name, "--generate"]))).unwrap();
    assert!(created.contains(&name), "{created}");
    assert!(created.contains("arn:aws:secretsmanager:us-east-1:"), "{created}");

    let value = ok(&run(&["get", &name]));
    let password = String::from_utf8(value).unwrap();
    assert_eq!(password.len(), 32, "{password:?}");
    assert!(!password.starts_with('"') || !password.ends_with('"'), "quoted: {password}");
    assert!(!password.contains('\n'), "{password:?}");
    assert_eq!(classes(&password), [true; 4], "{password}");
    // The stored value is the raw password, not JSON text with escapes.
    let (_, stored) = Moto::shared().call("GetSecretValue", &serde_json::json!({ "SecretId": name }));
    assert_eq!(stored["SecretString"].as_str(), Some(password.as_str()));

    // The password never reached create's own output.
    assert!(!created.contains(&password));

    let described = describe_json(&name);
    let listed = versions(&described);
    assert_eq!(listed.len(), 1, "{described}");
    assert_eq!(listed[0].1, ["AWSCURRENT"]);
    assert!(!described.to_string().contains(&password), "describe printed the value");

    let text = String::from_utf8(ok(&run(&["describe", &name]))).unwrap();
    assert!(text.contains(&listed[0].0), "{text}");
    assert!(text.contains("AWSCURRENT"), "{text}");
    assert!(!text.contains(&password));
}

#[test]
fn create_json_output_and_metadata() {
    let name = unique_name("app/meta");
    let finished = run_stdin(
        &["create", &name, "--json", "--description", "payments DB", "--tag", "team=payments", "--tag", "env=test"],
        b"value-1",
    );
    let created: Value = serde_json::from_slice(&ok(&finished)).unwrap();
    assert_eq!(created["Name"], name.as_str());
    assert!(created["ARN"].as_str().unwrap().contains(&name), "{created}");
    let version_id = created["VersionId"].as_str().unwrap();
    assert!(!version_id.is_empty());

    let described = describe_json(&name);
    assert_eq!(described["Description"], "payments DB");
    assert_eq!(described["ARN"], created["ARN"]);
    let tags = described["Tags"].as_array().unwrap();
    assert!(tags.contains(&serde_json::json!({ "Key": "team", "Value": "payments" })), "{described}");
    assert!(tags.contains(&serde_json::json!({ "Key": "env", "Value": "test" })), "{described}");
    assert_eq!(versions(&described), [(version_id.to_owned(), vec!["AWSCURRENT".to_owned()])]);
    assert!(!described.to_string().contains("value-1"));

    // describe by ARN, and with a key part, which it ignores.
    let by_arn = describe_json(created["ARN"].as_str().unwrap());
    assert_eq!(by_arn["Name"], name.as_str());
    let with_key = describe_json(&format!("{name}#password"));
    assert_eq!(with_key["Name"], name.as_str());
}

// put

#[test]
fn put_stdin_keeps_bytes_and_rotates() {
    let name = unique_name("app/pw");
    let moto = Moto::shared();
    moto.create_secret_string(&name, "first");

    let finished = run_stdin(&["put", &name, "--json"], b"pw\n\n");
    let put: Value = serde_json::from_slice(&ok(&finished)).unwrap();
    assert_eq!(put["VersionStages"], serde_json::json!(["AWSCURRENT"]));

    assert_eq!(ok(&run(&["get", &name])), b"pw\n\n");
    assert_eq!(ok(&run(&["get", &format!("{name}?version-stage=AWSPREVIOUS")])), b"first");
    let version_id = put["VersionId"].as_str().unwrap();
    assert_eq!(ok(&run(&["get", &format!("{name}?version-id={version_id}")])), b"pw\n\n");

    let listed = versions(&describe_json(&name));
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed.iter().find(|(id, _)| id == version_id).unwrap().1, ["AWSCURRENT"]);
    let previous = listed.iter().find(|(id, _)| id != version_id).unwrap();
    assert_eq!(previous.1, ["AWSPREVIOUS"], "{listed:?}");
}

#[test]
fn put_with_custom_stage_keeps_current() {
    let name = unique_name("app/staged");
    Moto::shared().create_secret_string(&name, "current");

    let text = String::from_utf8(ok(&run_stdin(&["put", &name, "--version-stage", "NEXT"], b"next"))).unwrap();
    assert!(text.contains("NEXT"), "{text}");

    assert_eq!(ok(&run(&["get", &name])), b"current");
    assert_eq!(ok(&run(&["get", &format!("{name}?version-stage=NEXT")])), b"next");
}

#[test]
fn get_json_key_of_stored_value() {
    let name = unique_name("app/json");
    let finished = run_stdin(&["create", &name], br#"{"user":"app","password":"p\"w\\x"}"#);
    ok(&finished);
    assert_eq!(ok(&run(&["get", &format!("{name}#password")])), b"p\"w\\x");
    assert_eq!(ok(&run(&["get", &format!("{name}#/user")])), b"app");
}

// binary values

#[test]
fn binary_value_round_trips_through_get_and_run() {
    let name = unique_name("app/binary");
    let dir = temp_dir("binary");
    let path = dir.join("value.bin");
    let all_bytes: Vec<u8> = (0..=255).collect();
    fs::write(&path, &all_bytes).unwrap();

    ok(&run(&["create", &name, "--binary", "--value-file", path.to_str().unwrap()]));

    assert_eq!(ok(&run(&["get", &name])), all_bytes);
    let binding = format!("V={name}");
    assert_eq!(ok(&run(&["run", "--file", &binding, "--", "cat", "{{V}}"])), all_bytes);
    let (_, stored) = Moto::shared().call("GetSecretValue", &serde_json::json!({ "SecretId": name }));
    assert!(stored.get("SecretString").is_none(), "{stored}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn non_utf8_without_binary_fails_with_hint() {
    let name = unique_name("app/not-utf8");
    let finished = run_stdin(&["create", &name], b"\xff\xfe");
    fails_with(&finished, 1, &["stdin", "not valid UTF-8", "--binary"]);
    fails_with(&run(&["get", &name]), 1, &["ResourceNotFoundException"]);
}

// where values come from

#[test]
fn value_from_file_exact() {
    let name = unique_name("app/file");
    let dir = temp_dir("value-file");
    let path = dir.join("value");
    fs::write(&path, "line 1\nline 2\n").unwrap();
    ok(&run(&["create", &name, "--value-file", path.to_str().unwrap()]));
    assert_eq!(ok(&run(&["get", &name])), b"line 1\nline 2\n");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn empty_or_oversized_value_rejected() {
    let name = unique_name("app/empty");
    fails_with(&run_stdin(&["create", &name], b""), 1, &["stdin", "empty"]);
    fails_with(&run_stdin(&["create", &name], &vec![b'x'; 65_537]), 1, &["stdin", "65536 bytes"]);
    // Exactly the maximum is stored.
    ok(&run_stdin(&["create", &name], &vec![b'x'; 65_536]));
    assert_eq!(ok(&run(&["get", &name])).len(), 65_536);
}

#[test]
fn terminal_stdin_rejected_with_hint() {
    let binary = env!("CARGO_BIN_EXE_secretfd");
    let name = unique_name("app/tty");
    let mut command = support::isolated_command("script", &Moto::shared().endpoint());
    command.args(["-qec", &format!("{binary} create {name}"), "/dev/null"]);
    let finished = run_with_timeout(&mut command, LIMIT);
    assert_eq!(finished.code(), Some(2), "{}", finished.stdout_text());
    let text = finished.stdout_text();
    assert!(text.contains("stdin is a terminal"), "{text}");
    assert!(text.contains("--value-file"), "{text}");
}

#[test]
fn password_options_need_generate() {
    let finished = run_with_timeout(support::secretfd_offline().args(["create", "x", "--length", "20"]), LIMIT);
    fails_with(&finished, 2, &["--generate"]);
}

#[test]
fn invalid_arguments_exit_2() {
    let cases: [&[&str]; 6] = [
        &["create", "app/x#key", "--generate"],
        &["create", "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf", "--generate"],
        &["create", "x", "--generate", "--tag", "novalue"],
        &["put", "x?version-stage=AWSCURRENT", "--generate"],
        &["get", "bad name"],
        &["describe", "file:/etc/hostname"],
    ];
    for args in cases {
        let finished = run_with_timeout(support::secretfd_offline().args(args), LIMIT);
        assert_eq!(finished.code(), Some(2), "{args:?}: {}", finished.stderr_text());
        assert_eq!(finished.stderr_text().lines().count(), 1, "{args:?}: {}", finished.stderr_text());
    }
    // A clap usage error also exits 2 for these commands.
    let finished =
        run_with_timeout(support::secretfd_offline().args(["create", "x", "--generate", "--value-file", "f"]), LIMIT);
    assert_eq!(finished.code(), Some(2), "{}", finished.stderr_text());
}

// no value in the open

/// Reads every process's command line. Processes that exit while being
/// read are skipped.
fn all_command_lines() -> Vec<(String, Vec<u8>)> {
    let mut lines = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmdline) = fs::read(entry.path().join("cmdline")) {
            lines.push((pid, cmdline));
        }
    }
    lines
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// Waits until `pid` sleeps (state S), which for a process reading stdin
/// means it has taken what was written and waits for more.
fn wait_until_sleeping(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let state = stat.rsplit(") ").next().unwrap().chars().next().unwrap();
        let syscall = fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        if state == 'S' && !syscall.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "secretfd did not start waiting on stdin (state {state})");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn create_waiting_on_stdin_shows_no_value() {
    let canary = format!("canary-{}-not-in-argv", std::process::id());
    let name = unique_name("app/canary");

    let mut child = secretfd()
        .args(["-vv", "create", &name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(canary.as_bytes()).unwrap();
    stdin.flush().unwrap();
    wait_until_sleeping(pid);

    // The value is now in secretfd's memory, waiting for end of input.
    let own = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(own, format!("{}\0-vv\0create\0{name}\0", env!("CARGO_BIN_EXE_secretfd")).as_bytes());
    // secretfd is non-dumpable by now, so only root may read its environment.
    match fs::read(format!("/proc/{pid}/environ")) {
        Ok(environ) => assert!(!contains(&environ, canary.as_bytes()), "the value is in secretfd's environment"),
        Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied, "{error}"),
    }
    let lines = all_command_lines();
    assert!(lines.len() > 1, "only {} processes readable", lines.len());
    for (other, cmdline) in &lines {
        assert!(!contains(cmdline, canary.as_bytes()), "the value is on the command line of PID {other}");
    }

    drop(stdin);
    let finished = wait_with_timeout(child, LIMIT);
    let stdout = ok(&finished);
    assert!(!contains(&stdout, canary.as_bytes()), "the value is in stdout");
    assert!(!contains(&finished.output.stderr, canary.as_bytes()), "the value is in the -vv log");
    assert_eq!(ok(&run(&["get", &name])), canary.as_bytes());
}

#[test]
fn generated_and_put_values_not_logged() {
    let name = unique_name("app/quiet");
    let created = run(&["-vv", "create", &name, "--generate", "--json"]);
    let password = ok(&run(&["get", &name]));
    assert!(!contains(&created.output.stdout, &password));
    assert!(!contains(&created.output.stderr, &password), "the generated password is in the -vv log");

    let canary = b"put-canary-value";
    let put = run_stdin(&["-vv", "put", &name], canary);
    ok(&put);
    assert!(!contains(&put.output.stdout, canary));
    assert!(!contains(&put.output.stderr, canary), "the value is in the -vv log");
}

// errors

#[test]
fn create_existing_name_fails() {
    let name = unique_name("app/exists");
    Moto::shared().create_secret_string(&name, "old");
    let finished = run_stdin(&["create", &name], b"canary-never-stored");
    fails_with(&finished, 1, &[&name, "ResourceExistsException", "secretfd put"]);
    assert!(!finished.stderr_text().contains("canary"), "{}", finished.stderr_text());
    assert_eq!(ok(&run(&["get", &name])), b"old");
}

#[test]
fn get_missing_secret_fails() {
    let name = unique_name("app/missing");
    let finished = run(&["get", &name]);
    fails_with(&finished, 1, &[&name, "ResourceNotFoundException"]);
    assert!(finished.output.stdout.is_empty());
    fails_with(&run(&["describe", &name]), 1, &[&name, "ResourceNotFoundException"]);
}

#[test]
fn get_scheduled_for_deletion_fails() {
    let name = unique_name("app/deleted");
    let moto = Moto::shared();
    moto.create_secret_string(&name, "old");
    moto.delete_secret(&name, false);
    let finished = run(&["get", &name]);
    fails_with(&finished, 1, &[&name, "InvalidRequestException"]);
    assert!(finished.output.stdout.is_empty());
}

/// NOTE: moto 5.2.5 accepts PutSecretValue on a secret scheduled for
/// deletion, so this case uses a stub that replies as Secrets Manager does
/// (the PutSecretValue API reference lists InvalidRequestException for a
/// secret that is marked for deletion).
#[test]
fn put_to_scheduled_deletion_fails() {
    let server = StubServer::new(|request| {
        if request.target == "secretsmanager.PutSecretValue" {
            aws_error(
                400,
                "InvalidRequestException",
                "You can't perform this operation on the secret because it was marked for deletion.",
            )
        } else {
            aws_error(400, "UnexpectedOperation", &request.target)
        }
    });
    let mut command = support::secretfd_with_endpoint(&server.endpoint());
    command.args(["put", "app/deleted"]);
    let finished = run_with_stdin(&mut command, b"canary-never-stored", LIMIT);
    fails_with(&finished, 1, &["app/deleted", "InvalidRequestException", "marked for deletion", "restore-secret"]);
    assert!(!finished.stderr_text().contains("canary"));
    assert_eq!(server.requests(), ["secretsmanager.PutSecretValue"]);
}

#[test]
fn put_to_missing_secret_names_create() {
    let name = unique_name("app/never");
    let finished = run_stdin(&["put", &name], b"value");
    fails_with(&finished, 1, &[&name, "ResourceNotFoundException", "secretfd create"]);
}

#[test]
fn create_value_argument_not_echoed() {
    let finished = run_with_timeout(
        support::secretfd_offline().args(["create", "app/stray", "CANARY-stray-value"]),
        Duration::from_secs(30),
    );
    assert_eq!(finished.code(), Some(2));
    let stderr = finished.stderr_text();
    assert!(!stderr.contains("CANARY-stray-value"), "{stderr}");
    assert!(stderr.contains("never taken from the command line"), "{stderr}");
}
