//! Signals around a launch, and supervise mode.
//!
//! Two jobs live here, because both decide what a signal to secretfd means:
//!
//! - While secrets are fetched, [`FetchGuard`] ends secretfd with 128+N when
//!   SIGTERM, SIGINT, SIGHUP or SIGQUIT arrives, so no child starts. This
//!   must work as PID 1 too, where the kernel drops these signals unless a
//!   handler is installed or they are blocked.
//! - In supervise mode, [`supervise`] forks the child, forwards signals to
//!   it, reaps every zombie, and returns the child's exit status.
//!
//! Both read signals from a signalfd while the signals are blocked, so no
//! signal handler ever runs Rust code in a signal context.

#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::thread::JoinHandle;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use tracing::debug;

use crate::error::{Error, Problem};
use crate::launch::{self, ChildImage};
use crate::sys;

/// Signals that end secretfd while it fetches, before any child exists.
pub const STOP_SIGNALS: [Signal; 4] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT];

/// Signals that a supervisor passes on to its child.
pub const FORWARDED_SIGNALS: [Signal; 7] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Returns the exit status for death by signal N, as shells report it.
fn signal_exit_code(signal: i32) -> i32 {
    128 + signal
}

/// Ends secretfd with 128+N when a stop signal arrives during the fetch.
///
/// Design: the stop signals are blocked in the main thread before the tokio
/// runtime starts, so every runtime thread inherits the mask and no thread
/// takes them through a handler. A signalfd reports them. On a signal,
/// secretfd writes one line to stderr and ends the whole process with
/// `_exit(128+N)`: no child exists yet, and the fetched bytes live only in
/// this process's memory, which the kernel frees. Blocked signals are queued
/// even for PID 1, whose default action would otherwise be to drop them.
///
/// Who reads the signalfd depends on where the fetch can wait:
/// - reading a FIFO or a device (`file:/dev/stdin`) blocks the main thread,
///   so a watcher thread polls the signalfd and a pipe that `finish` closes;
/// - Secrets Manager requests wait inside the tokio runtime, which polls
///   [`FetchGuard::stop_signal`] beside them;
/// - regular files and variables are read at once, and `finish` reads any
///   signal that arrived meanwhile.
///
/// The watcher thread is started only when needed: it added about 0.3 ms to
/// every launch (`perf stat` over 300 `file:` launches).
///
/// After `finish` the signals stay blocked: exec mode unblocks them in
/// `sys::reset_signals` just before exec, and supervise mode reads them from
/// its own signalfd and forwards them.
pub struct FetchGuard {
    watch: Watch,
}

enum Watch {
    /// The watcher thread, and the pipe whose closing stops it.
    Thread { stop: OwnedFd, watcher: JoinHandle<SignalFd> },
    /// No watcher thread: the signalfd, non-blocking.
    Direct(SignalFd),
}

impl FetchGuard {
    /// Blocks the stop signals. Starts the watcher thread when
    /// `local_read_may_block` is true, that is, when a local read can wait
    /// on a pipe or device.
    pub fn start(local_read_may_block: bool) -> Result<FetchGuard, Error> {
        sys::block_signals(&STOP_SIGNALS).map_err(|errno| signal_setup_error("block signals", errno))?;
        let signals =
            sys::signal_fd(&STOP_SIGNALS, true).map_err(|errno| signal_setup_error("open a signalfd", errno))?;
        if !local_read_may_block {
            return Ok(FetchGuard { watch: Watch::Direct(signals) });
        }
        let (stop_read, stop) = sys::pipe_cloexec().map_err(|errno| signal_setup_error("create a pipe", errno))?;

        let watcher = std::thread::Builder::new()
            .name("secretfd-signals".into())
            .spawn(move || watch(signals, stop_read))
            .map_err(|error| Error::failed(Problem::new("run", format!("cannot start the signal watcher: {error}"))))?;
        Ok(FetchGuard { watch: Watch::Thread { stop, watcher } })
    }

    /// Stops the watcher thread, if any, and waits for it to end. Returns
    /// `Some(128+N)` when a stop signal is still queued, in which case no
    /// child may start.
    pub fn finish(self) -> Result<Option<i32>, Error> {
        let signals = match self.watch {
            Watch::Direct(signals) => signals,
            Watch::Thread { stop, watcher } => {
                drop(stop);
                watcher.join().map_err(|_| Error::failed(Problem::new("run", "the signal watcher thread panicked")))?
            }
        };

        match sys::read_signal(&signals) {
            Ok(Some(signal)) => {
                report_stop(signal);
                Ok(Some(signal_exit_code(signal)))
            }
            Ok(None) => Ok(None),
            Err(errno) => Err(signal_setup_error("read the signalfd", errno)),
        }
    }
}

impl FetchGuard {
    /// Returns a future, for the fetch's tokio runtime, that ends secretfd
    /// with 128+N when a stop signal arrives. The future never completes.
    /// It stays pending when the watcher thread reads the signals instead,
    /// or when the runtime cannot watch the signalfd, which `finish` then
    /// reads.
    pub async fn stop_signal(&self) -> Infallible {
        if let Watch::Direct(signals) = &self.watch {
            stop_on_signal(signals).await;
        }
        std::future::pending().await
    }
}

/// Waits in the runtime for a stop signal and ends secretfd on one. Returns
/// only when the signalfd cannot be watched or read there.
async fn stop_on_signal(signals: &SignalFd) {
    let readiness = match sys::register_readable(signals) {
        Ok(readiness) => readiness,
        Err(error) => {
            debug!("cannot watch the signalfd in the runtime ({error}); stop signals are read after the fetch");
            return;
        }
    };
    while let Ok(mut ready) = readiness.readable().await {
        match sys::read_signal(signals) {
            Ok(Some(signal)) => stop_now(signal),
            Ok(None) => ready.clear_ready(),
            Err(errno) => {
                debug!("cannot read the signalfd in the runtime ({errno}); stop signals are read after the fetch");
                return;
            }
        }
    }
}

/// Explains the exit on stderr and ends the whole process with 128+N.
fn stop_now(signal: i32) -> ! {
    report_stop(signal);
    sys::exit_now(signal_exit_code(signal))
}

/// Waits, on the watcher thread, for a stop signal or for `stop` to close.
fn watch(signals: SignalFd, stop: OwnedFd) -> SignalFd {
    loop {
        let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN), PollFd::new(stop.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            // poll fails otherwise only for bad arguments; stop watching
            // rather than spin, and let `finish` check for pending signals.
            Err(_) => return signals,
        }
        if fds[1].any().unwrap_or(false) {
            return signals;
        }
        if let Ok(Some(signal)) = sys::read_signal(&signals) {
            stop_now(signal);
        }
    }
}

/// Writes the one line that explains the exit, without taking stderr's lock,
/// which the main thread may hold.
fn report_stop(signal: i32) {
    let name = Signal::try_from(signal).map(Signal::as_str).unwrap_or("a signal");
    let line = format!("secretfd: stopped by {name} while fetching secrets; the command was not started\n");
    sys::write_stderr_unlocked(line.as_bytes());
}

fn signal_setup_error(what: &str, errno: Errno) -> Error {
    Error::failed(Problem::new("run", format!("cannot {what} for signal handling: {errno}")))
}

/// Makes secretfd the reaper of its orphaned descendants, unless it is PID 1
/// and so already is. Orphaned grandchildren, and the pipe writer, are then
/// re-parented to secretfd instead of to the system's init, and reaped by
/// `supervise`. Call it before the pipe writer is started.
pub fn become_subreaper() {
    if sys::is_pid1() {
        return;
    }
    if let Err(errno) = sys::set_child_subreaper() {
        debug!(%errno, "cannot become a child subreaper; orphans go to init");
    }
}

/// Starts the child and supervises it until it exits; returns its exit
/// status (its code, or 128+N when signal N killed it).
///
/// Steps:
/// 1. Block the forwarded signals and SIGCHLD and open a signalfd for them,
///    so none is lost between the fork and the loop.
/// 2. Fork. The child resets signals, installs its descriptors and execs,
///    all without allocating. When exec fails, the child sends the errno
///    over a close-on-exec pipe. When exec succeeds, the pipe closes unread.
/// 3. The parent closes its copies of the carriers and frees the command's
///    argv and environment, so it holds nothing of the secrets.
/// 4. Loop: forward each signal to the child; on SIGCHLD reap every zombie,
///    and return once the child itself has been reaped. Only the child's PID
///    decides the exit status, never another process's.
///
/// The supervisor exits as soon as the child has exited, like tini: it does
/// not wait for grandchildren that are still running.
pub fn supervise(mut child: ChildImage) -> Result<i32, Error> {
    // Step 1.
    let mut watched: Vec<Signal> = FORWARDED_SIGNALS.to_vec();
    watched.push(Signal::SIGCHLD);
    sys::block_signals(&watched).map_err(|errno| signal_setup_error("block signals", errno))?;
    let signals = sys::signal_fd(&watched, false).map_err(|errno| signal_setup_error("open a signalfd", errno))?;

    // Step 2.
    let (error_read, error_write) =
        sys::pipe_cloexec().map_err(|errno| fork_error(format!("cannot create the exec status pipe: {errno}")))?;
    let pid = match sys::fork_single_threaded().map_err(|error| fork_error(format!("cannot fork: {error}")))? {
        sys::Fork::Child => {
            drop(error_read);
            let errno = launch::exec_in_child(&mut child);
            let _ = nix::unistd::write(&error_write, &(errno as i32).to_ne_bytes());
            sys::exit_now(launch_failure_code(errno))
        }
        sys::Fork::Parent(pid) => pid,
    };

    // Step 3.
    let program = child.image.program().to_owned();
    drop(child);
    drop(error_write);
    if let Some(errno) = read_exec_error(error_read) {
        let _ = sys::wait_for(pid);
        return Err(launch::exec_error(&program, errno));
    }
    debug!(pid = pid.as_raw(), "child started");

    // Step 4.
    loop {
        let signal = match sys::read_signal(&signals) {
            Ok(Some(signal)) => signal,
            Ok(None) => continue,
            Err(errno) => return Err(fork_error(format!("cannot read signals: {errno}"))),
        };
        let Ok(signal) = Signal::try_from(signal) else { continue };
        if signal == Signal::SIGCHLD {
            if let Some(code) = reap(pid) {
                return Ok(code);
            }
            continue;
        }
        debug!(signal = signal.as_str(), pid = pid.as_raw(), "forwarding");
        if let Err(errno) = sys::send_signal(pid, signal) {
            debug!(%errno, "cannot forward the signal");
        }
    }
}

/// Reaps every zombie that is ready. Returns the child's exit status once the
/// child itself is among them; the statuses of other processes (orphaned
/// grandchildren, the pipe writer) are discarded.
fn reap(child: Pid) -> Option<i32> {
    let mut child_status = None;
    while let Some(status) = sys::reap_any() {
        let code = match status {
            WaitStatus::Exited(pid, code) => (pid, code),
            WaitStatus::Signaled(pid, signal, _) => (pid, signal_exit_code(signal as i32)),
            _ => continue,
        };
        if code.0 == child {
            debug!(status = code.1, "child exited");
            child_status = Some(code.1);
        } else {
            debug!(pid = code.0.as_raw(), "reaped an orphan");
        }
    }
    child_status
}

/// Reads the errno that a failed exec sends; `None` when the pipe closed
/// unread, which means exec succeeded.
fn read_exec_error(pipe: OwnedFd) -> Option<Errno> {
    let mut file = std::fs::File::from(pipe);
    let mut bytes = [0u8; 4];
    // read_exact retries on EINTR itself; end of file means exec succeeded.
    match file.read_exact(&mut bytes) {
        Ok(()) => Some(Errno::from_raw(i32::from_ne_bytes(bytes))),
        Err(_) => None,
    }
}

/// The status a child that could not exec exits with; the parent reports
/// the error itself, so this only matters if the parent is gone.
fn launch_failure_code(errno: Errno) -> i32 {
    match errno {
        Errno::ENOENT | Errno::ENOTDIR => crate::error::EXIT_NOT_FOUND,
        _ => crate::error::EXIT_NOT_EXECUTABLE,
    }
}

fn fork_error(message: String) -> Error {
    Error::failed(Problem::new("run", message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_exit_codes_follow_shell_convention() {
        assert_eq!(signal_exit_code(Signal::SIGTERM as i32), 143);
        assert_eq!(signal_exit_code(Signal::SIGINT as i32), 130);
        assert_eq!(signal_exit_code(Signal::SIGKILL as i32), 137);
    }

    #[test]
    fn launch_failure_codes() {
        assert_eq!(launch_failure_code(Errno::ENOENT), 127);
        assert_eq!(launch_failure_code(Errno::EACCES), 126);
    }
}
