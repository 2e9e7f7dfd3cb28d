//! Errors, their one-line messages, and the exit codes they map to.
//!
//! Every failure becomes one `Problem` line on stderr: `secretfd: `, the
//! subject (a binding, a reference, a file), what went wrong, and the fix.
//! Untrusted text in those lines (AWS messages, names, paths) is stripped of
//! control characters before printing, so a hostile message cannot move the
//! cursor or recolour the terminal. No message ever carries a secret value or
//! its length.

#![forbid(unsafe_code)]

use std::fmt;
use std::io::Write;

/// Exit status of `run` when secretfd itself failed and no child started.
pub const EXIT_LAUNCHER_FAILED: i32 = 125;
/// Exit status of `run` when the command exists but cannot be executed.
pub const EXIT_NOT_EXECUTABLE: i32 = 126;
/// Exit status of `run` when the command is not found.
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit status of the other commands on failure.
pub const EXIT_FAILURE: i32 = 1;
/// Exit status of the other commands on a usage error.
pub const EXIT_USAGE: i32 = 2;

/// One reportable failure: what it concerns, what went wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The binding, reference, option or path concerned.
    pub subject: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(subject: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { subject: subject.into(), message: message.into(), hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.subject.is_empty() {
            write!(f, "{}: ", sanitize(shorten(&self.subject, MAX_SUBJECT_CHARS).as_ref()))?;
        }
        write!(f, "{}", sanitize(shorten(&self.message, MAX_MESSAGE_CHARS).as_ref()))?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {})", sanitize(hint))?;
        }
        Ok(())
    }
}

/// What kind of failure ended a command; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad flags, arguments, references or configuration.
    Usage,
    /// A fetch, read, store or delivery failed.
    Failed,
    /// The command to run was not found (exit 127).
    NotFound,
    /// The command to run could not be executed (exit 126).
    NotExecutable,
}

/// A command's failure: one or more problems of one kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct Error {
    pub kind: Kind,
    pub problems: Vec<Problem>,
}

impl Error {
    pub fn usage(problem: Problem) -> Error {
        Error { kind: Kind::Usage, problems: vec![problem] }
    }

    pub fn failed(problem: Problem) -> Error {
        Error { kind: Kind::Failed, problems: vec![problem] }
    }

    pub fn many(kind: Kind, problems: Vec<Problem>) -> Error {
        Error { kind, problems }
    }

    /// Exit status of `run`, where every failure of secretfd itself is 125 so
    /// that it cannot be confused with the child's own status.
    pub fn run_exit_code(&self) -> i32 {
        match self.kind {
            Kind::NotFound => EXIT_NOT_FOUND,
            Kind::NotExecutable => EXIT_NOT_EXECUTABLE,
            Kind::Usage | Kind::Failed => EXIT_LAUNCHER_FAILED,
        }
    }

    /// Exit status of the other commands.
    pub fn command_exit_code(&self) -> i32 {
        match self.kind {
            Kind::Usage => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }

    /// Writes one line per problem to stderr. This is the only print path for errors.
    pub fn report(&self) {
        let mut stderr = std::io::stderr().lock();
        for problem in &self.problems {
            // Nothing useful can be done when stderr itself is gone.
            let _ = writeln!(stderr, "secretfd: {problem}");
        }
    }
}

/// Maximum length of a printed subject, in characters. A subject repeats user input (a
/// binding, a reference, a path), which may be far longer than any valid one.
const MAX_SUBJECT_CHARS: usize = 200;
/// Maximum length of a printed message, in characters, because messages may quote an endpoint's reply.
const MAX_MESSAGE_CHARS: usize = 2000;

/// Cuts `text` to `max` characters, saying how long it was, so that one
/// oversized input cannot flood the terminal or a log.
fn shorten(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(text),
        Some((end, _)) => std::borrow::Cow::Owned(format!("{}... ({} bytes in all)", &text[..end], text.len())),
    }
}

/// Prints a warning line to stderr: something works, but probably not as
/// the user meant.
pub fn warn(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "secretfd: warning: {}", sanitize(message));
}

/// Replaces control characters (terminal escapes, newlines, carriage
/// returns) with their escaped form, so one problem stays one line and
/// untrusted text cannot drive the terminal.
pub fn sanitize(text: &str) -> String {
    let mut clean = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            clean.extend(c.escape_default());
        } else {
            clean.push(c);
        }
    }
    clean
}

/// Escapes the C1 control characters (U+0080 to U+009F, such as the 8-bit
/// CSI U+009B) in serialized JSON, which serde_json writes raw; it already
/// escapes U+0000 to U+001F. They can only occur inside JSON strings, where
/// a `\u` escape keeps the document valid and equal.
pub fn escape_json_controls(json: &str) -> String {
    let mut clean = String::with_capacity(json.len());
    for c in json.chars() {
        if ('\u{80}'..='\u{9f}').contains(&c) {
            clean.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            clean.push(c);
        }
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_control_characters() {
        assert_eq!(sanitize("a\u{1b}[31mred\nnext\r\u{7}"), "a\\u{1b}[31mred\\nnext\\r\\u{7}");
        assert_eq!(sanitize("prod/db#päss"), "prod/db#päss");
    }

    #[test]
    fn problem_is_one_line() {
        let problem = Problem::new("--file DB=prod/db", "not found\nsecond line").with_hint("check it");
        let text = problem.to_string();
        assert_eq!(text, "--file DB=prod/db: not found\\nsecond line (hint: check it)");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn escape_json_controls_keeps_json_equal() {
        let value = serde_json::json!({ "k\u{9b}": "a\u{9b}31m\u{1b}b\u{85}é" });
        let escaped = escape_json_controls(&value.to_string());
        assert_eq!(escaped, r#"{"k\u009b":"a\u009b31m\u001bb\u0085é"}"#);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&escaped).unwrap(), value);
    }

    #[test]
    fn problem_shortens_oversized_subject() {
        let subject = format!("--fd 3={}", "a".repeat(100_000));
        let text = Problem::new(&subject, "the reference is too long").to_string();
        assert!(text.len() < 300, "{} bytes", text.len());
        assert!(text.starts_with("--fd 3=aaa"));
        assert!(text.ends_with("... (100007 bytes in all): the reference is too long"), "{text}");
        assert_eq!(shorten("prod/db", 7), "prod/db");
    }

    #[test]
    fn exit_codes_by_kind() {
        let problem = Problem::new("x", "y");
        assert_eq!(Error::usage(problem.clone()).run_exit_code(), 125);
        assert_eq!(Error::failed(problem.clone()).run_exit_code(), 125);
        assert_eq!(Error::many(Kind::NotFound, vec![problem.clone()]).run_exit_code(), 127);
        assert_eq!(Error::many(Kind::NotExecutable, vec![problem.clone()]).run_exit_code(), 126);
        assert_eq!(Error::usage(problem.clone()).command_exit_code(), 2);
        assert_eq!(Error::failed(problem).command_exit_code(), 1);
    }
}
