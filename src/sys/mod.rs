//! System calls, and the only module allowed to use `unsafe`.
//!
//! Everything here is Linux-specific: memfd sealing (Linux 3.17),
//! `MFD_NOEXEC_SEAL` (Linux 6.3, with a fallback), `close_range` with
//! `CLOSE_RANGE_CLOEXEC` (Linux 5.11, with a fallback through
//! `/proc/self/fd`), `PR_SET_DUMPABLE`, `PR_SET_CHILD_SUBREAPER` (Linux 3.4),
//! signalfd, and pipe resizing with `F_SETPIPE_SZ` (Linux 2.6.35). Each
//! `unsafe` block states the invariant it relies on.
//!
//! The functions documented as usable "in a forked child" allocate nothing
//! and call only async-signal-safe system calls, so they may run between
//! `fork` and `exec`.

pub mod alloc;

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, SealFlag, fcntl};
use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, pthread_sigmask, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

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
/// parent's, such as `nohup`'s ignored SIGHUP) into the child. Usable in a
/// forked child.
///
/// The real-time signals are included, and so are 32 and 33, which glibc
/// keeps for itself and whose `sigaction` wrapper rejects: a parent can
/// still leave them ignored (test runners have been seen to), so they are
/// reset with the raw system call.
pub fn reset_signals() {
    // The kernel's `struct sigaction` with every field zero: handler SIG_DFL,
    // no flags, no restorer, empty mask. 32 bytes covers its size on x86_64
    // and aarch64 (24 or 32 bytes); the kernel reads only its own size.
    let default = [0u64; 4];
    // Size of the kernel's sigset_t: 64 signals.
    const KERNEL_SIGSET_BYTES: libc::c_long = 8;
    for signal in 1..=64 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `default` is a readable, zeroed buffer at least as large
        // as the kernel's `struct sigaction`, so the kernel installs SIG_DFL
        // with no flags and an empty mask; the old action pointer is NULL.
        // Installing SIG_DFL runs no code in a signal context. A number the
        // kernel does not know fails with EINVAL, which is ignored.
        let _ = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal as libc::c_long,
                default.as_ptr(),
                std::ptr::null_mut::<u64>(),
                KERNEL_SIGSET_BYTES,
            )
        };
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Ignores `signal` in this process. Usable in a forked child.
pub fn ignore_signal(signal: Signal) {
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: installing SIG_IGN runs no Rust code in a signal context.
    let _ = unsafe { nix::sys::signal::sigaction(signal, &ignore) };
}

/// Replaces the process with `argv[0]`, searched in `PATH` when it has no
/// slash. Returns only on failure.
pub fn exec(argv: &[CString], envp: &[CString]) -> Errno {
    match nix::unistd::execvpe(&argv[0], argv, envp) {
        Ok(never) => match never {},
        Err(errno) => errno,
    }
}

/// Returns the soft limit on open descriptors (`ulimit -n`).
pub fn open_files_limit() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).map(|(soft, _)| soft).unwrap_or(1024)
}

/// Returns the raw number of a descriptor that is about to be handed over.
pub fn raw(fd: &OwnedFd) -> RawFd {
    fd.as_raw_fd()
}

/// Returns whether this process is PID 1 of its PID namespace.
pub fn is_pid1() -> bool {
    std::process::id() == 1
}

/// Blocks `signals` in the calling thread. Threads started afterwards
/// (the tokio runtime, its blocking pool) inherit the mask, so a blocked
/// signal reaches only a signalfd that asks for it.
pub fn block_signals(signals: &[Signal]) -> nix::Result<()> {
    let set: SigSet = signals.iter().copied().collect();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
}

/// Opens a close-on-exec signalfd for `signals`, which must be blocked.
/// With `nonblocking`, a read with nothing pending returns `None` at once.
pub fn signal_fd(signals: &[Signal], nonblocking: bool) -> nix::Result<SignalFd> {
    let set: SigSet = signals.iter().copied().collect();
    let mut flags = SfdFlags::SFD_CLOEXEC;
    if nonblocking {
        flags |= SfdFlags::SFD_NONBLOCK;
    }
    SignalFd::with_flags(&set, flags)
}

/// Registers a signalfd with the current tokio runtime, to wait until it is
/// readable. Call it inside a runtime with I/O enabled.
pub fn register_readable(fd: &SignalFd) -> io::Result<AsyncFd<BorrowedFd<'_>>> {
    // SAFETY: a `BorrowedFd` stays open and refers to the same description
    // for as long as it lives, and always returns the same number from
    // `as_raw_fd`. The `AsyncFd` borrows it, so it cannot outlive it.
    unsafe { AsyncFd::register_with_interest(fd.as_fd(), Interest::READABLE) }.map_err(io::Error::from)
}

/// Reads the number of the next signal from a signalfd, retrying on EINTR.
/// Returns `None` when the descriptor is non-blocking and nothing is pending.
pub fn read_signal(fd: &SignalFd) -> nix::Result<Option<i32>> {
    loop {
        match fd.read_signal() {
            Ok(info) => return Ok(info.map(|info| info.ssi_signo as i32)),
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno),
        }
    }
}

/// Writes `message` to standard error with one `write` call, bypassing the
/// standard library's lock, which another thread may hold.
pub fn write_stderr_unlocked(message: &[u8]) {
    // SAFETY: descriptor 2 is open for the life of the process
    // (`ensure_stdio_open` guarantees it), and the borrow ends with this call.
    let stderr = unsafe { std::os::fd::BorrowedFd::borrow_raw(2) };
    let _ = nix::unistd::write(stderr, message);
}

/// Ends the process at once with `code`: no destructors, no `atexit`
/// handlers, no flushing of the parent's stdio buffers. Usable in a forked
/// child, and from any thread (it ends every thread of the process).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is async-signal-safe and takes no pointers; skipping
    // destructors is the point, and the kernel frees every resource.
    unsafe { libc::_exit(code) }
}

/// Counts the threads of this process, from `/proc/self/task`.
pub fn thread_count() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

/// Waits up to `limit` until this process has one thread left. The tokio
/// runtime is shut down with a grace period, so a blocking-pool thread may
/// still be finishing when the launcher wants to fork.
pub fn wait_single_threaded(limit: Duration) -> io::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let threads = thread_count()?;
        if threads <= 1 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(io::Error::other(format!("{threads} threads are still running")));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How long `fork_single_threaded` waits for the tokio runtime's last
/// threads to end.
const THREAD_EXIT_WAIT: Duration = Duration::from_secs(2);

/// Which side of a fork the caller is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fork {
    /// The new process. It may only use the functions of this module that
    /// are documented as usable in a forked child, then exec or `exit_now`.
    Child,
    Parent(Pid),
}

/// Forks, after waiting (up to 2 s) until the process has exactly one thread.
///
/// With one thread, no lock (the allocator's, stdio's) can be held by a
/// thread that does not exist in the child, so the child is a consistent
/// copy. secretfd's children still keep to allocation-free, async-signal-safe
/// calls, so that this stays true even if a library starts a thread one day.
pub fn fork_single_threaded() -> io::Result<Fork> {
    wait_single_threaded(THREAD_EXIT_WAIT)?;
    let threads = thread_count()?;
    if threads != 1 {
        return Err(io::Error::other(format!("cannot fork while {threads} threads are running")));
    }
    // SAFETY: the process has exactly one thread (checked just above, and
    // nothing between the check and this call starts one), so the child
    // inherits no lock held by another thread. Every caller's child branch
    // calls only async-signal-safe functions before exec or `exit_now`.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => Ok(Fork::Child),
        nix::unistd::ForkResult::Parent { child } => Ok(Fork::Parent(child)),
    }
}

/// Makes this process the reaper of its orphaned descendants
/// (`PR_SET_CHILD_SUBREAPER`), as PID 1 is for its whole namespace.
pub fn set_child_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Sets the name shown in `ps` and `/proc/PID/comm` (at most 15 bytes).
/// Usable in a forked child.
pub fn set_process_name(name: &CStr) {
    let _ = nix::sys::prctl::set_name(name);
}

/// Waits for any child without blocking. Returns `None` when no child has
/// changed state (or there is no child at all). Usable in a forked child.
pub fn reap_any() -> Option<WaitStatus> {
    loop {
        match nix::sys::wait::waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return None,
            Ok(status) => return Some(status),
            Err(Errno::EINTR) => continue,
            // waitpid(-1) fails otherwise only for invalid flags.
            Err(_) => return None,
        }
    }
}

/// Waits until `pid` exits, retrying on EINTR.
pub fn wait_for(pid: Pid) -> nix::Result<WaitStatus> {
    loop {
        match nix::sys::wait::waitpid(pid, None) {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

/// Sends `signal` to `pid`; a process that is already gone is not an error.
pub fn send_signal(pid: Pid, signal: Signal) -> nix::Result<()> {
    match nix::sys::signal::kill(pid, signal) {
        Err(Errno::ESRCH) => Ok(()),
        other => other,
    }
}

/// Creates a pipe whose both ends are close-on-exec: `(read, write)`.
pub fn pipe_cloexec() -> nix::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC)
}

/// Largest pipe buffer an unprivileged process may request, from
/// `/proc/sys/fs/pipe-max-size` (1 MiB by default).
pub fn pipe_max_size() -> usize {
    std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(1 << 20)
}

/// Asks the kernel for a pipe buffer of at least `size` bytes and returns the
/// capacity the pipe ends up with. The request can fail (EPERM for a user
/// over `/proc/sys/fs/pipe-user-pages-soft`, whose new pipes also get
/// only 2 pages), and that is not an error: the capacity is returned.
pub fn grow_pipe(fd: &OwnedFd, size: usize) -> nix::Result<usize> {
    if let Ok(size) = libc::c_int::try_from(size) {
        let _ = fcntl(fd, FcntlArg::F_SETPIPE_SZ(size));
    }
    fcntl(fd, FcntlArg::F_GETPIPE_SZ).map(|capacity| capacity as usize)
}

/// Makes writes and reads on `fd` return EAGAIN instead of blocking.
pub fn set_nonblocking(fd: &impl AsFd) -> nix::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(drop)
}

/// Closes every descriptor except those in `keep` (sorted), 0, 1 and 2
/// included. Usable in a forked child; `fd_limit` (the open-files limit,
/// read before the fork) bounds the fallback loop on kernels without
/// `close_range` (before Linux 5.9).
pub fn close_all_except(keep: &[RawFd], fd_limit: u64) {
    let mut first: RawFd = 0;
    for &fd in keep.iter().chain(std::iter::once(&RawFd::MAX)) {
        if fd > first {
            close_range(first, fd - 1, fd_limit);
        }
        first = first.max(fd.saturating_add(1));
    }
}

fn close_range(low: RawFd, high: RawFd, fd_limit: u64) {
    // SAFETY: close_range closes descriptors only; the caller (a forked child
    // about to write and exit) holds no Rust object that uses the closed ones
    // afterwards except through `keep`, which is excluded from the range.
    let result = unsafe { libc::syscall(libc::SYS_close_range, low as libc::c_uint, high as libc::c_uint, 0) };
    if result != 0 {
        let end = (high as u64).min(fd_limit.saturating_sub(1)) as RawFd;
        for fd in low..=end {
            // SAFETY: as above; a descriptor that is not open fails with EBADF.
            unsafe { libc::close(fd) };
        }
    }
}

/// A program ready for `execve` in a forked child: the path already found in
/// `PATH`, and the NULL-terminated pointer arrays built before the fork, so
/// that the child allocates nothing.
pub struct ExecImage {
    path: CString,
    // The pointer arrays point into `argv`, `_envp` and `_shell`; they must
    // not be dropped or changed while the image lives. A `CString`'s heap
    // buffer does not move when the `CString` itself is moved.
    argv: Vec<CString>,
    _envp: Vec<CString>,
    _shell: CString,
    argv_pointers: Vec<*const libc::c_char>,
    envp_pointers: Vec<*const libc::c_char>,
    /// `/bin/sh PATH ARGS...`, for a script without a `#!` line.
    shell_argv_pointers: Vec<*const libc::c_char>,
}

/// The shell that runs a file the kernel cannot execute (ENOEXEC), as
/// `execvp` does.
const SHELL: &CStr = c"/bin/sh";

impl ExecImage {
    pub fn new(path: CString, argv: Vec<CString>, envp: Vec<CString>) -> ExecImage {
        let null = std::iter::once(std::ptr::null());
        let argv_pointers: Vec<_> = argv.iter().map(|s| s.as_ptr()).chain(null.clone()).collect();
        let envp_pointers: Vec<_> = envp.iter().map(|s| s.as_ptr()).chain(null.clone()).collect();
        let shell = SHELL.to_owned();
        let shell_argv_pointers: Vec<_> = [shell.as_ptr(), path.as_ptr()]
            .into_iter()
            .chain(argv.iter().skip(1).map(|s| s.as_ptr()))
            .chain(null)
            .collect();
        ExecImage { path, argv, _envp: envp, _shell: shell, argv_pointers, envp_pointers, shell_argv_pointers }
    }

    /// Returns the command's name as given (`argv[0]`), for messages.
    pub fn program(&self) -> &CString {
        &self.argv[0]
    }

    /// Replaces the process image. A file that the kernel rejects as not
    /// executable (ENOEXEC, such as a script without `#!`) is run with
    /// `/bin/sh`, as `execvp` does. Returns only on failure, with the errno.
    /// Usable in a forked child.
    pub fn execve(&self) -> Errno {
        // SAFETY: `path` is NUL-terminated; both pointer arrays end with NULL
        // and point into strings that this struct owns and keeps alive and
        // unchanged. execve is async-signal-safe.
        unsafe { libc::execve(self.path.as_ptr(), self.argv_pointers.as_ptr(), self.envp_pointers.as_ptr()) };
        let errno = Errno::last();
        if errno != Errno::ENOEXEC {
            return errno;
        }
        // SAFETY: as above; `_shell` is NUL-terminated and owned by this struct.
        unsafe { libc::execve(SHELL.as_ptr(), self.shell_argv_pointers.as_ptr(), self.envp_pointers.as_ptr()) };
        Errno::last()
    }
}

/// The descriptor moves of a forked child, with every buffer they need
/// allocated before the fork, so that `install` allocates nothing.
pub struct ChildFds {
    moves: Vec<FdMove>,
    /// Scratch space for the lifted copies, one per move.
    lifted: Vec<RawFd>,
    /// Descriptors >= 3 that stay open across exec, sorted.
    keep: Vec<RawFd>,
    floor: RawFd,
    fd_limit: u64,
}

impl ChildFds {
    pub fn new(moves: Vec<FdMove>, preserve: u32) -> ChildFds {
        let highest_target = moves.iter().map(|m| m.target).max().unwrap_or(2);
        let floor = highest_target.max(2 + preserve as RawFd) + 1;
        let mut keep: Vec<RawFd> = moves.iter().map(|m| m.target).filter(|&t| t >= 3).collect();
        keep.extend((0..preserve as RawFd).map(|i| 3 + i));
        keep.sort_unstable();
        let lifted = vec![-1; moves.len()];
        ChildFds { moves, lifted, keep, floor, fd_limit: open_files_limit() }
    }

    /// Does what `install_fds` does, without allocating. Usable in a forked
    /// child.
    pub fn install(&mut self) -> Result<(), Errno> {
        for (m, lifted) in self.moves.iter().zip(self.lifted.iter_mut()) {
            // SAFETY: as in `install_fds`: F_DUPFD_CLOEXEC only duplicates a descriptor.
            let fd = unsafe { libc::fcntl(m.source, libc::F_DUPFD_CLOEXEC, self.floor) };
            if fd < 0 {
                return Err(Errno::last());
            }
            *lifted = fd;
        }
        for (m, &source) in self.moves.iter().zip(&self.lifted) {
            // SAFETY: as in `install_fds`: `source` is open and `target` is a
            // valid descriptor number checked by the plan.
            if unsafe { libc::dup2(source, m.target) } < 0 {
                return Err(Errno::last());
            }
        }
        mark_cloexec_except_in_child(&self.keep, self.fd_limit);
        Ok(())
    }
}

/// `mark_cloexec_except` without the allocating fallbacks: ranges are
/// computed on the fly, and kernels without `CLOSE_RANGE_CLOEXEC` get a
/// plain loop up to the open-files limit.
fn mark_cloexec_except_in_child(keep: &[RawFd], fd_limit: u64) {
    let mut first: RawFd = 3;
    for &fd in keep.iter().chain(std::iter::once(&RawFd::MAX)) {
        if fd > first {
            let high = fd - 1;
            // SAFETY: CLOSE_RANGE_CLOEXEC only sets a flag on open descriptors in the range.
            let result = unsafe {
                libc::syscall(
                    libc::SYS_close_range,
                    first as libc::c_uint,
                    high as libc::c_uint,
                    libc::CLOSE_RANGE_CLOEXEC,
                )
            };
            if result != 0 {
                let end = (high as u64).min(fd_limit.saturating_sub(1)) as RawFd;
                for each in first..=end {
                    // SAFETY: setting FD_CLOEXEC touches only descriptor flags;
                    // a closed descriptor fails harmlessly with EBADF.
                    unsafe { libc::fcntl(each, libc::F_SETFD, libc::FD_CLOEXEC) };
                }
            }
        }
        first = first.max(fd.saturating_add(1));
    }
}

/// A `poll` set built before a fork, so that waiting on it allocates
/// nothing.
pub struct PollSet {
    fds: Vec<libc::pollfd>,
}

impl PollSet {
    /// Returns a set that waits until each descriptor can be written (or
    /// has failed).
    pub fn for_writing(fds: &[RawFd]) -> PollSet {
        PollSet { fds: fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLOUT, revents: 0 }).collect() }
    }

    /// Waits up to `timeout` until at least one descriptor is ready; returns
    /// how many are. Usable in a forked child.
    pub fn wait(&mut self, timeout: Duration) -> nix::Result<usize> {
        let millis = libc::c_int::try_from(timeout.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: `fds` is a valid, exclusively borrowed array of
        // `fds.len()` pollfd structures for the duration of the call.
        let ready = unsafe { libc::poll(self.fds.as_mut_ptr(), self.fds.len() as libc::nfds_t, millis) };
        Errno::result(ready).map(|ready| ready as usize)
    }

    /// Whether descriptor `index` reported any event (ready, error or hang-up)
    /// in the last `wait`.
    pub fn is_ready(&self, index: usize) -> bool {
        self.fds[index].fd >= 0 && self.fds[index].revents != 0
    }

    /// Stops watching descriptor `index`; the kernel ignores negative entries.
    pub fn remove(&mut self, index: usize) {
        self.fds[index].fd = -1;
    }
}
