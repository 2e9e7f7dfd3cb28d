//! Starting the command: its argv, its environment, its descriptors.
//!
//! Everything the child needs (C strings for argv and envp, the descriptor
//! moves) is prepared before the point of no return. In exec mode `exec`
//! replaces the launcher itself. For supervise mode `prepare_child` goes one
//! step further (the program is looked up in `PATH`, and the pointer arrays
//! and descriptor buffers are built) so that `exec_in_child`, which runs
//! between fork and exec, allocates nothing.

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::ffi::{CString, OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

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

/// A command ready to exec in a forked child.
pub struct ChildImage {
    pub image: sys::ExecImage,
    pub fds: sys::ChildFds,
    /// The carriers; the parent closes its copies once the child is forked.
    pub descriptors: Vec<OwnedFd>,
}

/// Looks the program up in `PATH` and builds what the forked child needs.
/// A program that cannot be found or executed is reported here, before any
/// fork, with the exit status exec would have given (127 or 126).
pub fn prepare_child(prepared: Prepared) -> Result<ChildImage, Error> {
    let path = find_program(&prepared.argv[0], std::env::var_os("PATH").as_deref())
        .map_err(|errno| exec_error(&prepared.argv[0], errno))?;
    Ok(ChildImage {
        image: sys::ExecImage::new(path, prepared.argv, prepared.envp),
        fds: sys::ChildFds::new(prepared.moves, prepared.preserve_fds),
        descriptors: prepared.descriptors,
    })
}

/// Resets signals, installs the descriptors and execs, in a forked child.
/// Allocates nothing. Returns only on failure, with the errno.
pub fn exec_in_child(child: &mut ChildImage) -> Errno {
    sys::reset_signals();
    if let Err(errno) = child.fds.install() {
        return errno;
    }
    child.image.execve()
}

/// `PATH` when the variable is unset, as glibc's `execvp` uses.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Finds `program` the way `execvp` does: a name with a slash is used as
/// given, any other name is tried in each `PATH` directory in turn (an empty
/// entry means the current directory). Returns ENOENT when no candidate
/// exists and EACCES when candidates exist but none is executable.
pub fn find_program(program: &CString, path_var: Option<&OsStr>) -> Result<CString, Errno> {
    let name = program.as_bytes();
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    if name.contains(&b'/') {
        return Ok(program.clone());
    }

    let path_var = path_var.unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut found_unexecutable = false;
    for directory in path_var.as_bytes().split(|&b| b == b':') {
        let directory = if directory.is_empty() { b".".as_slice() } else { directory };
        let mut candidate = directory.to_vec();
        candidate.push(b'/');
        candidate.extend_from_slice(name);
        let candidate_path = Path::new(OsStr::from_bytes(&candidate));
        let Ok(metadata) = std::fs::metadata(candidate_path) else {
            continue;
        };
        if metadata.is_file() && nix::unistd::access(candidate_path, nix::unistd::AccessFlags::X_OK).is_ok() {
            return CString::new(candidate).map_err(|_| Errno::ENOENT);
        }
        found_unexecutable = true;
    }
    Err(if found_unexecutable { Errno::EACCES } else { Errno::ENOENT })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> CString {
        CString::new(text).unwrap()
    }

    #[test]
    fn find_program_searches_path_in_order() {
        let found = find_program(&c("sh"), Some(OsStr::new("/nonexistent:/bin:/usr/bin"))).unwrap();
        assert_eq!(found, c("/bin/sh"));
    }

    #[test]
    fn find_program_keeps_names_with_slash() {
        assert_eq!(find_program(&c("./x/y"), Some(OsStr::new("/bin"))).unwrap(), c("./x/y"));
    }

    #[test]
    fn find_program_reports_missing_and_unexecutable() {
        assert_eq!(find_program(&c("no-such-program-here"), Some(OsStr::new("/bin"))), Err(Errno::ENOENT));
        assert_eq!(find_program(&c(""), None), Err(Errno::ENOENT));
        // /etc/passwd exists but is not executable.
        assert_eq!(find_program(&c("passwd"), Some(OsStr::new("/etc"))), Err(Errno::EACCES));
    }
}
