//! The `--config` file: bindings and settings for entrypoints.
//!
//! A TOML file, named by `--config FILE` or, when the flag is absent, by the
//! `SECRETFD_CONFIG` variable:
//!
//! ```toml
//! carrier = "memfd"              # or "pipe"
//! timeout = "10s"                # a duration, as for --timeout
//! region = "eu-west-1"
//!
//! [files]                        # VAR = "REF", as --file VAR=REF
//! DB_PASSWORD_FILE = "prod/db#password"
//!
//! [fds]                          # N = "REF", as --fd N=REF
//! 3 = "ops/backup-key"
//! stdin = "registry/token"       # as --stdin REF
//! ```
//!
//! Every key is optional. Bindings apply in the order they appear in the
//! file, before those given by flags. For the scalar settings a flag wins
//! over the file. A variable, descriptor or standard input bound both in the
//! file and by a flag is an error, and so is an unknown key or a bad value.
//! Every message names the file and the line.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::cli::Carrier;
use crate::duration::parse_duration;
use crate::error::{Error, Kind, Problem};
use crate::plan::{RawBinding, RawKind};

/// The variable that names the config file when `--config` is absent.
pub const CONFIG_VAR: &str = "SECRETFD_CONFIG";

/// Maximum size of a config file. A config is a few lines, so the limit only
/// keeps a wrong path (a huge log, say) from being read whole.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The file as written, with the position of every value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    carrier: Option<Spanned<Carrier>>,
    timeout: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    #[serde(default)]
    files: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    fds: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// A validated config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub carrier: Option<Carrier>,
    pub timeout: Option<Duration>,
    pub region: Option<String>,
    /// Bindings in file order, each with `origin` such as `app.toml line 4`.
    pub bindings: Vec<RawBinding>,
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, Error> {
    let name = path.display().to_string();
    let text = read(path).map_err(|error| {
        Error::usage(
            Problem::new(&name, format!("cannot read the config file: {error}"))
                .with_hint(format!("check the path given to --config or {CONFIG_VAR}")),
        )
    })?;
    parse(&text, &name)
}

fn read(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other("larger than 1 MiB"));
    }
    Ok(text)
}

/// Parses config text; `name` is the file name used in messages.
pub fn parse(text: &str, name: &str) -> Result<Config, Error> {
    let file: ConfigFile = toml::from_str(text).map_err(|error| {
        let subject = match error.span() {
            Some(span) => at_line(name, text, span.start),
            None => name.to_owned(),
        };
        Error::usage(Problem::new(subject, error.message().trim_end().replace('\n', "; ")))
    })?;

    let mut problems = Vec::new();
    let timeout = file.timeout.and_then(|timeout| {
        parse_duration(timeout.get_ref())
            .map_err(|message| problems.push(Problem::new(at_line(name, text, timeout.span().start), message)))
            .ok()
    });
    let region = file.region.and_then(|region| {
        if region.get_ref().trim().is_empty() {
            problems.push(Problem::new(at_line(name, text, region.span().start), "region is empty"));
            return None;
        }
        Some(region.into_inner())
    });

    // Bindings, sorted back into the order they appear in the file.
    let mut bindings: Vec<(usize, RawBinding)> = Vec::new();
    for (key, reference) in file.files {
        let position = key.span().start;
        let origin = at_line(name, text, position);
        let kind = RawKind::File(key.into_inner());
        bindings.push((position, RawBinding { kind, reference: reference.into_inner(), origin }));
    }
    for (key, reference) in file.fds {
        let position = key.span().start;
        let origin = at_line(name, text, position);
        let kind = if key.get_ref() == "stdin" { RawKind::Stdin } else { RawKind::Fd(key.into_inner()) };
        bindings.push((position, RawBinding { kind, reference: reference.into_inner(), origin }));
    }
    bindings.sort_by_key(|(position, _)| *position);

    if !problems.is_empty() {
        return Err(Error::many(Kind::Usage, problems));
    }
    Ok(Config {
        carrier: file.carrier.map(Spanned::into_inner),
        timeout,
        region,
        bindings: bindings.into_iter().map(|(_, binding)| binding).collect(),
    })
}

/// `NAME line N` for the byte offset `position` of `text`.
fn at_line(name: &str, text: &str, position: usize) -> String {
    let line = text.as_bytes()[..position.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1;
    format!("{name} line {line}")
}

/// A binding's identity for finding names bound twice: the variable, the
/// descriptor number, or standard input.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Var(String),
    Fd(i64),
    FdText(String),
    Stdin,
}

fn slot(binding: &RawBinding) -> Slot {
    match &binding.kind {
        RawKind::File(var) => Slot::Var(var.clone()),
        RawKind::Fd(text) => text.trim().parse().map(Slot::Fd).unwrap_or_else(|_| Slot::FdText(text.clone())),
        RawKind::Stdin => Slot::Stdin,
    }
}

/// Puts the file's bindings before the flags' ones. A flag binding for a
/// variable, descriptor or standard input that the file already binds is
/// reported with both places, and left out so that the plan does not report
/// it a second time.
pub fn merge(file: Vec<RawBinding>, flags: Vec<RawBinding>) -> (Vec<RawBinding>, Vec<Problem>) {
    let in_file: BTreeMap<Slot, String> = file.iter().map(|binding| (slot(binding), binding.origin.clone())).collect();
    let mut merged = file;
    let mut problems = Vec::new();
    for binding in flags {
        let Some(origin) = in_file.get(&slot(&binding)) else {
            merged.push(binding);
            continue;
        };
        let what = match slot(&binding) {
            Slot::Var(var) => format!("variable {var}"),
            Slot::Fd(fd) => format!("descriptor {fd}"),
            Slot::FdText(text) => format!("descriptor {text}"),
            Slot::Stdin => "standard input".to_owned(),
        };
        problems.push(
            Problem::new(binding.subject(), format!("{what} is bound twice: also at {origin}"))
                .with_hint("bind each name once, on the command line or in the config file"),
        );
    }
    (merged, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        parse(text, "app.toml").unwrap_err().problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn parse_full_file_in_order() {
        let text = "carrier = \"pipe\"\ntimeout = \"10s\"\nregion = \"eu-west-1\"\n\n[fds]\n3 = \"ops/key\"\nstdin = \"reg/token\"\n\n[files]\nB = \"b#k\"\nA = \"file:/a\"\n";
        let config = parse(text, "app.toml").unwrap();
        assert_eq!(config.carrier, Some(Carrier::Pipe));
        assert_eq!(config.timeout, Some(Duration::from_secs(10)));
        assert_eq!(config.region.as_deref(), Some("eu-west-1"));
        let subjects: Vec<String> = config.bindings.iter().map(RawBinding::subject).collect();
        assert_eq!(
            subjects,
            [
                "app.toml line 6 3=ops/key",
                "app.toml line 7 reg/token",
                "app.toml line 10 B=b#k",
                "app.toml line 11 A=file:/a",
            ]
        );
        assert_eq!(config.bindings[1].kind, RawKind::Stdin);
    }

    #[test]
    fn parse_empty_file() {
        let config = parse("", "app.toml").unwrap();
        assert_eq!(config, Config { carrier: None, timeout: None, region: None, bindings: Vec::new() });
    }

    #[test]
    fn unknown_key_names_line() {
        let found = problems("region = \"x\"\n\ncarier = \"pipe\"\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("app.toml line 3: "), "{found:?}");
        assert!(found[0].contains("carier"), "{found:?}");
    }

    #[test]
    fn unknown_key_in_table_names_line() {
        let found = problems("[files]\nA = \"x\"\n[secrets]\nB = \"y\"\n");
        assert!(found[0].starts_with("app.toml line 3: "), "{found:?}");
    }

    #[test]
    fn bad_values_name_line() {
        assert!(problems("carrier = \"tmpfile\"\n")[0].starts_with("app.toml line 1: "));
        let found = problems("\ntimeout = \"10\"\n");
        assert!(found[0].starts_with("app.toml line 2: invalid duration '10'"), "{found:?}");
        assert!(problems("[files]\nA = 3\n")[0].starts_with("app.toml line 2: "));
        assert!(problems("region = \"  \"\n")[0].starts_with("app.toml line 1: region is empty"));
    }

    #[test]
    fn key_twice_in_file_names_line() {
        let found = problems("[files]\nA = \"x\"\nA = \"y\"\n");
        assert!(found[0].starts_with("app.toml line 3: "), "{found:?}");
    }

    #[test]
    fn syntax_error_is_one_line() {
        let found = problems("[files\nA = \"x\"\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("app.toml line 1: "), "{found:?}");
        assert!(!found[0].contains('\n'));
    }

    #[test]
    fn merge_reports_names_bound_in_file_and_flag() {
        let file = parse("[files]\nA = \"x\"\n[fds]\n3 = \"y\"\nstdin = \"z\"\n", "app.toml").unwrap().bindings;
        let flags = vec![
            RawBinding::from_flag("file", "A=other").unwrap(),
            RawBinding::from_flag("fd", "03=other").unwrap(),
            RawBinding { kind: RawKind::Stdin, reference: "other".into(), origin: "--stdin".into() },
            RawBinding::from_flag("file", "B=new").unwrap(),
        ];
        let (merged, problems) = merge(file, flags);
        assert_eq!(merged.len(), 4);
        assert_eq!(merged[3].subject(), "--file B=new");
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 3);
        assert!(problems[0].starts_with("--file A=other: variable A is bound twice: also at app.toml line 2"));
        assert!(problems[1].contains("descriptor 3 is bound twice: also at app.toml line 4"), "{problems:?}");
        assert!(problems[2].contains("standard input is bound twice: also at app.toml line 5"), "{problems:?}");
    }
}
