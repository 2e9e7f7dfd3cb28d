//! System calls, and the only module allowed to use `unsafe`.
//!
//! Everything here is Linux-specific: memfd sealing (Linux 3.17),
//! `MFD_NOEXEC_SEAL` (Linux 6.3, with a fallback), `close_range` with
//! `CLOSE_RANGE_CLOEXEC` (Linux 5.11, with a fallback through
//! `/proc/self/fd`), and `PR_SET_DUMPABLE`. Each `unsafe` block states the
//! invariant it relies on.

pub mod alloc;

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};

/// Opens `/dev/null` on any of descriptors 0, 1 and 2 that is closed.
///
/// A launcher started with stdout closed would otherwise receive descriptor
/// 1 from its first `memfd_create`, and the child would find a secret on its
/// standard output. Called first thing in `main`.
pub fn ensure_stdio_open() {
    for fd in 0..=2 {
        // SAFETY: F_GETFD only reads the descriptor flags of `fd`; it has no
        // memory effects and is harmless on a closed descriptor.
        let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 && Errno::last() == Errno::EBADF;
        if closed {
            // The lowest free descriptor is `fd`, because 0..fd are open.
            if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
                let opened = null.into_raw_fd();
                debug_assert_eq!(opened, fd);
            }
        }
    }
}

/// Makes the process non-dumpable: no core dump, and `/proc/PID/mem` and
/// ptrace are closed to processes of the same user that lack
/// CAP_SYS_PTRACE. It is reset by exec, so the child is not affected.
pub fn set_non_dumpable() -> nix::Result<()> {
    nix::sys::prctl::set_dumpable(false)
}

/// Removes a variable from the launcher's own environment.
///
/// # Panics
/// Never; but callers must only use it while the process has one thread.
pub fn remove_env_var_single_threaded(name: &str) {
    // SAFETY: `remove_var` races with concurrent reads of the environment
    // from other threads. It is called from `main` before any thread (tokio
    // runtime, logging) is started, so no such read can happen.
    unsafe { std::env::remove_var(name) }
}

/// Creates a memfd that can be sealed, close-on-exec, and non-executable
/// where the kernel supports `MFD_NOEXEC_SEAL` (Linux 6.3 and later).
pub fn memfd_create_sealable(name: &CStr) -> io::Result<OwnedFd> {
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    for flags in [base | libc::MFD_NOEXEC_SEAL, base] {
        // SAFETY: `name` is a valid NUL-terminated string for the duration of
        // the call, and `flags` contains only defined MFD_* bits.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: the kernel just returned this descriptor; nothing else owns it.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        // Kernels before 6.3 reject the unknown MFD_NOEXEC_SEAL bit with EINVAL.
        if Errno::last() != Errno::EINVAL {
            break;
        }
    }
    Err(io::Error::last_os_error())
}

/// Seals a memfd against writing, growing, shrinking and further sealing.
pub fn seal_memfd(fd: &OwnedFd) -> nix::Result<()> {
    let seals = SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_SEAL;
    fcntl(fd, FcntlArg::F_ADD_SEALS(seals)).map(drop)
}

/// One descriptor move for the child: `source` ends up as `target`.
#[derive(Debug, Clone, Copy)]
pub struct FdMove {
    pub source: RawFd,
    pub target: RawFd,
}

/// Puts every `source` on its `target` number and marks every other
/// descriptor of 3 or more close-on-exec, except `3..3+preserve`.
///
/// Sources are first duplicated above the highest target, so a source that
/// sits on another binding's target number (or a target that the launcher
/// itself has open) cannot be overwritten before it is moved. The caller
/// gives up ownership of the sources; they are closed on exec.
///
/// This runs in the launcher just before exec, or in a forked child before
/// exec; it does not allocate when `close_range` is available.
pub fn install_fds(moves: &[FdMove], preserve: u32) -> io::Result<()> {
    let highest_target = moves.iter().map(|m| m.target).max().unwrap_or(2);
    let floor = highest_target.max(2 + preserve as RawFd) + 1;

    // Step 1: lift every source above all targets. The duplicates are
    // close-on-exec, so they vanish at exec.
    let mut lifted = Vec::with_capacity(moves.len());
    for m in moves {
        // SAFETY: F_DUPFD_CLOEXEC duplicates a descriptor the caller owns; it
        // does not touch memory. A closed source fails with EBADF.
        let fd = unsafe { libc::fcntl(m.source, libc::F_DUPFD_CLOEXEC, floor) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        lifted.push(fd);
    }

    // Step 2: place each on its target. dup2 clears close-on-exec on the new
    // descriptor and silently closes whatever the launcher had there.
    for (m, &source) in moves.iter().zip(&lifted) {
        // SAFETY: `source` is open (just created above) and `target` is a
        // non-negative number below the open-files limit (checked by the plan).
        if unsafe { libc::dup2(source, m.target) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }

    // Step 3: everything else of 3 and above closes on exec.
    let mut keep: Vec<RawFd> = moves.iter().map(|m| m.target).filter(|&t| t >= 3).collect();
    keep.extend((0..preserve as RawFd).map(|i| 3 + i));
    keep.sort_unstable();
    mark_cloexec_except(&keep)
}

/// Marks every descriptor >= 3 not in `keep` (sorted) close-on-exec.
fn mark_cloexec_except(keep: &[RawFd]) -> io::Result<()> {
    let mut first: libc::c_uint = 3;
    let mut ranges = Vec::with_capacity(keep.len() + 1);
    for &fd in keep {
        let fd = fd as libc::c_uint;
        if fd > first {
            ranges.push((first, fd - 1));
        }
        first = first.max(fd + 1);
    }
    ranges.push((first, libc::c_uint::MAX));

    for &(low, high) in &ranges {
        // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on
        // open descriptors in the range; it closes nothing and touches no memory.
        let result = unsafe { libc::syscall(libc::SYS_close_range, low, high, libc::CLOSE_RANGE_CLOEXEC) };
        if result != 0 {
            // Linux before 5.11 has no CLOSE_RANGE_CLOEXEC (EINVAL), before 5.9
            // no close_range at all (ENOSYS).
            return mark_cloexec_by_listing(keep);
        }
    }
    Ok(())
}

fn mark_cloexec_by_listing(keep: &[RawFd]) -> io::Result<()> {
    let listing: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in listing {
        if fd >= 3 && keep.binary_search(&fd).is_err() {
            // SAFETY: setting FD_CLOEXEC touches only the descriptor's flags;
            // a descriptor that was the directory stream and is now closed
            // fails harmlessly with EBADF.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
    Ok(())
}

/// Gives the process an empty signal mask and the default action for every
/// signal, so the child starts clean: exec keeps ignored signals ignored and
/// keeps the mask, which would otherwise leak the launcher's state (or its
/// parent's, such as `nohup`'s ignored SIGHUP) into the child.
pub fn reset_signals() {
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for signal in Signal::iterator() {
        if matches!(signal, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing SIG_DFL cannot run any Rust code in a signal
        // context, so none of sigaction's handler-safety requirements apply.
        let _ = unsafe { nix::sys::signal::sigaction(signal, &default) };
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Replaces the process with `argv[0]`, searched in `PATH` when it has no
/// slash. Returns only on failure.
pub fn exec(argv: &[CString], envp: &[CString]) -> Errno {
    match nix::unistd::execvpe(&argv[0], argv, envp) {
        Ok(never) => match never {},
        Err(errno) => errno,
    }
}

/// The soft limit on open descriptors (`ulimit -n`).
pub fn open_files_limit() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).map(|(soft, _)| soft).unwrap_or(1024)
}

/// The raw number of a descriptor that is about to be handed over.
pub fn raw(fd: &OwnedFd) -> RawFd {
    fd.as_raw_fd()
}

/// Whether this process is PID 1 of its PID namespace.
pub fn is_pid1() -> bool {
    std::process::id() == 1
}
