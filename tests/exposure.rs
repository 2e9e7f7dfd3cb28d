//! Exposure tests: a canary secret must reach the child and nothing else.
//!
//! Each test stores a unique canary in moto and runs secretfd in exec and
//! supervise mode, with the memfd and pipe carriers. The canary must be
//! absent from the argv and environment of every process secretfd starts,
//! and from secretfd's output at every verbosity. That includes AWS SDK
//! tracing with `LOG_SENSITIVE_BODIES=true` set by the caller. It must also
//! be absent from error messages, from files under the working directory,
//! `$TMPDIR` and `/dev/shm`, and from secretfd's own memory once delivery is
//! done. Memory is read through `/proc/PID/mem`, which needs root or
//! CAP_SYS_PTRACE because secretfd makes itself non-dumpable.
//!
//! In exec mode the launcher's image is gone after exec, so the memory test
//! scans the exec'd command, which must hold nothing it did not read. A
//! positive control proves that the scanner finds a canary that is there.
//!
//! The descriptor tests check that the child holds exactly stdio and its
//! bound descriptors, also when secretfd starts with stdin, stdout or stderr
//! closed, so that a secret never lands on descriptors 0 to 2 by accident.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{
    Moto, Response, StubServer, create_json_secret, memory_hits, run_with_timeout, secretfd, temp_dir, unique_name,
};

const LIMIT: Duration = Duration::from_secs(60);

/// Process models of `run`: flags added after `run`.
const MODES: [(&str, &[&str]); 2] = [("exec", &["--exec"]), ("supervise", &["--supervise"])];
/// Carriers: flags added after `run`.
const CARRIERS: [(&str, &[&str]); 2] = [("memfd", &["--carrier", "memfd"]), ("pipe", &["--carrier", "pipe"])];

/// Returns a canary no other test or run uses, so a hit is this test's own.
fn canary(label: &str) -> String {
    format!("CANARY-{}-never-print-me", unique_name(label))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// Returns every file under `dir` (recursively) whose bytes contain `needle`.
/// Unreadable files are skipped: secretfd could not have written them either.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if kind.is_file() && fs::read(&path).is_ok_and(|bytes| contains(&bytes, needle)) {
            found.push(path);
        }
    }
    found
}

/// Runs `secretfd run` in `mode` with `carrier`, with the given verbosity
/// flag, `LOG_SENSITIVE_BODIES=true` and `RUST_LOG=trace` in its
/// environment, and with `dir` as working directory and `$TMPDIR`. The child
/// prints the value reversed (so the canary itself is never printed), then
/// its own and its parent's argv and environment.
fn run_child_printing_argv_and_environment(
    mode: &[&str],
    carrier: &[&str],
    verbosity: Option<&str>,
    name: &str,
    dir: &Path,
) -> support::Finished {
    let mut command = secretfd();
    command.current_dir(dir).env("TMPDIR", dir).env("LOG_SENSITIVE_BODIES", "true").env("RUST_LOG", "trace");
    command.arg("run").args(mode).args(carrier).args(verbosity);
    command.args(["--file", &format!("DB={name}#password"), "--fd", &format!("7={name}"), "--"]);
    let script = r#"
        rev < "$DB"; echo
        cat <&7 >/dev/null
        for pid in $$ $PPID; do tr '\0' ' ' < /proc/$pid/cmdline; echo; tr '\0' '\n' < /proc/$pid/environ; done
    "#;
    command.args(["bash", "-c", script]);
    run_with_timeout(&mut command, LIMIT)
}

#[test]
fn canary_absent_in_every_mode_and_carrier() {
    let canary = canary("modes");
    let reversed: String = canary.chars().rev().collect();
    let name = create_json_secret("exposure", &canary);
    let dir = temp_dir("modes");

    for (mode_label, mode) in MODES {
        for (carrier_label, carrier) in CARRIERS {
            for verbosity in [None, Some("-v"), Some("-vv"), Some("-vvv")] {
                let case = format!("{mode_label}, {carrier_label}, {}", verbosity.unwrap_or("quiet"));
                let finished = run_child_printing_argv_and_environment(mode, carrier, verbosity, &name, &dir);
                let stdout = finished.stdout_text();
                let stderr = finished.stderr_text();

                assert_eq!(finished.code(), Some(0), "{case}: {stderr}");
                assert!(stdout.starts_with(&reversed), "{case}: the child did not get the value: {stdout}");
                assert!(stdout.contains("SECRETFD_FDS="), "{case}: the environment was not printed: {stdout}");
                assert!(!stdout.contains(&canary), "{case}: canary in an argv or environment:\n{stdout}");
                assert!(!stderr.contains(&canary), "{case}: canary in secretfd's output:\n{stderr}");
                assert!(!stderr.contains("panicked"), "{case}: {stderr}");
                if verbosity == Some("-vvv") {
                    assert!(stderr.contains("GetSecretValue"), "{case}: -vvv logged no SDK request");
                }
            }
        }
    }

    assert_eq!(files_containing(&dir, canary.as_bytes()), Vec::<PathBuf>::new(), "canary in a file");
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "secretfd created files in its working directory");
    assert_eq!(files_containing(Path::new("/dev/shm"), canary.as_bytes()), Vec::<PathBuf>::new());
    fs::remove_dir_all(dir).unwrap();
}

/// Every way a run can fail after the value was fetched, or because of the
/// value's content, must print an error without the value.
#[test]
fn canary_absent_from_error_messages() {
    let moto = Moto::shared();
    let canary = canary("errors");
    let json_name = create_json_secret("exposure", &canary);
    let plain_name = unique_name("exposure-plain");
    moto.create_secret_string(&plain_name, &canary);
    let broken_name = unique_name("exposure-broken");
    moto.create_secret_string(&broken_name, &format!("{{\"password\": \"{canary}\", \"user\": "));
    let not_object = unique_name("exposure-array");
    moto.create_secret_string(&not_object, &json!([canary]).to_string());

    let cases: Vec<(&str, Vec<String>)> = vec![
        ("key of a non-JSON secret", vec!["--fd".into(), format!("3={plain_name}#password")]),
        ("key of truncated JSON", vec!["--fd".into(), format!("3={broken_name}#password")]),
        ("key of a JSON array", vec!["--fd".into(), format!("3={not_object}#password")]),
        ("pointer into a string", vec!["--fd".into(), format!("3={json_name}#/password/deeper")]),
        ("missing key beside the value", vec!["--fd".into(), format!("3={json_name}#passwort")]),
    ];
    for (case, bindings) in cases {
        for (mode_label, mode) in MODES {
            let mut command = secretfd();
            command.env("RUST_BACKTRACE", "full").arg("run").arg("-vvv").args(mode).args(&bindings);
            let finished = run_with_timeout(command.args(["--", "true"]), LIMIT);
            let stderr = finished.stderr_text();
            assert_eq!(finished.code(), Some(125), "{case}, {mode_label}: {stderr}");
            assert!(stderr.contains("secretfd: --fd 3="), "{case}, {mode_label}: no error line: {stderr}");
            assert!(!stderr.contains(&canary), "{case}, {mode_label}: canary in the error:\n{stderr}");
        }
    }

    // Failures after delivery: the command does not exist, or cannot be executed.
    let dir = temp_dir("errors");
    let not_executable = dir.join("data");
    fs::write(&not_executable, "data").unwrap();
    let not_executable = not_executable.to_str().unwrap();
    for (mode_label, mode) in MODES {
        for (program, code) in [("secretfd-no-such-command", 127), (not_executable, 126)] {
            let mut command = secretfd();
            command.env("RUST_BACKTRACE", "full").arg("run").arg("-vvv").args(mode);
            command.args(["--file", &format!("DB={json_name}#password"), "--", program]);
            let finished = run_with_timeout(&mut command, LIMIT);
            let stderr = finished.stderr_text();
            assert_eq!(finished.code(), Some(code), "{program}, {mode_label}: {stderr}");
            assert!(!stderr.contains(&canary), "{program}, {mode_label}: canary in the error:\n{stderr}");
            assert!(!stderr.contains("panicked"), "{program}, {mode_label}: {stderr}");
        }
    }

    fs::remove_dir_all(dir).unwrap();

    // `get` writing to a full device: the write error must not carry the value.
    let full = fs::File::options().write(true).open("/dev/full").unwrap();
    let mut command = secretfd();
    command.env("RUST_BACKTRACE", "full").args(["get", &format!("{json_name}#password")]).stdout(full);
    command.stderr(Stdio::piped()).stdin(Stdio::null());
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("secretfd: "), "{stderr}");
    assert!(!stderr.contains(&canary), "canary in get's error:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A response that carries the value but cannot be used (cut short, or not
/// valid JSON after the value) fails the run. Neither the error nor the
/// SDK's trace logging may quote the body.
#[test]
fn canary_absent_when_response_is_broken() {
    let canary = canary("broken-response");
    let value_entry = format!("{{\"SecretValues\": [{{\"Name\": \"broken/db\", \"SecretString\": \"{canary}\"");
    let cut_short = value_entry.clone();
    let invalid = format!("{value_entry}}}]]]");
    let secret_response = format!("{{\"Name\": \"broken/db\", \"SecretString\": \"{canary}\", \"VersionId\": ");

    let cases = [
        ("cut short", cut_short, true),
        ("invalid JSON", invalid, false),
        ("invalid single response", secret_response, false),
    ];
    for (case, body, truncate) in cases {
        let body_for_server = body.clone();
        let server = StubServer::new(move |_| {
            let response = Response::new(200)
                .with_header("Content-Type", "application/x-amz-json-1.1")
                .with_body(body_for_server.clone());
            if truncate {
                let promised = (body_for_server.len() + 100).to_string();
                response.with_header("Content-Length", &promised).with_header("Connection", "close")
            } else {
                response
            }
        });
        for verbosity in ["-v", "-vvv"] {
            for reference in ["3=broken/db", "3=broken/db?version-stage=AWSCURRENT"] {
                let mut command = support::secretfd_with_endpoint(&server.endpoint());
                command.env("LOG_SENSITIVE_BODIES", "true").env("RUST_BACKTRACE", "full");
                command.args(["run", verbosity, "--timeout", "5s", "--fd", reference, "--", "true"]);
                let finished = run_with_timeout(&mut command, LIMIT);
                let stderr = finished.stderr_text();
                assert_eq!(finished.code(), Some(125), "{case}, {verbosity}, {reference}: {stderr}");
                assert!(!stderr.contains(&canary), "{case}, {verbosity}, {reference}: canary in the output:\n{stderr}");
                assert!(!stderr.contains("panicked"), "{case}, {verbosity}, {reference}: {stderr}");
            }
        }
    }
}

/// Returns the PID of the process called `sleep` that is `pid` itself (the
/// exec'd command) or one of its children, waiting until it sleeps: right
/// after exec its dynamic loader still has libraries open.
fn wait_for_sleep(pid: u32) -> u32 {
    let is_sleep = |pid: &str| {
        fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
            && fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("nanosleep"))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if is_sleep(&pid.to_string()) {
            return pid;
        }
        let children = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(child) = children.split_whitespace().find(|child| is_sleep(child)) {
            return child.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "process {pid} never started sleep");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `secretfd run`, started through bash so that `redirections`
/// can close or open the launcher's descriptors first.
struct Launched {
    bash_then_secretfd: Child,
    /// The `sleep` that the command runs: the launcher's own PID when the
    /// command execs it in exec mode.
    child_pid: u32,
}

impl Launched {
    fn start(redirections: &str, run_args: &[String], command: &str) -> Launched {
        let script = format!("{redirections} exec \"$0\" run \"$@\"");
        let mut launcher = support::isolated_command("bash", &Moto::shared().endpoint());
        launcher.arg("-c").arg(script).arg(env!("CARGO_BIN_EXE_secretfd")).args(run_args);
        launcher.args(["--", "sh", "-c", command]);
        launcher.stdout(Stdio::null()).stderr(Stdio::null());
        let launched = launcher.spawn().unwrap();
        let pid = launched.id();

        let child_pid = wait_for_sleep(pid);
        Launched { bash_then_secretfd: launched, child_pid }
    }

    fn launcher_pid(&self) -> u32 {
        self.bash_then_secretfd.id()
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        // The supervised child gets SIGTERM forwarded; the exec'd one is this PID.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.bash_then_secretfd.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.bash_then_secretfd.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.bash_then_secretfd.kill();
        let _ = self.bash_then_secretfd.wait();
    }
}

/// A shell that reads its secret into a variable and keeps it: the scanner
/// must find the canary there, or every "absent" result below means nothing.
#[test]
fn memory_scan_finds_canary_held_by_child() {
    let canary = canary("control");
    let name = create_json_secret("exposure", &canary);
    let run_args = vec!["--exec".to_owned(), "--fd".into(), format!("3={name}#password")];
    let launched = Launched::start("", &run_args, "read -r value <&3; sleep 30; echo \"$value\"");
    // In exec mode the launcher's PID is now the shell, and sleep its child.
    assert_ne!(launched.child_pid, launched.launcher_pid());
    let hits = memory_hits(launched.launcher_pid(), canary.as_bytes());
    assert!(!hits.is_empty(), "the scanner missed the canary in the shell that read it");
}

/// In exec mode nothing of the launcher survives exec: the command's memory
/// contains no canary as long as it does not read its descriptor.
#[test]
fn exec_mode_leaves_no_copy_in_child_memory() {
    let canary = canary("exec-memory");
    let name = create_json_secret("exposure", &canary);
    for (carrier_label, carrier) in CARRIERS {
        let mut run_args: Vec<String> = carrier.iter().map(|s| s.to_string()).collect();
        run_args.extend(["--exec".into(), "--file".into(), format!("DB={name}#password")]);
        run_args.extend(["--fd".into(), format!("4={name}")]);
        let launched = Launched::start("", &run_args, "exec sleep 30");
        let hits = memory_hits(launched.child_pid, canary.as_bytes());
        assert_eq!(hits, Vec::<String>::new(), "{carrier_label}: canary in the exec'd command's memory");
    }
}

/// In supervise mode secretfd stays alive as the parent; once the child
/// runs, no copy of the value may remain in secretfd's memory.
#[test]
fn supervise_mode_wipes_launcher_memory() {
    let canary = canary("supervise-memory");
    let name = create_json_secret("exposure", &canary);
    let dir = temp_dir("supervise-memory");
    // Larger than a pipe's default 64 KiB buffer, so the pipe carrier needs
    // its writer process; the child reads it whole before sleeping.
    let large = dir.join("large");
    let mut large_value = canary.repeat(4096);
    large_value.truncate(100_000);
    fs::write(&large, &large_value).unwrap();

    for (carrier_label, carrier) in CARRIERS {
        let mut run_args: Vec<String> = carrier.iter().map(|s| s.to_string()).collect();
        run_args.extend(["--supervise".into(), "--file".into(), format!("DB={name}#password")]);
        run_args.extend(["--fd".into(), format!("4={name}")]);
        run_args.extend(["--fd".into(), format!("5=file:{}", large.display())]);
        let launched = Launched::start("", &run_args, "cat <&5 >/dev/null; exec sleep 30");

        let hits = memory_hits(launched.launcher_pid(), canary.as_bytes());
        assert_eq!(hits, Vec::<String>::new(), "{carrier_label}: canary in the supervising secretfd's memory");
        let launcher_fds = support::open_fds(launched.launcher_pid());
        assert!(
            !launcher_fds.iter().any(|(_, target)| target.starts_with("/memfd:secretfd")),
            "{carrier_label}: the supervising secretfd still holds a carrier: {launcher_fds:?}"
        );
        let hits = memory_hits(launched.child_pid, canary.as_bytes());
        assert_eq!(hits, Vec::<String>::new(), "{carrier_label}: canary in the child's memory");
    }
    fs::remove_dir_all(dir).unwrap();
}

/// secretfd makes itself non-dumpable before it fetches, so a process of the
/// same user cannot read its memory; exec resets that for the child. The
/// kernel shows it in `/proc/PID`: the files of a non-dumpable process are
/// owned by root. So secretfd runs here as user `nobody` (65534).
#[test]
fn supervising_launcher_is_not_dumpable() {
    use std::os::unix::process::CommandExt;

    let name = create_json_secret("exposure", "dumpable");
    let mut command = support::isolated_command(env!("CARGO_BIN_EXE_secretfd"), &Moto::shared().endpoint());
    command.uid(65534).gid(65534).current_dir("/");
    command.args(["run", "--supervise", "--fd", &format!("3={name}#password"), "--", "sleep", "30"]);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let mut launcher = command.spawn().unwrap();
    let launcher_pid = launcher.id();
    let child_pid = wait_for_sleep(launcher_pid);

    let owner = |pid: u32| std::os::unix::fs::MetadataExt::uid(&fs::metadata(format!("/proc/{pid}/mem")).unwrap());
    let launcher_owner = owner(launcher_pid);
    let child_owner = owner(child_pid);
    // The same user trying to read the launcher's memory map.
    let mut reader = Command::new("cat");
    reader.arg(format!("/proc/{launcher_pid}/maps")).uid(65534).gid(65534).env_clear();
    let read_by_same_user = reader.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();

    let _ = launcher.kill();
    let _ = launcher.wait();
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child_pid as i32), nix::sys::signal::Signal::SIGKILL);

    assert_eq!(launcher_owner, 0, "the supervising secretfd is dumpable");
    assert_eq!(child_owner, 65534, "the child did not get its dumpable flag back");
    assert!(!read_by_same_user.success(), "the same user could read secretfd's memory map");
}

fn is_carrier(target: &str) -> bool {
    target.starts_with("/memfd:secretfd") || target.starts_with("pipe:")
}

/// secretfd starts with each of stdin, stdout and stderr closed, in each
/// mode and with each carrier. The child gets exactly 0, 1, 2 and the bound
/// descriptors, and the closed one is `/dev/null`. No secret is on 0 to 2
/// unless `--stdin` put it on 0.
#[test]
fn closed_stdio_never_receives_a_secret() {
    let name = create_json_secret("exposure", "fd-value");
    let closings =
        [("stdin", "exec 0<&-;"), ("stdout", "exec 1>&-;"), ("stderr", "exec 2>&-;"), ("all", "exec 0<&- 1>&- 2>&-;")];

    for (mode_label, mode) in MODES {
        for (carrier_label, carrier) in CARRIERS {
            for (closed, redirections) in closings {
                for with_stdin in [false, true] {
                    let case = format!("{mode_label}, {carrier_label}, {closed} closed, --stdin {with_stdin}");
                    let mut run_args: Vec<String> = mode.iter().chain(carrier).map(|s| s.to_string()).collect();
                    run_args.extend(["--file".into(), format!("A={name}#password")]);
                    run_args.extend(["--fd".into(), format!("6={name}")]);
                    if with_stdin {
                        run_args.extend(["--stdin".into(), format!("{name}#password")]);
                    }
                    let launched = Launched::start(redirections, &run_args, "exec sleep 30");
                    let fds = support::open_fds(launched.child_pid);
                    drop(launched);

                    let numbers: Vec<i32> = fds.iter().map(|(fd, _)| *fd).collect();
                    assert_eq!(numbers, [0, 1, 2, 3, 6], "{case}: {fds:?}");
                    assert!(is_carrier(&fds[3].1) && is_carrier(&fds[4].1), "{case}: {fds:?}");
                    for (fd, target) in &fds[..3] {
                        let expected_carrier = with_stdin && *fd == 0;
                        assert_eq!(is_carrier(target), expected_carrier, "{case}: descriptor {fd} is {target}");
                    }
                    let closed_fds: &[usize] = match closed {
                        "stdin" if !with_stdin => &[0],
                        "stdin" => &[],
                        "stdout" => &[1],
                        "stderr" => &[2],
                        _ if with_stdin => &[1, 2],
                        _ => &[0, 1, 2],
                    };
                    for &fd in closed_fds {
                        assert_eq!(fds[fd].1, "/dev/null", "{case}: {fds:?}");
                    }
                }
            }
        }
    }
}

/// Every mode and carrier, with launcher descriptors on and around the
/// targets: the child holds exactly stdio and the bound descriptors.
#[test]
fn child_fds_exact_in_every_mode() {
    let name = create_json_secret("exposure", "fd-exact");
    for (mode_label, mode) in MODES {
        for (carrier_label, carrier) in CARRIERS {
            let case = format!("{mode_label}, {carrier_label}");
            let mut run_args: Vec<String> = mode.iter().chain(carrier).map(|s| s.to_string()).collect();
            run_args.extend(["--fd".into(), format!("3={name}#password")]);
            run_args.extend(["--file".into(), format!("B={name}#password")]);
            run_args.extend(["--fd".into(), format!("9={name}")]);
            let launched = Launched::start(
                "exec 3</etc/hostname 4</etc/hostname 5</etc/hostname 12</etc/hostname;",
                &run_args,
                "exec sleep 30",
            );
            let fds = support::open_fds(launched.child_pid);
            drop(launched);

            let numbers: Vec<i32> = fds.iter().map(|(fd, _)| *fd).collect();
            assert_eq!(numbers, [0, 1, 2, 3, 4, 9], "{case}: {fds:?}");
            for (fd, target) in &fds[3..] {
                assert!(is_carrier(target), "{case}: descriptor {fd} is {target}");
            }
            for (fd, target) in &fds[..3] {
                assert!(!is_carrier(target), "{case}: descriptor {fd} is {target}");
            }
        }
    }
}
