//! Starting the command: its argv, its environment, its descriptors.
//!
//! Everything the child needs (C strings for argv and envp, the descriptor
//! moves) is prepared before the point of no return, so that the final steps
//! (reset signals, install descriptors, exec) allocate nothing and can also
//! run in a freshly forked child.

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::ffi::{CString, OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::errno::Errno;

use crate::error::{Error, Kind, Problem};
use crate::plan::{FDS_VAR, Plan, Target};
use crate::reference::Source;
use crate::sys::{self, FdMove};

/// A command ready to exec.
pub struct Prepared {
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub moves: Vec<FdMove>,
    pub preserve_fds: u32,
    /// The carriers; they must stay open until exec.
    pub descriptors: Vec<OwnedFd>,
}

/// Builds argv, envp and descriptor moves. `descriptors[i]` carries
/// `plan.bindings[i]`.
pub fn prepare(plan: &Plan, descriptors: Vec<OwnedFd>) -> Result<Prepared, Error> {
    let argv = plan
        .command
        .iter()
        .map(|argument| to_cstring(argument.as_bytes().to_vec(), "command argument"))
        .collect::<Result<Vec<_>, _>>()?;

    let moves = plan
        .bindings
        .iter()
        .zip(&descriptors)
        .map(|(binding, fd)| FdMove { source: sys::raw(fd), target: binding.target.fd() })
        .collect();

    let envp = child_environment(plan, std::env::vars_os())
        .into_iter()
        .map(|entry| to_cstring(entry.into_vec(), "environment variable"))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(Prepared { argv, envp, moves, preserve_fds: plan.preserve_fds, descriptors })
}

/// The child's environment: the launcher's own, without the variables that
/// `env:` references consumed, plus `VAR=/dev/fd/N` for every `--file`
/// binding and `SECRETFD_FDS`.
pub fn child_environment(plan: &Plan, inherited: impl Iterator<Item = (OsString, OsString)>) -> Vec<OsString> {
    let mut removed: HashSet<&OsStr> = HashSet::new();
    removed.insert(OsStr::new(FDS_VAR));
    for binding in &plan.bindings {
        if let Source::Env(var) = &binding.reference.source {
            removed.insert(OsStr::new(var));
        }
        if let Target::File { var, .. } = &binding.target {
            removed.insert(OsStr::new(var));
        }
    }

    let mut environment: Vec<OsString> = inherited
        .filter(|(name, _)| !removed.contains(name.as_os_str()))
        .map(|(name, value)| {
            let mut entry = name;
            entry.push("=");
            entry.push(value);
            entry
        })
        .collect();
    for binding in &plan.bindings {
        if let Target::File { var, fd } = &binding.target {
            environment.push(format!("{var}=/dev/fd/{fd}").into());
        }
    }
    if !plan.bindings.is_empty() {
        environment.push(format!("{FDS_VAR}={}", plan.fds_list()).into());
    }
    environment
}

fn to_cstring(bytes: Vec<u8>, what: &str) -> Result<CString, Error> {
    CString::new(bytes).map_err(|_| Error::usage(Problem::new("run", format!("a {what} contains a NUL byte"))))
}

/// Resets signals, installs the descriptors and execs. Returns only on failure.
pub fn exec(prepared: Prepared) -> Error {
    sys::reset_signals();
    if let Err(error) = sys::install_fds(&prepared.moves, prepared.preserve_fds) {
        return Error::failed(Problem::new("run", format!("cannot place the secret descriptors: {error}")));
    }
    let errno = sys::exec(&prepared.argv, &prepared.envp);
    exec_error(&prepared.argv[0], errno)
}

/// Maps an exec failure to exit 127 (not found) or 126 (not executable).
pub fn exec_error(program: &CString, errno: Errno) -> Error {
    let program = String::from_utf8_lossy(program.as_bytes()).into_owned();
    match errno {
        Errno::ENOENT | Errno::ENOTDIR => Error::many(
            Kind::NotFound,
            vec![
                Problem::new(&program, "command not found")
                    .with_hint("check the name and PATH; for a script, check the interpreter on its #! line"),
            ],
        ),
        _ => Error::many(
            Kind::NotExecutable,
            vec![
                Problem::new(&program, format!("cannot execute: {}", errno.desc()))
                    .with_hint("check that the file is a program or script and has execute permission"),
            ],
        ),
    }
}
