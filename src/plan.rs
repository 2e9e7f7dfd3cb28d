//! The validated launch plan.
//!
//! `Plan::build` turns the raw bindings of the command line (and of a config
//! file) into typed bindings with their final descriptor numbers, and the
//! command with `{{VAR}}` replaced. Every check that needs no network happens
//! here: reference syntax, variable names, descriptor numbers and collisions,
//! names bound twice. All problems are collected, so the user sees every
//! mistake at once.

#![forbid(unsafe_code)]

use std::collections::{BTreeSet, HashSet};
use std::ffi::OsString;
use std::os::fd::RawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::Duration;

use crate::cli::Carrier;
use crate::error::{Error, Kind, Problem};
use crate::reference::Reference;

/// The variable that lists the child's secret descriptors.
pub const FDS_VAR: &str = "SECRETFD_FDS";

/// The place in the child that a binding puts its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Env `VAR=/dev/fd/N`; the descriptor number is assigned by the plan.
    File { var: String, fd: RawFd },
    /// Exactly descriptor N.
    Fd(RawFd),
    /// Standard input.
    Stdin,
}

impl Target {
    pub fn fd(&self) -> RawFd {
        match self {
            Target::File { fd, .. } | Target::Fd(fd) => *fd,
            Target::Stdin => 0,
        }
    }

    /// Returns the name of this binding in `SECRETFD_FDS`.
    pub fn label(&self) -> String {
        match self {
            Target::File { var, .. } => var.clone(),
            Target::Fd(fd) => format!("fd{fd}"),
            Target::Stdin => "stdin".to_owned(),
        }
    }
}

/// One binding as written, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBinding {
    pub kind: RawKind,
    pub reference: String,
    /// The flag or config file line that declared it, such as `--file` or `config.toml line 4`.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawKind {
    /// `VAR=REF`, still unsplit for `--file`.
    File(String),
    /// `N=REF`, with N still unparsed.
    Fd(String),
    Stdin,
}

impl RawBinding {
    /// Splits a `--file VAR=REF` or `--fd N=REF` argument.
    pub fn from_flag(flag: &str, argument: &str) -> Result<RawBinding, Problem> {
        let origin = format!("--{flag}");
        let subject = format!("{origin} {argument}");
        let (left, reference) = argument.split_once('=').ok_or_else(|| {
            let form =
                if flag == "fd" { "N=REF, as in --fd 3=prod/db" } else { "VAR=REF, as in --file DB_FILE=prod/db" };
            Problem::new(&subject, "missing '='").with_hint(format!("write {form}"))
        })?;
        let kind = if flag == "fd" { RawKind::Fd(left.to_owned()) } else { RawKind::File(left.to_owned()) };
        Ok(RawBinding { kind, reference: reference.to_owned(), origin })
    }

    /// Text naming this binding in messages, e.g. `--file DB=prod/db#password`.
    pub fn subject(&self) -> String {
        match &self.kind {
            RawKind::File(var) => format!("{} {var}={}", self.origin, self.reference),
            RawKind::Fd(fd) => format!("{} {fd}={}", self.origin, self.reference),
            RawKind::Stdin => format!("{} {}", self.origin, self.reference),
        }
    }
}

/// A validated binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub target: Target,
    pub reference: Reference,
    /// Text naming this binding in messages.
    pub subject: String,
}

/// Whether secretfd replaces itself with the command or stays as its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Exec,
    Supervise,
    /// Supervise when secretfd is PID 1, otherwise exec.
    Auto,
}

/// Everything `run` needs, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub bindings: Vec<Binding>,
    /// The command and its arguments, with `{{VAR}}` replaced.
    pub command: Vec<OsString>,
    pub carrier: Carrier,
    /// Launcher descriptors 3..3+N passed on unchanged.
    pub preserve_fds: u32,
    pub dry_run: bool,
    pub mode: Mode,
    pub timeout: Duration,
    pub region: Option<String>,
}

/// Inputs of `Plan::build` that need no validation of their own.
#[derive(Debug, Clone)]
pub struct Settings {
    pub carrier: Carrier,
    pub preserve_fds: u32,
    pub dry_run: bool,
    pub mode: Mode,
    pub timeout: Duration,
    pub region: Option<String>,
    /// The soft limit on open descriptors; a target must stay below it.
    pub max_fds: u64,
}

impl Plan {
    /// Validates bindings and command, reporting every problem found.
    pub fn build(raw: &[RawBinding], command: &[OsString], settings: Settings) -> Result<Plan, Error> {
        // Problems are tagged with their binding's position, so they are
        // reported in command-line order whichever pass finds them.
        let mut problems: Vec<(usize, Problem)> = Vec::new();
        let preserved = 3..3 + i64::from(settings.preserve_fds);

        // Pass 1: explicit descriptor numbers, so --file can fill the gaps.
        let mut taken: BTreeSet<RawFd> = BTreeSet::new();
        let mut explicit = Vec::with_capacity(raw.len());
        for (position, binding) in raw.iter().enumerate() {
            let RawKind::Fd(text) = &binding.kind else {
                explicit.push(None);
                continue;
            };
            match parse_fd(text, &preserved, settings.max_fds) {
                Ok(fd) if !taken.insert(fd) => {
                    problems.push((
                        position,
                        Problem::new(binding.subject(), format!("descriptor {fd} is bound twice"))
                            .with_hint("give each --fd binding its own number"),
                    ));
                    explicit.push(None);
                }
                Ok(fd) => explicit.push(Some(fd)),
                Err(message) => {
                    problems.push((position, Problem::new(binding.subject(), message)));
                    explicit.push(None);
                }
            }
        }

        // Pass 2: every binding in the order given.
        let mut next_free: RawFd = 3 + settings.preserve_fds as RawFd;
        let mut vars = HashSet::new();
        let mut has_stdin = false;
        let mut bindings = Vec::with_capacity(raw.len());
        for (position, (binding, explicit_fd)) in raw.iter().zip(explicit).enumerate() {
            let subject = binding.subject();
            let target = match &binding.kind {
                RawKind::Fd(_) => explicit_fd.map(Target::Fd),
                RawKind::Stdin if has_stdin => {
                    problems.push((position, Problem::new(&subject, "standard input is bound twice")));
                    None
                }
                RawKind::Stdin => {
                    has_stdin = true;
                    Some(Target::Stdin)
                }
                RawKind::File(var) => match check_var(var) {
                    Err(message) => {
                        problems.push((position, Problem::new(&subject, message)));
                        None
                    }
                    Ok(()) if !vars.insert(var.clone()) => {
                        problems.push((
                            position,
                            Problem::new(&subject, format!("variable {var} is bound twice"))
                                .with_hint("bind each name once, on the command line or in the config file"),
                        ));
                        None
                    }
                    Ok(()) => {
                        while taken.contains(&next_free) {
                            next_free += 1;
                        }
                        taken.insert(next_free);
                        Some(Target::File { var: var.clone(), fd: next_free })
                    }
                },
            };
            let reference = match Reference::parse(&binding.reference) {
                Ok(reference) => Some(reference),
                Err(reason) => {
                    problems.push((position, Problem::new(&subject, format!("invalid reference: {reason}"))));
                    None
                }
            };
            if let (Some(target), Some(reference)) = (target, reference) {
                bindings.push(Binding { target, reference, subject });
            }
        }

        if command.is_empty() {
            problems.push((usize::MAX, Problem::new("run", "no command given").with_hint("put the command after --")));
        }
        if !problems.is_empty() {
            problems.sort_by_key(|(position, _)| *position);
            return Err(Error::many(Kind::Usage, problems.into_iter().map(|(_, problem)| problem).collect()));
        }

        let command = substitute(command, &bindings);
        Ok(Plan {
            bindings,
            command,
            carrier: settings.carrier,
            preserve_fds: settings.preserve_fds,
            dry_run: settings.dry_run,
            mode: settings.mode,
            timeout: settings.timeout,
            region: settings.region,
        })
    }

    /// Returns the value of `SECRETFD_FDS`: `LABEL=N` for every binding, in order.
    pub fn fds_list(&self) -> String {
        let entries: Vec<String> =
            self.bindings.iter().map(|b| format!("{}={}", b.target.label(), b.target.fd())).collect();
        entries.join(",")
    }
}

fn parse_fd(text: &str, preserved: &std::ops::Range<i64>, max_fds: u64) -> Result<RawFd, String> {
    let fd: i64 =
        text.parse().map_err(|_| format!("'{text}' is not a descriptor number; use a whole number of 3 or more"))?;
    if fd < 3 {
        return Err(format!(
            "descriptor {fd} is standard input, output or error; use --stdin for input, or a number of 3 or more"
        ));
    }
    if preserved.contains(&fd) {
        return Err(format!(
            "descriptor {fd} is passed on by --preserve-fds {}; pick a number of {} or more",
            preserved.end - 3,
            preserved.end
        ));
    }
    if fd as u64 >= max_fds {
        return Err(format!("descriptor {fd} is not below the open-files limit ({max_fds}); raise it with ulimit -n"));
    }
    RawFd::try_from(fd).map_err(|_| format!("descriptor {fd} is too large"))
}

fn check_var(var: &str) -> Result<(), String> {
    let mut chars = var.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!("'{var}' is not a valid variable name; use letters, digits and underscores"));
    }
    if var == FDS_VAR {
        return Err(format!("{FDS_VAR} is set by secretfd itself; pick another name"));
    }
    Ok(())
}

/// Replaces `{{VAR}}` by `/dev/fd/N` for every `--file VAR` binding. Every
/// other `{{...}}` is left as typed, so commands that use braces themselves
/// (templating tools, `find -exec {}`) are unaffected.
fn substitute(command: &[OsString], bindings: &[Binding]) -> Vec<OsString> {
    let replacements: Vec<(Vec<u8>, Vec<u8>)> = bindings
        .iter()
        .filter_map(|binding| match &binding.target {
            Target::File { var, fd } => {
                Some((format!("{{{{{var}}}}}").into_bytes(), format!("/dev/fd/{fd}").into_bytes()))
            }
            _ => None,
        })
        .collect();

    command
        .iter()
        .map(|argument| {
            let mut bytes = argument.as_bytes().to_vec();
            for (pattern, path) in &replacements {
                bytes = replace_all(&bytes, pattern, path);
            }
            OsString::from_vec(bytes)
        })
        .collect()
}

fn replace_all(haystack: &[u8], pattern: &[u8], replacement: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest.windows(pattern.len()).position(|window| window == pattern) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(replacement);
        rest = &rest[at + pattern.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            carrier: Carrier::Memfd,
            preserve_fds: 0,
            dry_run: false,
            mode: Mode::Exec,
            timeout: Duration::from_secs(30),
            region: None,
            max_fds: 1024,
        }
    }

    fn flag(flag: &str, argument: &str) -> RawBinding {
        RawBinding::from_flag(flag, argument).unwrap()
    }

    fn command(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn problems(raw: &[RawBinding], settings: Settings) -> Vec<String> {
        let error = Plan::build(raw, &command(&["true"]), settings).unwrap_err();
        error.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn file_bindings_fill_gaps_around_fd_bindings() {
        let raw = [flag("file", "A=x"), flag("fd", "3=y"), flag("file", "B=z"), flag("fd", "5=w")];
        let plan = Plan::build(&raw, &command(&["true"]), settings()).unwrap();
        let fds: Vec<RawFd> = plan.bindings.iter().map(|b| b.target.fd()).collect();
        assert_eq!(fds, [4, 3, 6, 5]);
        assert_eq!(plan.fds_list(), "A=4,fd3=3,B=6,fd5=5");
    }

    #[test]
    fn file_bindings_start_after_preserved_fds() {
        let raw = [flag("file", "A=x")];
        let plan = Plan::build(&raw, &command(&["true"]), Settings { preserve_fds: 2, ..settings() }).unwrap();
        assert_eq!(plan.bindings[0].target, Target::File { var: "A".into(), fd: 5 });
    }

    #[test]
    fn substitute_only_declared_names() {
        let raw = [flag("file", "KEY=x")];
        let args = command(&["cat", "{{KEY}}", "--a={{KEY}}{{KEY}}", "{{OTHER}}", "{}", "{{ KEY }}"]);
        let plan = Plan::build(&raw, &args, settings()).unwrap();
        assert_eq!(
            plan.command,
            command(&["cat", "/dev/fd/3", "--a=/dev/fd/3/dev/fd/3", "{{OTHER}}", "{}", "{{ KEY }}"])
        );
    }

    #[test]
    fn build_reports_every_problem() {
        let raw = [
            flag("file", "A=x"),
            flag("file", "A=y"),
            flag("fd", "2=z"),
            flag("fd", "7=a"),
            flag("fd", "7=b"),
            flag("fd", "x=c"),
            flag("file", "1BAD=d"),
            flag("file", "SECRETFD_FDS=e"),
            flag("file", "C=bad name"),
            flag("fd", "4096=f"),
        ];
        let found = problems(&raw, settings());
        let expected = [
            "variable A is bound twice",
            "descriptor 2 is standard",
            "descriptor 7 is bound twice",
            "'x' is not a descriptor number",
            "'1BAD' is not a valid variable name",
            "SECRETFD_FDS is set by secretfd",
            "--file C=bad name: invalid reference",
            "open-files limit",
        ];
        assert_eq!(found.len(), expected.len(), "{found:#?}");
        for (problem, text) in found.iter().zip(expected) {
            assert!(problem.contains(text), "expected {text:?} in {problem:?}");
        }
    }

    #[test]
    fn fd_inside_preserved_range_rejected() {
        let found = problems(&[flag("fd", "4=x")], Settings { preserve_fds: 2, ..settings() });
        assert!(found[0].contains("passed on by --preserve-fds 2"), "{found:?}");
    }

    #[test]
    fn flag_without_equals_rejected() {
        let problem = RawBinding::from_flag("file", "prod/db").unwrap_err();
        assert_eq!(problem.subject, "--file prod/db");
        assert!(problem.hint.unwrap().contains("VAR=REF"));
    }
}
