//! Carriers: putting each secret on a descriptor for the child.
//!
//! The default carrier is a memfd: written, sealed against write, grow,
//! shrink and further seals, and then re-opened read-only through
//! `/proc/self/fd`, so the child gets a read-only descriptor, at offset 0,
//! to an immutable in-memory file. Re-opening `/dev/fd/N` in the child gives a new
//! description at offset 0, so the value can be read again.
//!
//! The pipe carrier gives the child the read end of a pipe, so the value can
//! be read once: re-opening `/dev/fd/N` gives a new reader of the same pipe,
//! which finds it empty and gets end of file. The value is written before
//! the child starts when the pipe buffer can hold it (the buffer is first
//! grown towards the value's size, up to `/proc/sys/fs/pipe-max-size`).
//! Whatever does not fit is written by a separate writer process, so the
//! launcher never blocks on a child that reads late or not at all, and the
//! supervisor holds no copy once the child runs. See `start_writer`.

#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::{OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use tracing::debug;

use crate::secret::Secret;
use crate::sys;

/// Name shown for the memfd in `/proc/PID/fd` (as `/memfd:secretfd (deleted)`).
const MEMFD_NAME: &CStr = c"secretfd";

/// Writes a secret into a new sealed, read-only memfd.
pub fn memfd(secret: &Secret) -> io::Result<OwnedFd> {
    let mut file = File::from(sys::memfd_create_sealable(MEMFD_NAME)?);
    file.write_all(secret.expose())?;
    let fd = OwnedFd::from(file);
    sys::seal_memfd(&fd)?;

    // A read-only description makes writes fail with EBADF before the seals
    // are even consulted, and starts at offset 0. Without /proc (some
    // minimal containers) the read-write description is kept and rewound,
    // and the seals still forbid every change.
    match File::open(format!("/proc/self/fd/{}", sys::raw(&fd))) {
        Ok(read_only) => Ok(OwnedFd::from(read_only)),
        Err(error) => {
            debug!("cannot re-open the memfd read-only ({error}); keeping the sealed read-write descriptor");
            let mut file = File::from(fd);
            file.seek(SeekFrom::Start(0))?;
            Ok(OwnedFd::from(file))
        }
    }
}

/// Name of the pipe writer process in `ps` and `/proc/PID/comm`.
const WRITER_NAME: &CStr = c"secretfd-pipe";

/// The part of a pipe payload that did not fit the pipe buffer.
pub struct PendingWrite {
    /// The pipe's write end, non-blocking; `None` once closed.
    fd: Option<OwnedFd>,
    secret: Secret,
    /// Bytes of `secret` already in the pipe.
    written: usize,
}

/// Creates a pipe for `secret` and writes as much as the pipe buffer takes.
/// Returns the read end for the child, and what is still to be written, if
/// anything. The write end is closed when everything fit, so the child sees
/// end of file after the value.
pub fn pipe(secret: Secret) -> io::Result<(OwnedFd, Option<PendingWrite>)> {
    let (read_end, write_end) = sys::pipe_cloexec()?;
    if !secret.is_empty() {
        let wanted = secret.len().min(sys::pipe_max_size());
        let capacity = sys::grow_pipe(&write_end, wanted)?;
        debug!(bytes = secret.len(), capacity, "pipe carrier");
    }
    sys::set_nonblocking(&write_end)?;

    let mut written = 0;
    while written < secret.len() {
        match nix::unistd::write(&write_end, &secret.expose()[written..]) {
            Ok(count) => written += count,
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => break,
            Err(errno) => return Err(errno.into()),
        }
    }
    if written == secret.len() {
        return Ok((read_end, None));
    }
    Ok((read_end, Some(PendingWrite { fd: Some(write_end), secret, written })))
}

/// Starts one process that writes every pending payload, and returns once
/// that process is detached. The caller's copies of the payloads and write
/// ends are dropped (and the payloads wiped) when this returns.
///
/// The writer is the grandchild of a short-lived intermediate process that
/// exits at once and is reaped here, so the writer is never a child of the
/// command (which in exec mode takes over this process and does not expect
/// an extra child). As an orphan it is reaped by the nearest subreaper: a
/// supervising secretfd or the namespace's PID 1. When secretfd execs as PID 1
/// itself (`--exec`), that PID 1 is the command, which must then reap it.
///
/// The writer closes every descriptor except the write ends, writes as the
/// child reads, and exits when everything is written, when every reader is
/// gone, or when `timeout` passes (a child that never reads). It is named
/// `secretfd-pipe` and, like the launcher, is not dumpable.
pub fn start_writer(mut pending: Vec<PendingWrite>, timeout: Duration) -> io::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let raw_fds: Vec<RawFd> = pending.iter().filter_map(|p| p.fd.as_ref().map(sys::raw)).collect();
    let mut poll_set = sys::PollSet::for_writing(&raw_fds);
    let mut keep = raw_fds;
    keep.sort_unstable();
    let fd_limit = sys::open_files_limit();
    let remaining: usize = pending.iter().map(|p| p.secret.len() - p.written).sum();
    debug!(
        pipes = pending.len(),
        bytes = remaining,
        timeout_ms = timeout.as_millis() as u64,
        "starting the pipe writer"
    );

    match sys::fork_single_threaded()? {
        sys::Fork::Child => match sys::fork_single_threaded() {
            Ok(sys::Fork::Child) => {
                sys::set_process_name(WRITER_NAME);
                sys::reset_signals();
                // A reader that is gone must end only its own pipe, with
                // EPIPE, not the whole writer with SIGPIPE.
                sys::ignore_signal(nix::sys::signal::Signal::SIGPIPE);
                sys::close_all_except(&keep, fd_limit);
                let complete = write_pending(&mut pending, &mut poll_set, timeout);
                sys::exit_now(if complete { 0 } else { 1 })
            }
            Ok(sys::Fork::Parent(_)) => sys::exit_now(0),
            Err(_) => sys::exit_now(1),
        },
        sys::Fork::Parent(intermediate) => match sys::wait_for(intermediate)? {
            nix::sys::wait::WaitStatus::Exited(_, 0) => Ok(()),
            _ => Err(io::Error::other("the pipe writer process could not be started")),
        },
    }
}

/// Writes every pending payload as its reader takes it, until all are
/// written, every reader is gone, or `timeout` passes. Returns whether
/// everything was written. Allocates nothing, so it may run in a forked
/// child. A write end is closed as soon as its payload is complete, so that
/// reader sees end of file while other pipes are still being written.
fn write_pending(pending: &mut [PendingWrite], poll_set: &mut sys::PollSet, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut open = pending.len();
    let mut complete = true;

    while open > 0 {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        match poll_set.wait(deadline - now) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return false,
        }

        for (index, write) in pending.iter_mut().enumerate() {
            if !poll_set.is_ready(index) {
                continue;
            }
            let Some(fd) = &write.fd else { continue };
            match nix::unistd::write(fd, &write.secret.expose()[write.written..]) {
                Ok(count) => write.written += count,
                Err(Errno::EINTR | Errno::EAGAIN) => continue,
                // EPIPE: every reader is gone (the child exited or closed it).
                Err(_) => {
                    write.written = write.secret.len();
                    complete = false;
                }
            }
            if write.written >= write.secret.len() {
                poll_set.remove(index);
                drop(write.fd.take());
                open -= 1;
            }
        }
    }
    complete
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn memfd_is_sealed_and_rewound() {
        let fd = memfd(&Secret::copy_from(b"canary\n")).unwrap();
        let mut file = File::from(fd);
        let mut read_back = Vec::new();
        file.read_to_end(&mut read_back).unwrap();
        assert_eq!(read_back, b"canary\n");
        assert!(file.write_all(b"x").is_err());
        assert!(file.set_len(0).is_err());

        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
        let mut writable = File::options().write(true).open(&path).unwrap();
        assert_eq!(writable.write(b"x").unwrap_err().raw_os_error(), Some(nix::libc::EPERM));
        assert!(writable.set_len(100).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"canary\n");
    }
}
