//! `--carrier pipe`: read-once delivery of large values, in exec and
//! supervise mode, through both paths of the carrier. As root every value
//! fits a pipe buffer grown for it, so it is written before the command
//! starts. As an unprivileged user over the per-user pipe limit
//! (`/proc/sys/fs/pipe-user-pages-soft`) new pipes hold only 8 KiB and cannot
//! grow, so the writer process delivers the rest; the tests put a user in
//! that state with a holder script of their own.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{Finished, Moto, run_with_timeout, secretfd, unique_name};

const LIMIT: Duration = Duration::from_secs(60);

/// The uid and gid of `nobody`, the unprivileged user of these tests.
const NOBODY: &str = "65534";

/// Run as `nobody` with the command to run as arguments: it grows pipes to
/// 1 MiB until the kernel rejects that (the user is at its soft limit), then
/// opens default pipes until a new pipe gets less than 64 KiB, and keeps
/// them all open. It is a child subreaper, runs the command, then reaps
/// every process that is re-parented to it (such as an orphaned pipe
/// writer) and prints one line per process. It exits with the command's
/// status once no process is left.
const QUOTA_HOLDER: &str = r#"
import ctypes, fcntl, os, subprocess, sys, time
PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
held = []
while True:
    r, w = os.pipe()
    os.close(r)
    held.append(w)
    try:
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)
    except PermissionError:
        break
while fcntl.fcntl(held[-1], fcntl.F_GETPIPE_SZ) >= 65536:
    r, w = os.pipe()
    os.close(r)
    held.append(w)
print(f"holder: new pipes hold {fcntl.fcntl(held[-1], fcntl.F_GETPIPE_SZ)} bytes", file=sys.stderr)
start = time.monotonic()
command = subprocess.Popen(sys.argv[1:])
code = 1
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        break
    at = time.monotonic() - start
    if pid == command.pid:
        code = os.waitstatus_to_exitcode(status)
        print(f"holder: command exited {code} at {at:.2f}", file=sys.stderr)
    else:
        print(f"holder: reaped {pid} status {os.waitstatus_to_exitcode(status)} at {at:.2f}", file=sys.stderr)
sys.exit(code if code >= 0 else 128 - code)
"#;

/// Creates a fresh directory that `nobody` can write to.
fn shared_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name(&format!("secretfd-pipe-{label}")));
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    dir
}

/// Deterministic bytes of every value, different per seed.
fn payload(size: usize, seed: u8) -> Vec<u8> {
    (0..size).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed).collect()
}

/// Creates four binary secrets (64 KiB, and three of 60 KiB) and returns
/// their names and values.
fn large_secrets() -> Vec<(String, Vec<u8>)> {
    [(65_536, 1), (61_440, 2), (61_440, 3), (61_440, 4)]
        .into_iter()
        .map(|(size, seed)| {
            let name = unique_name("pipe-large");
            let value = payload(size, seed);
            Moto::shared().create_secret_binary(&name, &value);
            (name, value)
        })
        .collect()
}

/// `secretfd run --carrier pipe MODE --fd 3=.. --fd 6=..` whose command
/// copies descriptors 3 to 6 into files of `dir`, reading them in reverse
/// order so that the first pipe is read last.
fn copy_command(secrets: &[(String, Vec<u8>)], mode: &str, dir: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["run".into(), "--carrier".into(), "pipe".into(), mode.into()];
    for (index, (name, _)) in secrets.iter().enumerate() {
        args.push("--fd".into());
        args.push(format!("{}={name}", index + 3));
    }
    let dir = dir.display();
    let script = format!("cat <&6 >{dir}/6 && cat <&5 >{dir}/5 && cat <&4 >{dir}/4 && cat <&3 >{dir}/3");
    args.extend(["--".into(), "sh".into(), "-c".into(), script]);
    args
}

fn assert_copies(secrets: &[(String, Vec<u8>)], dir: &Path, context: &str) {
    for (index, (_, value)) in secrets.iter().enumerate() {
        let copy = fs::read(dir.join((index + 3).to_string())).unwrap();
        assert_eq!(copy.len(), value.len(), "{context}: descriptor {} length", index + 3);
        assert!(copy == *value, "{context}: descriptor {} content differs", index + 3);
    }
}

/// Runs secretfd as `nobody` under the quota holder.
fn run_over_pipe_limit(args: &[String]) -> Finished {
    let environment = secretfd();
    let mut command = Command::new("setpriv");
    command
        .env_clear()
        .envs(environment.get_envs().filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))))
        .args([&format!("--reuid={NOBODY}"), &format!("--regid={NOBODY}"), "--clear-groups"])
        .args(["/usr/bin/python3", "-c", QUOTA_HOLDER, env!("CARGO_BIN_EXE_secretfd")])
        .args(args);
    run_with_timeout(&mut command, LIMIT)
}

#[test]
fn large_values_arrive_intact_prefilled() {
    let secrets = large_secrets();
    for mode in ["--exec", "--supervise"] {
        let dir = shared_dir("prefilled");
        let finished = run_with_timeout(secretfd().args(copy_command(&secrets, mode, &dir)), LIMIT);
        assert_eq!(finished.code(), Some(0), "{mode}: {}", finished.stderr_text());
        assert_copies(&secrets, &dir, mode);
    }
}

#[test]
fn large_values_arrive_intact_through_writer() {
    let secrets = large_secrets();
    for mode in ["--exec", "--supervise"] {
        let dir = shared_dir("writer");
        let mut args = copy_command(&secrets, mode, &dir);
        args.insert(1, "-v".into());
        let finished = run_over_pipe_limit(&args);
        let stderr = finished.stderr_text();
        assert_eq!(finished.code(), Some(0), "{mode}: {stderr}");
        assert!(stderr.contains("holder: new pipes hold "), "{mode}: {stderr}");
        assert!(stderr.contains("starting the pipe writer"), "{mode}: the writer was not used: {stderr}");
        assert_copies(&secrets, &dir, mode);
    }
}

#[test]
fn writer_gives_up_when_child_never_reads() {
    let name = unique_name("pipe-unread");
    Moto::shared().create_secret_binary(&name, &payload(65_536, 9));
    for mode in ["--exec", "--supervise"] {
        // The command keeps descriptor 3 open for 3 s and never reads it;
        // the writer must give up after the 1 s timeout.
        let args: Vec<String> =
            ["run", "-v", "--timeout", "1s", "--carrier", "pipe", mode, "--fd", &format!("3={name}")]
                .iter()
                .map(|s| s.to_string())
                .chain(["--", "sh", "-c", "sleep 3"].map(String::from))
                .collect();
        let finished = run_over_pipe_limit(&args);
        let stderr = finished.stderr_text();
        assert_eq!(finished.code(), Some(0), "{mode}: {stderr}");
        assert!(stderr.contains("starting the pipe writer"), "{mode}: {stderr}");
        assert!(stderr.contains("holder: command exited 0"), "{mode}: {stderr}");
        // The holder returns only once it has no child left, live or zombie,
        // so reaching this point means nothing was left behind. In exec mode
        // the orphaned writer was re-parented to the holder: it must have
        // exited with status 1 (gave up) after about 1 s, before the command.
        // In supervise mode secretfd is a subreaper, so it reaped the writer
        // itself and the holder saw no other process.
        let reaped: Vec<&str> = stderr.lines().filter(|line| line.starts_with("holder: reaped")).collect();
        if mode == "--supervise" {
            assert_eq!(reaped.len(), 0, "{stderr}");
            assert!(stderr.contains("reaped an orphan"), "{stderr}");
        } else {
            assert_eq!(reaped.len(), 1, "{stderr}");
            let at: f64 = reaped[0].rsplit(' ').next().unwrap().parse().unwrap();
            assert!(reaped[0].contains("status 1 "), "{stderr}");
            assert!((0.9..2.9).contains(&at), "writer ended at {at} s: {stderr}");
        }
    }
}

#[test]
fn second_read_of_path_gets_nothing() {
    let name = unique_name("pipe-once");
    Moto::shared().create_secret_string(&name, "read-once-value");
    for mode in ["--exec", "--supervise"] {
        let finished = run_with_timeout(
            secretfd().args(["run", "--carrier", "pipe", mode, "--file"]).arg(format!("TOKEN={name}")).args([
                "--",
                "sh",
                "-c",
                "cat \"$TOKEN\"; echo '|'; cat \"$TOKEN\"; echo '|'",
            ]),
            LIMIT,
        );
        assert_eq!(finished.code(), Some(0), "{mode}: {}", finished.stderr_text());
        assert_eq!(finished.stdout_text(), "read-once-value|\n|\n", "{mode}");
    }
}

#[test]
fn stdin_binding_through_pipe() {
    let name = unique_name("pipe-stdin");
    let value = payload(65_536, 7);
    Moto::shared().create_secret_binary(&name, &value);
    let finished =
        run_with_timeout(secretfd().args(["run", "--carrier", "pipe", "--stdin", &name, "--", "cat"]), LIMIT);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert!(finished.output.stdout == value, "stdin content differs");
}

#[test]
fn pipe_descriptor_is_a_fifo_in_child() {
    let name = unique_name("pipe-kind");
    Moto::shared().create_secret_string(&name, "x");
    let finished = run_with_timeout(
        secretfd().args(["run", "--carrier", "pipe", "--fd"]).arg(format!("3={name}")).args([
            "--",
            "sh",
            "-c",
            "readlink /proc/self/fd/3",
        ]),
        LIMIT,
    );
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert!(finished.stdout_text().starts_with("pipe:["), "{}", finished.stdout_text());
}
