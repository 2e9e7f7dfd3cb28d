//! Supervise mode and signals: secretfd as PID 1 of a new PID namespace
//! (`unshare --pid --fork --mount-proc`, the tests run as root) and with
//! `--supervise`; exit statuses, signal forwarding, reaping, stop signals
//! during a fetch (from the network or a FIFO), and the supervisor's memory
//! after the child started.

mod support;

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::{
    Finished, Moto, SilentServer, memory_hits, secretfd, secretfd_offline, temp_dir, unique_name, wait_with_timeout,
};

const LIMIT: Duration = Duration::from_secs(60);

/// Wraps a secretfd command so that it runs as PID 1 of a new PID namespace.
/// The environment of `command` (the safe test environment) is kept.
fn as_pid1(command: &Command) -> Command {
    let mut wrapped = Command::new("unshare");
    wrapped.env_clear();
    for (name, value) in command.get_envs() {
        if let Some(value) = value {
            wrapped.env(name, value);
        }
    }
    wrapped.args(["--pid", "--fork", "--mount-proc"]).arg(command.get_program()).args(command.get_args());
    wrapped
}

fn spawn(command: &mut Command) -> Child {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawning failed")
}

/// Returns the direct children of `pid`, from `/proc/PID/task/PID/children`.
fn children(pid: u32) -> Vec<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect()
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_owned()
}

/// Polls `condition` every 5 ms until it returns `Some`, or panics after `limit`.
fn wait_until<T>(limit: Duration, what: &str, mut condition: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Returns the PID of secretfd inside the namespace that `unshare` (pid
/// `unshare`) created.
fn pid1_of(unshare: u32) -> u32 {
    wait_until(LIMIT, "unshare to start secretfd", || children(unshare).first().copied())
}

/// Waits until the supervisor `pid` has a child that has exec'd its command,
/// and returns the child's PID.
fn started_child(pid: u32) -> u32 {
    wait_until(LIMIT, "the command to start", || {
        children(pid).into_iter().find(|&child| !comm(child).is_empty() && comm(child) != "secretfd")
    })
}

fn signal(pid: u32, signal: Signal) {
    kill(Pid::from_raw(pid as i32), signal).expect("sending the signal failed");
}

#[test]
fn pid1_sigterm_ends_child_with_143() {
    let mut command = secretfd_offline();
    command.args(["run", "--", "sh", "-c", "sleep 30; exit 0"]);
    let unshare = spawn(&mut as_pid1(&command));
    let secretfd = pid1_of(unshare.id());
    started_child(secretfd);

    let sent = Instant::now();
    signal(secretfd, Signal::SIGTERM);
    let finished = wait_with_timeout(unshare, LIMIT);
    let elapsed = sent.elapsed();

    assert_eq!(finished.code(), Some(143), "{}", finished.stderr_text());
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
}

#[test]
fn pid1_child_starts_as_child_not_exec() {
    // As PID 1 the default is supervise: secretfd stays PID 1 and the
    // command gets another PID.
    let mut command = secretfd_offline();
    command.args(["run", "--", "sh", "-c", "echo $$"]);
    let finished = wait_with_timeout(spawn(&mut as_pid1(&command)), LIMIT);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_ne!(finished.stdout_text().trim(), "1");

    // --exec forces exec in place: the command becomes PID 1.
    let mut command = secretfd_offline();
    command.args(["run", "--exec", "--", "sh", "-c", "echo $$"]);
    let finished = wait_with_timeout(spawn(&mut as_pid1(&command)), LIMIT);
    assert_eq!(finished.stdout_text().trim(), "1", "{}", finished.stderr_text());
}

#[test]
fn child_trapping_sigterm_sets_exit_code() {
    let dir = temp_dir("trap");
    let ready = dir.join("ready");
    let script = format!("trap 'exit 7' TERM; touch {}; while :; do sleep 0.05; done", ready.display());
    let mut command = secretfd_offline();
    command.args(["run", "--supervise", "--", "sh", "-c", &script]);
    let child = spawn(&mut command);
    let pid = child.id();
    wait_until(LIMIT, "the trap", || ready.exists().then_some(()));

    signal(pid, Signal::SIGTERM);
    let finished = wait_with_timeout(child, LIMIT);
    assert_eq!(finished.code(), Some(7), "{}", finished.stderr_text());
}

#[test]
fn every_forwarded_signal_reaches_child() {
    let dir = temp_dir("forward");
    for (index, sig) in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ]
    .into_iter()
    .enumerate()
    {
        let ready = dir.join(format!("ready-{index}"));
        let code = 10 + index;
        let script =
            format!("trap 'exit {code}' {}; touch {}; while :; do sleep 0.05; done", sig as i32, ready.display());
        let mut command = secretfd_offline();
        command.args(["run", "--supervise", "--", "sh", "-c", &script]);
        let child = spawn(&mut command);
        let pid = child.id();
        wait_until(LIMIT, "the trap", || ready.exists().then_some(()));

        signal(pid, sig);
        let finished = wait_with_timeout(child, LIMIT);
        assert_eq!(finished.code(), Some(code as i32), "{sig}: {}", finished.stderr_text());
    }
}

#[test]
fn child_killed_by_sigkill_gives_137() {
    let finished = support::run_with_timeout(
        secretfd_offline().args(["run", "--supervise", "--", "sh", "-c", "kill -KILL $$"]),
        LIMIT,
    );
    assert_eq!(finished.code(), Some(137), "{}", finished.stderr_text());
}

#[test]
fn exit_codes_pass_through_unchanged() {
    for code in 0..=255 {
        let finished = support::run_with_timeout(
            secretfd_offline().args(["run", "--supervise", "--", "sh", "-c", &format!("exit {code}")]),
            LIMIT,
        );
        assert_eq!(finished.code(), Some(code), "exit {code}: {}", finished.stderr_text());
    }
}

#[test]
fn exec_failure_gives_126_or_127() {
    let finished =
        support::run_with_timeout(secretfd_offline().args(["run", "--supervise", "--", "no-such-command-x"]), LIMIT);
    assert_eq!(finished.code(), Some(127));
    assert!(finished.stderr_text().contains("no-such-command-x: command not found"), "{}", finished.stderr_text());

    let finished =
        support::run_with_timeout(secretfd_offline().args(["run", "--supervise", "--", "/etc/passwd"]), LIMIT);
    assert_eq!(finished.code(), Some(126));
    assert!(finished.stderr_text().contains("/etc/passwd: cannot execute"), "{}", finished.stderr_text());

    // A directory in place of a program: found by name, rejected by execve itself.
    let dir = temp_dir("exec-dir");
    let finished = support::run_with_timeout(secretfd_offline().args(["run", "--supervise", "--"]).arg(&dir), LIMIT);
    assert_eq!(finished.code(), Some(126), "{}", finished.stderr_text());
}

/// The `SigBlk` and `SigIgn` lines of the command's own `/proc/self/status`,
/// with SIGHUP ignored in secretfd's parent, as `nohup` would leave it.
fn child_signal_state(mode: &str) -> String {
    let finished = support::run_with_timeout(
        Command::new("sh")
            .env_clear()
            .envs(secretfd_offline().get_envs().filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))))
            .arg("-c")
            .arg(format!(
                "trap '' HUP; exec {} run {mode} -- grep -E '^Sig(Blk|Ign):' /proc/self/status",
                env!("CARGO_BIN_EXE_secretfd")
            )),
        LIMIT,
    );
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    finished.stdout_text()
}

#[test]
fn child_starts_with_clean_signal_state() {
    for mode in ["--supervise", "--exec"] {
        let state = child_signal_state(mode);
        assert!(state.contains("SigBlk:\t0000000000000000"), "{mode}: {state}");
        assert!(state.contains("SigIgn:\t0000000000000000"), "{mode}: {state}");
    }
}

/// A command that starts 50 grandchildren which secretfd's child does not
/// wait for: an inner shell puts them in the background and exits at once
/// (status 9), so they are orphaned and re-parented to the supervisor. Each
/// exits with status 3 after 0.1 s. Half a second later the command counts
/// the zombies whose parent is the supervisor, prints the count, and exits 5.
const ORPHANS_SCRIPT: &str = r#"
sh -c 'i=0; while [ $i -lt 50 ]; do (sleep 0.1; exit 3) & i=$((i+1)); done; exit 9'
sleep 0.6
zombies=$(awk -v parent="$PPID" '$3 == "Z" && $4 == parent' /proc/[0-9]*/stat 2>/dev/null | wc -l)
orphans=$(awk -v parent="$PPID" '$4 == parent' /proc/[0-9]*/stat 2>/dev/null | wc -l)
echo "zombies=$zombies others=$orphans"
exit 5
"#;

#[test]
fn pid1_reaps_orphaned_grandchildren() {
    let mut command = secretfd_offline();
    command.args(["run", "--", "sh", "-c", ORPHANS_SCRIPT]);
    let finished = wait_with_timeout(spawn(&mut as_pid1(&command)), LIMIT);
    assert_eq!(finished.code(), Some(5), "{}", finished.stderr_text());
    // The only process left with secretfd as its parent is the command itself.
    assert_eq!(finished.stdout_text().trim(), "zombies=0 others=1");
}

#[test]
fn supervise_reaps_orphans_as_subreaper() {
    let finished = support::run_with_timeout(
        secretfd_offline().args(["run", "--supervise", "--", "sh", "-c", ORPHANS_SCRIPT]),
        LIMIT,
    );
    assert_eq!(finished.code(), Some(5), "{}", finished.stderr_text());
    assert_eq!(finished.stdout_text().trim(), "zombies=0 others=1");
}

#[test]
fn pid1_exit_status_is_childs_while_grandchildren_run() {
    // The command exits 4 at once; its 50 background grandchildren exit 3
    // later. secretfd must report 4 and not wait for them.
    let script = "i=0; while [ $i -lt 50 ]; do (sleep 0.3; exit 3) & i=$((i+1)); done; exit 4";
    let mut command = secretfd_offline();
    command.args(["run", "--", "sh", "-c", script]);
    let finished = wait_with_timeout(spawn(&mut as_pid1(&command)), LIMIT);
    assert_eq!(finished.code(), Some(4), "{}", finished.stderr_text());
}

/// Starts `secretfd run` against a server that never replies, waits until
/// the fetch is under way, sends `sig`, and returns the result, how long
/// secretfd took to exit, and whether the command ran.
fn stop_during_fetch(sig: Signal, pid1: bool) -> (Finished, Duration, bool) {
    let server = SilentServer::new();
    let dir = temp_dir("stop");
    let marker = dir.join("started");
    let mut command = support::secretfd_with_endpoint(&server.endpoint());
    command.args(["run", "--timeout", "30s", "--fd", "3=slow/secret", "--", "touch"]).arg(&marker);
    let (child, target) = if pid1 {
        let child = spawn(&mut as_pid1(&command));
        let target = pid1_of(child.id());
        (child, target)
    } else {
        let child = spawn(&mut command);
        let id = child.id();
        (child, id)
    };
    wait_until(LIMIT, "secretfd to connect", || (server.connections() > 0).then_some(()));

    let sent = Instant::now();
    signal(target, sig);
    let finished = wait_with_timeout(child, LIMIT);
    let elapsed = sent.elapsed();
    std::thread::sleep(Duration::from_millis(100));
    (finished, elapsed, marker.exists())
}

#[test]
fn sigint_during_fetch_exits_130_without_child() {
    let (finished, elapsed, started) = stop_during_fetch(Signal::SIGINT, false);
    assert_eq!(finished.code(), Some(130), "{}", finished.stderr_text());
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    assert!(!started, "the command ran");
    assert!(finished.stderr_text().contains("stopped by SIGINT while fetching secrets"), "{}", finished.stderr_text());
}

#[test]
fn pid1_sigterm_during_fetch_exits_143_without_child() {
    let (finished, elapsed, started) = stop_during_fetch(Signal::SIGTERM, true);
    assert_eq!(finished.code(), Some(143), "{}", finished.stderr_text());
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    assert!(!started, "the command ran");
}

/// Counts the threads of process `pid`.
fn thread_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/task")).map(|tasks| tasks.count()).unwrap_or(0)
}

#[test]
fn fifo_source_stopped_by_sigterm() {
    // Nothing ever writes to the FIFO, so opening it waits forever. A stop
    // signal must still end secretfd, through the watcher thread.
    let dir = temp_dir("fifo");
    let fifo = dir.join("password");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let marker = dir.join("started");
    let mut command = secretfd_offline();
    command.arg("run").arg("--file").arg(format!("pw=file:{}", fifo.display())).args(["--", "touch"]).arg(&marker);
    let mut child = spawn(&mut command);
    let pid = child.id();
    let start = Instant::now();
    while thread_count(pid) != 2 {
        if start.elapsed() > LIMIT {
            // Blocked signals would not end it; SIGKILL does.
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the signal watcher never started for a FIFO source");
        }
        std::thread::sleep(Duration::from_millis(5));
    }

    let sent = Instant::now();
    signal(pid, Signal::SIGTERM);
    let finished = wait_with_timeout(child, LIMIT);
    let elapsed = sent.elapsed();
    assert_eq!(finished.code(), Some(143), "{}", finished.stderr_text());
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    assert!(!marker.exists(), "the command ran");
    assert!(finished.stderr_text().contains("stopped by SIGTERM while fetching secrets"), "{}", finished.stderr_text());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn supervisor_memory_holds_no_secret_after_start() {
    let canary = format!("canary-{}-{}", std::process::id(), unique_name("value"));
    let name = unique_name("supervise-canary");
    Moto::shared().create_secret_string(&name, &format!("{{\"password\":\"{canary}\"}}"));
    let dir = temp_dir("memory");
    let ready = dir.join("ready");
    // The command keeps the value in a shell variable, which the scan of the
    // child must find: that proves the scan can see a copy where one exists.
    let script = format!("v=$(cat \"$SECRET\"); touch {}; sleep 30; echo \"$v\" >/dev/null", ready.display());

    for carrier in ["memfd", "pipe"] {
        let _ = fs::remove_file(&ready);
        let mut command = secretfd();
        command
            .args(["run", "--supervise", "--carrier", carrier, "--file"])
            .arg(format!("SECRET={name}#password"))
            .args(["--", "sh", "-c", &script]);
        let child = spawn(&mut command);
        let supervisor = child.id();
        let shell = started_child(supervisor);
        wait_until(LIMIT, "the command to read the secret", || ready.exists().then_some(()));

        let in_supervisor = memory_hits(supervisor, canary.as_bytes()).len();
        let in_child = memory_hits(shell, canary.as_bytes()).len();
        signal(supervisor, Signal::SIGTERM);
        let finished = wait_with_timeout(child, LIMIT);

        assert_eq!(in_supervisor, 0, "{carrier}: the supervisor holds the secret");
        assert!(in_child > 0, "{carrier}: the scan did not find the value in the child either");
        assert_eq!(finished.code(), Some(143), "{}", finished.stderr_text());
        assert!(!finished.stdout_text().contains(&canary) && !finished.stderr_text().contains(&canary));
    }
}

#[test]
fn supervisor_stays_non_dumpable() {
    // Run as an unprivileged user: the kernel then makes the /proc files of
    // a non-dumpable process owned by root instead of by that user, while
    // the command, dumpable again after exec, keeps its own.
    let dir = temp_dir("dumpable");
    fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let ready = dir.join("ready");
    let offline = secretfd_offline();
    let mut command = Command::new("setpriv");
    command
        .env_clear()
        .envs(offline.get_envs().filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))))
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_secretfd")])
        .args(["run", "--supervise", "--", "sh", "-c", &format!("touch {}; sleep 30", ready.display())]);
    let child = spawn(&mut command);
    let supervisor = child.id();
    wait_until(LIMIT, "the command", || ready.exists().then_some(()));
    let shell = started_child(supervisor);

    use std::os::unix::fs::MetadataExt;
    let supervisor_owner = fs::metadata(format!("/proc/{supervisor}/mem")).unwrap().uid();
    let child_owner = fs::metadata(format!("/proc/{shell}/mem")).unwrap().uid();
    signal(supervisor, Signal::SIGTERM);
    let finished = wait_with_timeout(child, LIMIT);

    assert_eq!(finished.code(), Some(143), "{}", finished.stderr_text());
    assert_eq!(supervisor_owner, 0, "the supervisor is dumpable");
    assert_eq!(child_owner, 65534, "the command is not dumpable");
}

#[test]
fn script_without_shebang_runs_with_sh() {
    let dir = temp_dir("no-shebang");
    let script = dir.join("script");
    fs::write(&script, "echo \"ran with $1\"\n").unwrap();
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for mode in ["--supervise", "--exec"] {
        let finished =
            support::run_with_timeout(secretfd_offline().args(["run", mode, "--"]).arg(&script).arg("argument"), LIMIT);
        assert_eq!(finished.code(), Some(0), "{mode}: {}", finished.stderr_text());
        assert_eq!(finished.stdout_text(), "ran with argument\n", "{mode}");
    }
}

#[test]
fn supervise_passes_preserved_descriptors() {
    let dir = temp_dir("preserve");
    let inherited = dir.join("inherited");
    let secret = dir.join("secret");
    fs::write(&inherited, "inherited-3").unwrap();
    fs::write(&secret, "secret-4").unwrap();
    let script = format!(
        "exec 3<{}; exec {} run --supervise --preserve-fds 1 --fd 4=file:{} -- sh -c 'cat <&3; cat <&4; ls /proc/self/fd'",
        inherited.display(),
        env!("CARGO_BIN_EXE_secretfd"),
        secret.display()
    );
    let offline = secretfd_offline();
    let finished = support::run_with_timeout(
        Command::new("sh")
            .env_clear()
            .envs(offline.get_envs().filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))))
            .args(["-c", &script]),
        LIMIT,
    );
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    let stdout = finished.stdout_text();
    assert!(stdout.starts_with("inherited-3secret-4"), "{stdout}");
    // ls lists 0, 1, 2, the two descriptors, and its own directory stream.
    let descriptors: Vec<&str> = stdout["inherited-3secret-4".len()..].split_whitespace().collect();
    assert_eq!(descriptors.len(), 6, "{stdout}");
}
