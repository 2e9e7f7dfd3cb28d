//! `secretfd run` end to end: the real binary against moto, or against stub
//! servers on loopback for errors that moto cannot produce.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{
    Moto, Response, SilentServer, StubServer, aws_error, create_json_secret, run_with_timeout, secretfd, temp_dir,
    unique_name,
};

const LIMIT: Duration = Duration::from_secs(60);

fn run(args: &[&str]) -> support::Finished {
    run_with_timeout(secretfd().args(args), LIMIT)
}

#[test]
fn file_binding_delivers_exact_password() {
    let name = create_json_secret("run-file", "p@ss w0rd");
    let reference = format!("DB_FILE={name}#password");
    let finished = run(&["run", "--file", &reference, "--", "sh", "-c", "cat \"$DB_FILE\""]);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.output.stdout, b"p@ss w0rd");
}

#[test]
fn fd_binding_delivers_on_exact_descriptor() {
    let name = create_json_secret("run-fd", "fd-secret");
    let reference = format!("3={name}#password");
    let finished = run(&["run", "--fd", &reference, "--", "sh", "-c", "cat <&3"]);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.output.stdout, b"fd-secret");
}

#[test]
fn stdin_binding_delivers_as_standard_input() {
    let name = create_json_secret("run-stdin", "stdin-secret");
    let reference = format!("{name}#password");
    let finished = run(&["run", "--stdin", &reference, "--", "cat"]);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.output.stdout, b"stdin-secret");
}

#[test]
fn placeholder_in_argument_becomes_path() {
    let name = create_json_secret("run-placeholder", "arg-secret");
    let reference = format!("DB_FILE={name}#password");
    let finished = run(&["run", "--file", &reference, "--", "cat", "{{DB_FILE}}"]);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.output.stdout, b"arg-secret");
}

#[test]
fn whole_value_keeps_trailing_newlines() {
    let name = unique_name("run-newlines");
    Moto::shared().create_secret_string(&name, "line\n\n");
    let finished = run(&["run", "--fd", &format!("3={name}"), "--", "sh", "-c", "cat <&3"]);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.output.stdout, b"line\n\n");
}

#[test]
fn binary_secret_arrives_byte_for_byte() {
    let name = unique_name("run-binary");
    let all_bytes: Vec<u8> = (0..=255).collect();
    Moto::shared().create_secret_binary(&name, &all_bytes);
    let finished = run(&["run", "--fd", &format!("3={name}"), "--", "sh", "-c", "cat <&3"]);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.output.stdout, all_bytes);
}

#[test]
fn reference_forms_resolve() {
    let moto = Moto::shared();
    let name = unique_name("run-forms");
    let arn = moto.create_secret_string(&name, r#"{"user":"u1","db":{"primary":{"password":"deep"}},"port":5432}"#);
    moto.put_secret_value(&name, r#"{"user":"u2","db":{"primary":{"password":"deeper"}},"port":5433}"#);

    let cases: Vec<(String, &[u8])> = vec![
        (format!("{name}#user"), b"u2"),
        (format!("aws-sm:{name}#user"), b"u2"),
        (format!("{name}#/db/primary/password"), b"deeper"),
        (format!("{name}#port"), b"5433"),
        (format!("{name}#db"), br#"{"primary":{"password":"deeper"}}"#),
        (format!("{name}?version-stage=AWSPREVIOUS#user"), b"u1"),
        (format!("{name}#user?version-stage=AWSPREVIOUS"), b"u1"),
        (format!("{arn}#user"), b"u2"),
        (format!("{arn}:user::"), b"u2"),
        (format!("{arn}:user:AWSPREVIOUS:"), b"u1"),
    ];
    for (reference, expected) in cases {
        let finished = run(&["run", "--fd", &format!("3={reference}"), "--", "sh", "-c", "cat <&3"]);
        assert_eq!(finished.code(), Some(0), "{reference}: {}", finished.stderr_text());
        assert_eq!(finished.output.stdout, expected, "{reference}");
    }
}

#[test]
fn version_id_reference_resolves() {
    let moto = Moto::shared();
    let name = unique_name("run-version-id");
    moto.create_secret_string(&name, "old");
    let (_, reply) = moto.call("DescribeSecret", &json!({ "SecretId": name }));
    let versions = reply["VersionIdsToStages"].as_object().unwrap();
    let old_id = versions.keys().next().unwrap().clone();
    moto.put_secret_value(&name, "new");
    let finished = run(&["run", "--fd", &format!("3={name}?version-id={old_id}"), "--", "sh", "-c", "cat <&3"]);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.output.stdout, b"old");
}

#[test]
fn local_sources_file_and_env() {
    let dir = temp_dir("local");
    let path = dir.join("value");
    fs::write(&path, b"from-file\n").unwrap();
    let file_reference = format!("3=file:{}", path.display());
    let finished = run_with_timeout(
        secretfd()
            .env("APP_TOKEN", "from-env")
            .args(["run", "--fd", &file_reference, "--fd", "4=env:APP_TOKEN", "--", "sh", "-c"])
            .arg("cat <&3; cat <&4; echo; echo \"token=${APP_TOKEN-unset}\""),
        LIMIT,
    );
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.stdout_text(), "from-file\nfrom-env\ntoken=unset\n");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn child_environment_lists_descriptors() {
    let name = create_json_secret("run-fds-env", "x");
    let finished = run(&[
        "run",
        "--file",
        &format!("A={name}#password"),
        "--fd",
        &format!("3={name}#password"),
        "--stdin",
        &format!("{name}#password"),
        "--",
        "sh",
        "-c",
        "echo \"$SECRETFD_FDS $A\"",
    ]);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.stdout_text(), "A=4,fd3=3,stdin=0 /dev/fd/4\n");
}

/// Starts `secretfd run ... -- sleep 30` through bash, with the extra
/// descriptors that `redirections` opens in the launcher, and returns the
/// running child once it has exec'd `sleep`.
fn spawn_sleeper(redirections: &str, bindings: &[String]) -> Child {
    let mut script = format!("{redirections} exec \"$0\" run");
    for (i, _) in bindings.iter().enumerate() {
        script.push_str(&format!(" \"${}\"", i + 1));
    }
    script.push_str(" -- sleep 30");
    let mut command = support::isolated_command("bash", &Moto::shared().endpoint());
    command.arg("-c").arg(script).arg(env!("CARGO_BIN_EXE_secretfd")).args(bindings);
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let child = command.spawn().unwrap();

    // Right after exec the dynamic loader still has libraries open, so wait
    // until `sleep` is blocked in nanosleep before listing descriptors.
    let deadline = Instant::now() + Duration::from_secs(20);
    let asleep = |pid: u32| {
        fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
            && fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("nanosleep"))
    };
    while !asleep(child.id()) {
        assert!(Instant::now() < deadline, "the child never started sleep");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn stop(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Runs `sleep` under secretfd with `bindings`, after `redirections` open
/// descriptors in the launcher, and returns the sleeping child's descriptors.
fn child_fds(redirections: &str, bindings: &[String]) -> Vec<(i32, String)> {
    let child = spawn_sleeper(redirections, bindings);
    let fds = support::open_fds(child.id());
    stop(child);
    fds
}

fn numbers(fds: &[(i32, String)]) -> Vec<i32> {
    fds.iter().map(|(fd, _)| *fd).collect()
}

#[test]
fn child_gets_exactly_stdio_and_bound_fds() {
    let name = create_json_secret("run-exact-fds", "x");
    let fds = child_fds("", &[format!("--file=A={name}#password"), format!("--fd=5={name}#password")]);
    assert_eq!(numbers(&fds), [0, 1, 2, 3, 5], "{fds:?}");
    assert!(fds[3].1.starts_with("/memfd:secretfd"), "{fds:?}");
    assert!(fds[4].1.starts_with("/memfd:secretfd"), "{fds:?}");
}

#[test]
fn launcher_extra_fds_do_not_leak() {
    let name = create_json_secret("run-extra-fds", "x");
    let redirections = "exec 3</etc/hostname 4</etc/hostname 12</etc/hostname;";
    let fds = child_fds(redirections, &[format!("--fd=9={name}#password")]);
    assert_eq!(numbers(&fds), [0, 1, 2, 9], "{fds:?}");
}

#[test]
fn bound_fd_replaces_colliding_launcher_fd() {
    let name = create_json_secret("run-collide", "x");
    let redirections = "exec 3</etc/hostname 4</etc/hostname 5</etc/hostname;";
    let fds = child_fds(redirections, &[format!("--fd=3={name}#password"), format!("--file=B={name}#password")]);
    assert_eq!(numbers(&fds), [0, 1, 2, 3, 4], "{fds:?}");
    assert!(fds[3].1.starts_with("/memfd:secretfd"), "{fds:?}");
    assert!(fds[4].1.starts_with("/memfd:secretfd"), "{fds:?}");
}

#[test]
fn preserve_fds_passes_launcher_fds_on() {
    let name = create_json_secret("run-preserve", "x");
    let redirections = "exec 3</etc/hostname 4</etc/hostname 6</etc/hostname;";
    let fds = child_fds(redirections, &["--preserve-fds=2".to_owned(), format!("--file=A={name}#password")]);
    assert_eq!(numbers(&fds), [0, 1, 2, 3, 4, 5], "{fds:?}");
    assert_eq!(fds[3].1, "/etc/hostname");
    assert!(fds[5].1.starts_with("/memfd:secretfd"), "{fds:?}");
}

#[test]
fn delivered_fd_cannot_be_changed() {
    let name = create_json_secret("run-sealed", "sealed-value");
    // Each attempt prints "ok" when it wrongly succeeds and "denied" when the
    // kernel refuses it; the last lines check the value and its metadata.
    let script = r#"
        try() { if "$@" 2>/dev/null; then echo ok; else echo denied; fi; }
        try sh -c 'printf x >&3'
        try sh -c 'printf x | dd of=/dev/fd/3 conv=notrunc status=none'
        try sh -c 'printf x >> /dev/fd/3'
        try truncate -s 0 /dev/fd/3
        try truncate -s 100 /dev/fd/3
        stat -L -c '%F %s' /dev/fd/3
        cat /dev/fd/3; echo; cat /dev/fd/3; echo
    "#;
    let finished = run(&["run", "--fd", &format!("3={name}#password"), "--", "sh", "-c", script]);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    let lines: Vec<&str> =
        finished.output.stdout.split(|&b| b == b'\n').map(|l| std::str::from_utf8(l).unwrap()).collect();
    assert_eq!(&lines[..5], ["denied"; 5], "{lines:?}");
    assert_eq!(lines[5], "regular file 12");
    assert_eq!(lines[6], "sealed-value");
    assert_eq!(lines[7], "sealed-value");
}

#[test]
fn canary_absent_from_child_and_output_and_files() {
    let canary = "CANARY-7f3a9c-never-print-me";
    let name = create_json_secret("run-canary", canary);
    let dir = temp_dir("canary");

    for verbosity in ["", "-v", "-vv", "-vvv"] {
        let mut command = secretfd();
        command.current_dir(&dir).env("TMPDIR", &dir).arg("run");
        if !verbosity.is_empty() {
            command.arg(verbosity);
        }
        command.args(["--file", &format!("DB={name}#password"), "--fd", &format!("7={name}"), "--"]);
        command.args(["sh", "-c", "read -r value < \"$DB\"; cat /proc/$$/cmdline; echo; cat /proc/$$/environ"]);
        let finished = run_with_timeout(&mut command, LIMIT);
        assert_eq!(finished.code(), Some(0), "{verbosity}: {}", finished.stderr_text());
        assert!(finished.stdout_text().contains("SECRETFD_FDS=DB=3,fd7=7"), "{verbosity}: environ not shown");
        assert!(!finished.stdout_text().contains(canary), "{verbosity}: canary in cmdline or environ");
        assert!(!finished.stderr_text().contains(canary), "{verbosity}: canary in stderr");
        if verbosity == "-vvv" {
            assert!(finished.stderr_text().contains("GetSecretValue"), "-vvv logged nothing useful");
        }
    }

    let dry = run_with_timeout(
        secretfd().args(["run", "--dry-run", "--file", &format!("DB={name}#password"), "--", "true"]),
        LIMIT,
    );
    assert_eq!(dry.code(), Some(0), "{}", dry.stderr_text());
    assert!(!dry.stdout_text().contains(canary), "canary in dry-run stdout");
    assert!(!dry.stderr_text().contains(canary), "canary in dry-run stderr");

    assert_no_file_contains(&dir, canary.as_bytes());
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "secretfd created files in its working directory");
    fs::remove_dir_all(dir).unwrap();
}

fn assert_no_file_contains(dir: &Path, needle: &[u8]) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_no_file_contains(&path, needle);
        } else if let Ok(bytes) = fs::read(&path) {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{} contains the canary", path.display());
        }
    }
}

#[test]
fn dry_run_prints_plan_without_values() {
    let name = create_json_secret("run-dry", "dry-secret");
    let marker = temp_dir("dry").join("started");
    let finished =
        run(&["run", "--dry-run", "--file", &format!("DB={name}#password"), "--", "touch", marker.to_str().unwrap()]);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    let stdout = finished.stdout_text();
    assert!(stdout.contains("--file DB"), "{stdout}");
    assert!(stdout.contains(&format!("aws-sm {name}#password")), "{stdout}");
    assert!(stdout.contains(" 10\n") || stdout.contains(" 10 "), "size missing: {stdout}");
    assert!(!stdout.contains("dry-secret"));
    assert!(!marker.exists(), "dry run started the command");
}

/// Runs `secretfd run` with bindings that must fail, checks exit 125, one
/// line per expected failure naming its reference, and no child.
fn assert_fails_without_child(command: &mut Command, references: &[&str]) -> String {
    let marker = temp_dir("marker").join("started");
    command.args(["--", "touch", marker.to_str().unwrap()]);
    let finished = run_with_timeout(command, LIMIT);
    let stderr = finished.stderr_text();
    assert_eq!(finished.code(), Some(125), "{stderr}");
    assert!(!marker.exists(), "the child started despite a failure");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), references.len(), "one line per failure expected:\n{stderr}");
    for (line, reference) in lines.iter().zip(references) {
        assert!(line.starts_with("secretfd: "), "{line}");
        assert!(line.contains(reference), "{line} does not name {reference}");
    }
    stderr
}

#[test]
fn every_failure_reported_and_no_child() {
    let moto = Moto::shared();
    let good = create_json_secret("run-fail-good", "fine");
    let nulls = unique_name("run-fail-null");
    moto.create_secret_string(&nulls, r#"{"password":null}"#);
    let plain = unique_name("run-fail-plain");
    moto.create_secret_string(&plain, "not json");
    let missing = unique_name("run-fail-missing");

    let references = [
        missing.clone(),
        format!("{good}#nokey"),
        format!("{nulls}#password"),
        format!("{plain}#password"),
        "file:/nonexistent/secretfd-test".to_owned(),
    ];
    let mut command = secretfd();
    command.args(["run", "--file", &format!("OK={good}#password")]);
    for (i, reference) in references.iter().enumerate() {
        command.args(["--file", &format!("V{i}={reference}")]);
    }
    let refs: Vec<&str> = references.iter().map(String::as_str).collect();
    let stderr = assert_fails_without_child(&mut command, &refs);
    assert!(stderr.contains("ResourceNotFoundException"), "{stderr}");
    assert!(stderr.contains("key 'nokey' not found"), "{stderr}");
    assert!(stderr.contains("key 'password' is null"), "{stderr}");
    assert!(stderr.contains("not valid JSON"), "{stderr}");
    assert!(stderr.contains("/nonexistent/secretfd-test"), "{stderr}");
}

#[test]
fn bad_reference_is_usage_error() {
    let mut command = secretfd();
    command.args(["run", "--file", "A=bad name", "--fd", "4=prod/db#", "--file", "B=env:"]);
    assert_fails_without_child(&mut command, &["A=bad name", "4=prod/db#", "B=env:"]);
}

#[test]
fn missing_command_exits_127_and_unexecutable_126() {
    let name = create_json_secret("run-exec-errors", "x");
    let binding = format!("A={name}#password");
    let not_found = run(&["run", "--file", &binding, "--", "secretfd-no-such-command"]);
    assert_eq!(not_found.code(), Some(127), "{}", not_found.stderr_text());
    assert!(not_found.stderr_text().contains("command not found"));
    let plain_file = temp_dir("not-executable").join("data");
    fs::write(&plain_file, "data").unwrap();
    let not_executable = run(&["run", "--file", &binding, "--", plain_file.to_str().unwrap()]);
    assert_eq!(not_executable.code(), Some(126), "{}", not_executable.stderr_text());
}

#[test]
fn child_exit_code_passes_through() {
    let finished = run(&["run", "--", "sh", "-c", "exit 42"]);
    assert_eq!(finished.code(), Some(42));
}

/// Counts the descriptors of process `pid` that are secretfd's memfds.
fn memfd_count(pid: u32) -> usize {
    let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fd")) else { return 0 };
    entries
        .filter_map(|entry| fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("/memfd:secretfd"))
        .count()
}

#[test]
fn early_batch_delivered_while_late_batch_waits() {
    // 25 secrets take a batch of 20 and a batch of 5. The stub replies to
    // the first at once and holds the second until the test releases it.
    // By then secretfd must already have put the first 20 into memfds.
    let released = Arc::new((Mutex::new(false), Condvar::new()));
    let gate = Arc::clone(&released);
    let server = StubServer::new(move |request| {
        let ids: Vec<String> = request.body_json()["SecretIdList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect();
        if ids.len() < 20 {
            let (lock, wake) = &*gate;
            let guard = lock.lock().unwrap();
            let _ = wake.wait_timeout_while(guard, Duration::from_secs(30), |released| !*released).unwrap();
        }
        let values: Vec<_> = ids
            .iter()
            .map(|id| json!({ "Name": id, "SecretString": format!("value-of-{id}"), "VersionId": "v1" }))
            .collect();
        Response::json(200, &json!({ "SecretValues": values, "Errors": [] }))
    });
    let mut command = support::secretfd_with_endpoint(&server.endpoint());
    command.args(["run", "--timeout", "60s"]);
    for fd in 3..28 {
        command.arg("--fd").arg(format!("{fd}=s{fd}"));
    }
    command.args(["--", "sh", "-c", "cat /dev/fd/3 /dev/fd/27"]);
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();

    let start = Instant::now();
    let mut delivered = 0;
    while start.elapsed() < Duration::from_secs(30) {
        delivered = memfd_count(child.id());
        if delivered >= 20 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let (lock, wake) = &*released;
    *lock.lock().unwrap() = true;
    wake.notify_all();
    let output = child.wait_with_output().unwrap();

    assert_eq!(delivered, 20, "memfds while the second batch waited");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "value-of-s3value-of-s27");
}

#[test]
fn aws_errors_from_stub_each_reported() {
    // One secret per error code. The stub replies to the batch call with a
    // per-secret error entry, and to single calls with the error itself.
    let codes = ["AccessDeniedException", "ResourceNotFoundException", "DecryptionFailure"];
    let server = StubServer::new(move |request| {
        let body = request.body_json();
        if request.target.ends_with("BatchGetSecretValue") {
            let errors: Vec<_> = body["SecretIdList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|id| {
                    let id = id.as_str().unwrap();
                    json!({ "SecretId": id, "ErrorCode": id, "Message": format!("stub says {id}") })
                })
                .collect();
            Response::json(200, &json!({ "SecretValues": [], "Errors": errors }))
        } else {
            let id = body["SecretId"].as_str().unwrap_or("x").to_owned();
            aws_error(400, &id, &format!("stub says {id}"))
        }
    });
    let mut command = support::secretfd_with_endpoint(&server.endpoint());
    command.args(["run", "--fd", "3=AccessDeniedException", "--fd", "4=ResourceNotFoundException"]);
    command.args(["--fd", "5=DecryptionFailure?version-stage=AWSPREVIOUS"]);
    let stderr = assert_fails_without_child(&mut command, &codes);
    assert!(
        stderr.contains(
            "AccessDeniedException: stub says AccessDeniedException (hint: allow secretsmanager:GetSecretValue"
        )
    );
    assert!(stderr.contains("kms:Decrypt"), "{stderr}");
}

#[test]
fn batch_access_denied_falls_back_to_single_gets() {
    let server = StubServer::new(|request| {
        if request.target.ends_with("BatchGetSecretValue") {
            aws_error(400, "AccessDeniedException", "not allowed to batch")
        } else {
            let id = request.body_json()["SecretId"].as_str().unwrap().to_owned();
            Response::json(200, &json!({ "Name": id, "SecretString": format!("value-of-{id}"), "VersionId": "v1" }))
        }
    });
    let finished = run_with_timeout(
        support::secretfd_with_endpoint(&server.endpoint()).args([
            "run",
            "--fd",
            "3=a",
            "--fd",
            "4=b",
            "--",
            "sh",
            "-c",
            "cat <&3; cat <&4",
        ]),
        LIMIT,
    );
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.stdout_text(), "value-of-avalue-of-b");
    let requests = server.requests();
    assert_eq!(requests.iter().filter(|r| r.ends_with("BatchGetSecretValue")).count(), 1, "{requests:?}");
    assert_eq!(requests.iter().filter(|r| r.ends_with(".GetSecretValue")).count(), 2, "{requests:?}");
}

#[test]
fn twenty_five_secrets_take_two_batch_calls() {
    let moto = Moto::start();
    let mut command = moto.secretfd();
    command.arg("run");
    let mut expected = String::new();
    for i in 0..25 {
        let name = unique_name(&format!("run-batch-{i}"));
        moto.create_secret_string(&name, &format!("v{i};"));
        command.args(["--file", &format!("S{i}={name}")]);
        expected.push_str(&format!("v{i};"));
    }
    let script: String = (0..25).map(|i| format!("cat \"$S{i}\";")).collect();
    moto.reset_requests();
    let finished = run_with_timeout(command.args(["--", "sh", "-c", &script]), LIMIT);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.stdout_text(), expected);
    let requests = moto.requests();
    assert_eq!(requests, ["secretsmanager.BatchGetSecretValue"; 2], "{requests:?}");
}

#[test]
fn shared_secret_fetched_once() {
    let moto = Moto::start();
    let name = unique_name("run-dedupe");
    moto.create_secret_string(&name, r#"{"a":"1","b":"2"}"#);
    moto.reset_requests();
    let finished = run_with_timeout(
        moto.secretfd().args([
            "run",
            "--fd",
            &format!("3={name}#a"),
            "--fd",
            &format!("4={name}#b"),
            "--fd",
            &format!("5={name}"),
            "--",
            "sh",
            "-c",
            "cat <&3; cat <&4",
        ]),
        LIMIT,
    );
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.stdout_text(), "12");
    // One distinct secret: a single GetSecretValue, not a batch.
    assert_eq!(moto.requests(), ["secretsmanager.GetSecretValue"]);
}

#[test]
fn silent_endpoint_times_out_within_deadline() {
    let server = SilentServer::new();
    let mut command = support::secretfd_with_endpoint(&server.endpoint());
    command.args(["run", "--timeout", "2s", "--file", "A=prod/db"]);
    let started = Instant::now();
    let stderr = assert_fails_without_child(&mut command, &["A=prod/db"]);
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert!(stderr.contains("Timeout"), "{stderr}");
}

#[test]
fn missing_region_names_where_it_looked() {
    let mut command = secretfd();
    command.env_remove("AWS_REGION").args(["run", "--file", "A=prod/db"]);
    let stderr = assert_fails_without_child(&mut command, &["A=prod/db"]);
    assert!(stderr.contains("no AWS region"), "{stderr}");
    assert!(stderr.contains("--region"), "{stderr}");
}

#[test]
fn missing_credentials_names_where_it_looked() {
    let mut command = secretfd();
    command.env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_SECRET_ACCESS_KEY");
    command.args(["run", "--timeout", "5s", "--file", "A=prod/db"]);
    let stderr = assert_fails_without_child(&mut command, &["A=prod/db"]);
    assert!(stderr.contains("NoCredentials"), "{stderr}");
    assert!(stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");
}

#[test]
fn dry_run_reports_missing_command() {
    let finished = run(&["run", "--dry-run", "--file", "A=file:/etc/hostname", "--", "./secretfd-no-such-server"]);
    assert_eq!(finished.code(), Some(127), "{}", finished.stderr_text());
    assert!(finished.stderr_text().contains("command not found"));
}

#[test]
fn run_without_bindings_warns() {
    let finished = run(&["run", "--", "true"]);
    assert_eq!(finished.code(), Some(0));
    assert!(finished.stderr_text().contains("warning: no secrets are bound"), "{}", finished.stderr_text());
}

#[test]
fn command_without_separator_gets_hint() {
    let finished = run(&["run", "--file", "A=file:/etc/hostname", "cat", "/etc/hostname"]);
    assert_eq!(finished.code(), Some(125));
    assert!(finished.stderr_text().contains("must follow --"), "{}", finished.stderr_text());
}
