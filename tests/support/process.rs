//! Bounded waiting for child processes, so that a hung secretfd fails its
//! test instead of hanging the whole suite.

use std::io::{ErrorKind, Read, Write};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long to keep reading stdout and stderr after the child has exited. A
/// grandchild that keeps the pipes open must not hang the test.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// A child process that exited or was killed by [`wait_with_timeout`].
#[derive(Debug)]
pub struct Finished {
    pub output: Output,
    /// Time from the start of the wait (or from just before the spawn, for
    /// [`run_with_timeout`]) until the child was reaped.
    pub elapsed: Duration,
    /// The child did not exit within the timeout and was killed.
    pub timed_out: bool,
}

impl Finished {
    pub fn status(&self) -> ExitStatus {
        self.output.status
    }

    /// Returns the exit code, or `None` when a signal ended the child.
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Returns stdout as text, with invalid UTF-8 replaced.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Returns stderr as text, with invalid UTF-8 replaced.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

/// Waits for `child` to exit, killing it by PID (SIGKILL) when `timeout`
/// passes first, and collects what it wrote to piped stdout and stderr.
///
/// A piped stdin that the caller did not take is closed first, so that a
/// child reading it gets end of file.
pub fn wait_with_timeout(mut child: Child, timeout: Duration) -> Finished {
    wait_from(&mut child, timeout, Instant::now())
}

/// Spawns `command` with stdin closed and stdout and stderr piped, then waits
/// as [`wait_with_timeout`] does.
///
/// # Panics
///
/// When the command cannot be spawned.
pub fn run_with_timeout(command: &mut Command, timeout: Duration) -> Finished {
    command.stdin(Stdio::null());
    let start = Instant::now();
    let mut child = spawn_piped(command);
    wait_from(&mut child, timeout, start)
}

/// Spawns `command`, writes `input` to its stdin and closes it, then waits as
/// [`wait_with_timeout`] does.
///
/// # Panics
///
/// When the command cannot be spawned.
pub fn run_with_stdin(command: &mut Command, input: &[u8], timeout: Duration) -> Finished {
    command.stdin(Stdio::piped());
    let start = Instant::now();
    let mut child = spawn_piped(command);

    // Written on a thread: a child that never reads stdin must not block the
    // test once the pipe is full. The thread ends when the pipe closes.
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });

    wait_from(&mut child, timeout, start)
}

fn spawn_piped(command: &mut Command) -> Child {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("spawning {:?} failed: {error}", command.get_program()))
}

fn wait_from(child: &mut Child, timeout: Duration, start: Instant) -> Finished {
    drop(child.stdin.take());
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());

    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() >= timeout => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().expect("reaping the killed child failed");
            }
            Ok(None) => thread::sleep(POLL_INTERVAL),
            Err(error) => panic!("waiting for the child failed: {error}"),
        }
    };
    let elapsed = start.elapsed();

    let grace_end = Instant::now() + OUTPUT_GRACE;
    Finished {
        output: Output { status, stdout: stdout.finish(grace_end), stderr: stderr.finish(grace_end) },
        elapsed,
        timed_out,
    }
}

/// A pipe drained on a thread into a shared buffer.
struct Collector {
    buffer: Arc<Mutex<Vec<u8>>>,
    done: Option<Receiver<()>>,
}

impl Collector {
    /// Returns what was read, after the pipe closed or at `deadline`,
    /// whichever comes first.
    fn finish(self, deadline: Instant) -> Vec<u8> {
        if let Some(done) = self.done {
            let _ = done.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        }
        std::mem::take(&mut *self.buffer.lock().unwrap())
    }
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> Collector {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let Some(mut pipe) = pipe else {
        return Collector { buffer, done: None };
    };

    let (sender, done) = mpsc::channel();
    let shared = Arc::clone(&buffer);
    thread::spawn(move || {
        let mut chunk = [0; 8192];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) => break,
                Ok(read) => shared.lock().unwrap().extend_from_slice(&chunk[..read]),
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = sender.send(());
    });
    Collector { buffer, done: Some(done) }
}

/// Lists the open descriptors of `pid` with their targets, sorted by number,
/// such as `(3, "/memfd:secretfd (deleted)")`.
///
/// # Panics
///
/// When `/proc/PID/fd` cannot be read.
pub fn open_fds(pid: u32) -> Vec<(i32, String)> {
    let mut fds: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let fd = entry.file_name().to_str().unwrap().parse().unwrap();
            let target = std::fs::read_link(entry.path()).map(|p| p.display().to_string()).unwrap_or_default();
            (fd, target)
        })
        .collect();
    fds.sort();
    fds
}
