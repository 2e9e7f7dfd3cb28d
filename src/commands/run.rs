//! `secretfd run`: fetch every bound secret, then start the command.
//!
//! The steps, in order: plan from the config file and flags (no side
//! effects), make the launcher non-dumpable, and fetch everything, writing
//! each value into its carrier as it arrives and dropping the launcher's
//! copy. A stop signal during the fetch ends secretfd with 128+N, and any
//! failure with exit 125, in both cases with no child. Then the command is
//! exec'd in place or supervised.

#![forbid(unsafe_code)]

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use tracing::debug;

use crate::cli::{Carrier, GlobalOptions, RunArgs};
use crate::config::{self, CONFIG_VAR, Config};
use crate::deliver::{self, PendingWrite};
use crate::error::{Error, Kind, Problem};
use crate::launch;
use crate::plan::{Mode, Plan, RawBinding, RawKind, Settings, Target};
use crate::reference::{Reference, Source};
use crate::source::{self, Resolved, aws};
use crate::supervise::{self, FetchGuard};
use crate::sys;

/// Runs `secretfd run`. Returns the exit code for `--dry-run`, for a stop
/// signal during the fetch (128+N) and for a supervised child. Does not
/// return at all when the command is exec'd.
pub fn run(args: RunArgs, global: &GlobalOptions) -> Result<i32, Error> {
    // Step 1: the plan, from the config file and flags.
    let config = match config_path(&args) {
        Some(path) => Some(config::load(&path)?),
        None => None,
    };
    let plan = build_plan(&args, global, config)?;
    if plan.bindings.is_empty() {
        crate::error::warn("no secrets are bound; give --file, --fd, --stdin or --config before the --");
    }

    // Step 2: nothing fetched may be read by a debugger or land in a core dump.
    sys::set_non_dumpable()
        .map_err(|errno| Error::failed(Problem::new("run", format!("cannot make secretfd non-dumpable: {errno}"))))?;

    // Step 3: fetch every secret, and put each into its carrier as soon as
    // it arrives. A stop signal or any failure means no child.
    let references: Vec<_> = plan.bindings.iter().map(|binding| &binding.reference).collect();
    let guard = FetchGuard::start(source::local_read_may_block(&references))?;
    let fetched = fetch(&plan, &references, &guard);
    if let Some(code) = guard.finish()? {
        return Ok(code);
    }
    let fetched = fetched?;

    if plan.dry_run {
        let resolved: Vec<&Resolved> = fetched.iter().filter_map(Fetched::resolved).collect();
        print_plan(&plan, &resolved);
        return check_command(&plan).map(|()| 0);
    }

    // Step 4: start the writer of what did not fit the pipes. A supervisor
    // becomes a subreaper first, so that it also reaps the pipe writer.
    let mode = effective_mode(plan.mode);
    if mode == Mode::Supervise {
        supervise::become_subreaper();
    }
    let mut descriptors = Vec::with_capacity(fetched.len());
    let mut pending = Vec::new();
    for fetched in fetched {
        if let Fetched::Delivered { fd, rest } = fetched {
            descriptors.push(fd);
            pending.extend(rest);
        }
    }
    deliver::start_writer(pending, plan.timeout)
        .map_err(|error| Error::failed(Problem::new("run", format!("cannot start the pipe writer: {error}"))))?;

    // Step 5: start the command.
    let prepared = launch::prepare(&plan, descriptors)?;
    match mode {
        Mode::Supervise => supervise::supervise(launch::prepare_child(prepared)?),
        _ => {
            debug!(program = ?plan.command[0], "exec");
            Err(launch::exec(prepared))
        }
    }
}

/// Returns the config file's path: `--config`, else `SECRETFD_CONFIG` when
/// set and not empty.
fn config_path(args: &RunArgs) -> Option<PathBuf> {
    if let Some(path) = &args.config {
        return Some(path.clone());
    }
    std::env::var_os(CONFIG_VAR).filter(|value| !value.is_empty()).map(PathBuf::from)
}

fn build_plan(args: &RunArgs, global: &GlobalOptions, config: Option<Config>) -> Result<Plan, Error> {
    let mut flags = Vec::new();
    let mut problems = Vec::new();
    for (flag, value) in &args.ordered_bindings {
        let binding = if flag == "stdin" {
            Ok(RawBinding { kind: RawKind::Stdin, reference: value.clone(), origin: "--stdin".into() })
        } else {
            RawBinding::from_flag(flag, value)
        };
        match binding {
            Ok(binding) => flags.push(binding),
            Err(problem) => problems.push(problem),
        }
    }

    // Flags win over the file for scalar settings; bindings add up.
    let config = config.unwrap_or(Config { carrier: None, timeout: None, region: None, bindings: Vec::new() });
    let (raw, merge_problems) = config::merge(config.bindings, flags);
    problems.extend(merge_problems);
    let timeout = match config.timeout {
        Some(timeout) if !args.timeout_given => timeout,
        _ => global.timeout,
    };

    let mode = if args.supervise {
        Mode::Supervise
    } else if args.exec {
        Mode::Exec
    } else {
        Mode::Auto
    };
    let settings = Settings {
        carrier: args.carrier.or(config.carrier).unwrap_or_default(),
        preserve_fds: args.preserve_fds,
        dry_run: args.dry_run,
        mode,
        timeout,
        region: global.region.clone().or(config.region),
        max_fds: sys::open_files_limit(),
    };
    match Plan::build(&raw, &args.command, settings) {
        Ok(plan) if problems.is_empty() => Ok(plan),
        Ok(_) => Err(Error::many(Kind::Usage, problems)),
        Err(error) => {
            problems.extend(error.problems);
            Err(Error::many(Kind::Usage, problems))
        }
    }
}

/// The fetch result of one binding.
enum Fetched {
    /// The child's descriptor, and for a pipe, what did not fit its buffer.
    Delivered { fd: OwnedFd, rest: Option<PendingWrite> },
    /// The value itself, kept for `--dry-run`, which delivers nothing.
    Resolved(Resolved),
}

impl Fetched {
    fn resolved(&self) -> Option<&Resolved> {
        match self {
            Fetched::Resolved(resolved) => Some(resolved),
            Fetched::Delivered { .. } => None,
        }
    }
}

/// Fetches every secret and, unless this is a dry run, puts each into its
/// carrier as soon as it arrives, consuming (and so wiping) the launcher's
/// copy. Delivery thus overlaps the wait for later batches. Returns one
/// entry per binding, or every problem. On failure, the carriers made so
/// far are closed, so no child gets a partial set.
fn fetch(plan: &Plan, references: &[&Reference], guard: &FetchGuard) -> Result<Vec<Fetched>, Error> {
    let options = aws::Options { region: plan.region.clone(), timeout: plan.timeout };
    let mut slots: Vec<Option<Result<Fetched, Problem>>> = references.iter().map(|_| None).collect();
    source::resolve_each(references, &options, guard.stop_signal(), |index, result| {
        let subject = &plan.bindings[index].subject;
        slots[index] = Some(match result {
            Err(error) => Err(error.into_problem(subject)),
            Ok(resolved) if plan.dry_run => Ok(Fetched::Resolved(resolved)),
            Ok(resolved) => deliver(plan.carrier, resolved)
                .map_err(|error| Problem::new(subject, format!("cannot deliver the secret: {error}"))),
        });
    });

    let mut fetched = Vec::with_capacity(slots.len());
    let mut problems = Vec::new();
    for slot in slots {
        match slot.expect("every reference has a result") {
            Ok(value) => fetched.push(value),
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() { Ok(fetched) } else { Err(Error::many(Kind::Failed, problems)) }
}

/// Puts one secret into a new carrier.
fn deliver(carrier: Carrier, resolved: Resolved) -> std::io::Result<Fetched> {
    let (fd, rest) = match carrier {
        Carrier::Memfd => (deliver::memfd(&resolved.secret)?, None),
        Carrier::Pipe => deliver::pipe(resolved.secret)?,
    };
    Ok(Fetched::Delivered { fd, rest })
}

/// Resolves `Mode::Auto`: supervise as PID 1, where an exec'd program would
/// ignore SIGTERM unless it installs a handler, and nobody would reap orphans.
pub fn effective_mode(mode: Mode) -> Mode {
    match mode {
        Mode::Auto if sys::is_pid1() => Mode::Supervise,
        Mode::Auto => Mode::Exec,
        other => other,
    }
}

/// Looks the command up in PATH as exec would, so that `--dry-run` reports a
/// missing or non-executable command with the exit status a real run gives.
fn check_command(plan: &Plan) -> Result<(), Error> {
    let program = std::ffi::CString::new(plan.command[0].as_encoded_bytes())
        .map_err(|_| Error::usage(Problem::new("run", "the command contains a NUL byte")))?;
    let path = std::env::var_os("PATH");
    let found = launch::find_program(&program, path.as_deref()).map_err(|errno| launch::exec_error(&program, errno))?;

    // A name with a slash is used as given, so check that file here.
    let found = std::path::Path::new(std::ffi::OsStr::from_bytes(found.as_bytes()));
    let executable = nix::unistd::access(found, nix::unistd::AccessFlags::X_OK);
    match std::fs::metadata(found) {
        Err(_) => Err(launch::exec_error(&program, nix::errno::Errno::ENOENT)),
        Ok(metadata) if !metadata.is_file() || executable.is_err() => {
            Err(launch::exec_error(&program, nix::errno::Errno::EACCES))
        }
        Ok(_) => Ok(()),
    }
}

/// Prints the dry-run plan: one row per binding, never a value.
fn print_plan(plan: &Plan, resolved: &[&Resolved]) {
    let mut rows = vec![["BINDING".to_owned(), "FD".into(), "SOURCE".into(), "VERSION".into(), "BYTES".into()]];
    for (binding, value) in plan.bindings.iter().zip(resolved) {
        let target = match &binding.target {
            Target::File { var, .. } => format!("--file {var}"),
            Target::Fd(fd) => format!("--fd {fd}"),
            Target::Stdin => "--stdin".to_owned(),
        };
        let source = match &binding.reference.source {
            Source::Aws(_) => format!("aws-sm {}", binding.reference.text.trim_start_matches("aws-sm:")),
            Source::File(_) | Source::Env(_) => binding.reference.text.clone(),
        };
        let version = value.version_id.clone().unwrap_or_else(|| "-".to_owned());
        rows.push([target, binding.target.fd().to_string(), source, version, value.secret.len().to_string()]);
    }

    let mut widths = [0usize; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut stdout = std::io::stdout().lock();
    for row in &rows {
        let line: Vec<String> = row.iter().zip(widths).map(|(cell, width)| format!("{cell:width$}")).collect();
        let _ = writeln!(stdout, "{}", crate::error::sanitize(line.join("  ").trim_end()));
    }
    let command: Vec<String> = plan.command.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let _ = writeln!(stdout, "command: {}", crate::error::sanitize(&command.join(" ")));
    let _ = writeln!(stdout, "dry run: nothing started");
}
