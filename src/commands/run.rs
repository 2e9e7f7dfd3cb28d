//! `secretfd run`: fetch every bound secret, then start the command.
//!
//! The steps, in order: plan (no side effects), make the launcher
//! non-dumpable, fetch everything, stop on any failure with exit 125 and no
//! child, write each value into its carrier and drop the launcher's copy,
//! then exec in place (or supervise).

#![forbid(unsafe_code)]

use std::io::Write;

use tracing::debug;

use crate::cli::{Carrier, GlobalOptions, RunArgs};
use crate::deliver;
use crate::error::{Error, Kind, Problem};
use crate::launch;
use crate::plan::{Mode, Plan, RawBinding, RawKind, Settings, Target};
use crate::reference::Source;
use crate::source::{self, Resolved, aws};
use crate::sys;

/// Runs `secretfd run`; returns the exit code for `--dry-run`, and does not
/// return at all when the command is exec'd.
pub fn run(args: RunArgs, global: &GlobalOptions) -> Result<i32, Error> {
    // Step 1: the plan, from flags.
    let plan = build_plan(&args, global)?;

    // Step 2: nothing fetched may be read by a debugger or land in a core dump.
    sys::set_non_dumpable()
        .map_err(|errno| Error::failed(Problem::new("run", format!("cannot make secretfd non-dumpable: {errno}"))))?;

    // Step 3: fetch every secret; any failure means no child.
    let resolved = fetch(&plan, global)?;

    if plan.dry_run {
        print_plan(&plan, &resolved);
        return Ok(0);
    }

    // Step 4: deliver, then wipe the launcher's copies.
    let mut descriptors = Vec::with_capacity(resolved.len());
    let mut problems = Vec::new();
    for (binding, resolved) in plan.bindings.iter().zip(&resolved) {
        match deliver_one(plan.carrier, resolved) {
            Ok(fd) => descriptors.push(fd),
            Err(error) => problems.push(Problem::new(&binding.subject, format!("cannot deliver the secret: {error}"))),
        }
    }
    drop(resolved);
    if !problems.is_empty() {
        return Err(Error::many(Kind::Failed, problems));
    }

    // Step 5: start the command.
    let prepared = launch::prepare(&plan, descriptors)?;
    match effective_mode(plan.mode) {
        Mode::Supervise => Err(Error::failed(Problem::new("run", "--supervise is not implemented yet"))),
        _ => {
            debug!(program = ?plan.command[0], "exec");
            Err(launch::exec(prepared))
        }
    }
}

fn build_plan(args: &RunArgs, global: &GlobalOptions) -> Result<Plan, Error> {
    let mut raw = Vec::new();
    let mut problems = Vec::new();
    for (flag, value) in &args.ordered_bindings {
        let binding = if flag == "stdin" {
            Ok(RawBinding { kind: RawKind::Stdin, reference: value.clone(), origin: "--stdin".into() })
        } else {
            RawBinding::from_flag(flag, value)
        };
        match binding {
            Ok(binding) => raw.push(binding),
            Err(problem) => problems.push(problem),
        }
    }

    let mode = if args.supervise {
        Mode::Supervise
    } else if args.exec {
        Mode::Exec
    } else {
        Mode::Auto
    };
    let settings = Settings {
        carrier: args.carrier.unwrap_or_default(),
        preserve_fds: args.preserve_fds,
        dry_run: args.dry_run,
        mode,
        timeout: global.timeout,
        region: global.region.clone(),
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

fn fetch(plan: &Plan, global: &GlobalOptions) -> Result<Vec<Resolved>, Error> {
    if plan.bindings.is_empty() {
        return Ok(Vec::new());
    }
    let options = aws::Options { region: global.region.clone(), timeout: plan.timeout };
    let references: Vec<_> = plan.bindings.iter().map(|binding| &binding.reference).collect();
    let results = source::resolve_all(&references, &options);

    let mut resolved = Vec::with_capacity(results.len());
    let mut problems = Vec::new();
    for (binding, result) in plan.bindings.iter().zip(results) {
        match result {
            Ok(value) => resolved.push(value),
            Err(error) => problems.push(error.into_problem(&binding.subject)),
        }
    }
    if problems.is_empty() { Ok(resolved) } else { Err(Error::many(Kind::Failed, problems)) }
}

fn deliver_one(carrier: Carrier, resolved: &Resolved) -> std::io::Result<std::os::fd::OwnedFd> {
    match carrier {
        Carrier::Memfd => deliver::memfd(&resolved.secret),
        Carrier::Pipe => Err(std::io::Error::other("the pipe carrier is not implemented yet")),
    }
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

/// Prints the dry-run plan: one row per binding, never a value.
fn print_plan(plan: &Plan, resolved: &[Resolved]) {
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
