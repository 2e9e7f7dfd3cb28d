//! `secretfd completions`: the generated scripts, driven in a real shell.
//!
//! The bash test sources the script and calls the registered completion
//! function the way bash's programmable completion does, with COMP_WORDS
//! and COMP_CWORD set and the command name, the current word and the
//! previous word as arguments.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{CLOSED_ENDPOINT, Finished, isolated_command, run_with_timeout, secretfd_offline, temp_dir};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Sources the script at $1, finds the function registered for `secretfd`,
/// sets the completion variables for the words after $1, and prints each
/// candidate on its own line.
const DRIVER: &str = r#"
set -u
source "$1"
shift
spec=$(complete -p secretfd) || { echo "no completion registered for secretfd" >&2; exit 3; }
function=$(sed -n 's/.*-F \([^ ]*\).*/\1/p' <<<"$spec")
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
previous=""
if ((COMP_CWORD > 0)); then previous=${COMP_WORDS[COMP_CWORD - 1]}; fi
COMPREPLY=()
"$function" secretfd "${COMP_WORDS[COMP_CWORD]}" "$previous"
printf '%s\n' "${COMPREPLY[@]}"
"#;

/// Writes `secretfd completions bash` into a file of its own and returns its path.
fn bash_script(dir: &Path) -> PathBuf {
    let finished = run_with_timeout(secretfd_offline().args(["completions", "bash"]), TIMEOUT);
    assert_eq!(finished.code(), Some(0), "completions bash failed: {}", finished.stderr_text());
    assert_eq!(finished.stderr_text(), "");
    let path = dir.join("secretfd.bash");
    std::fs::write(&path, &finished.output.stdout).unwrap();
    path
}

/// Returns the candidates bash offers for the last of `words`.
fn complete(script: &Path, words: &[&str]) -> Vec<String> {
    let mut bash = isolated_command("bash", CLOSED_ENDPOINT);
    bash.args(["--norc", "--noprofile", "-c", DRIVER, "bash"]).arg(script).args(words);
    let finished: Finished = run_with_timeout(&mut bash, TIMEOUT);
    assert_eq!(finished.code(), Some(0), "bash completion failed: {}", finished.stderr_text());
    finished.stdout_text().lines().filter(|line| !line.is_empty()).map(str::to_owned).collect()
}

#[test]
fn bash_completes_ru_to_run() {
    let dir = temp_dir("ru");
    let script = bash_script(&dir);
    assert_eq!(complete(&script, &["secretfd", "ru"]), ["run"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bash_completes_command_names() {
    let dir = temp_dir("commands");
    let script = bash_script(&dir);
    let candidates = complete(&script, &["secretfd", ""]);
    for command in ["run", "get", "password", "create", "put", "describe", "completions"] {
        assert!(candidates.iter().any(|c| c == command), "{command} not offered: {candidates:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bash_completes_run_options() {
    let dir = temp_dir("options");
    let script = bash_script(&dir);
    assert_eq!(complete(&script, &["secretfd", "run", "--dr"]), ["--dry-run"]);
    assert_eq!(complete(&script, &["secretfd", "run", "--carrier", "p"]), ["pipe"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn completions_for_each_shell_succeed() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let finished = run_with_timeout(secretfd_offline().args(["completions", shell]), TIMEOUT);
        assert_eq!(finished.code(), Some(0), "completions {shell} failed: {}", finished.stderr_text());
        assert!(finished.stdout_text().contains("describe"), "completions {shell} lacks the describe command");
    }
}

#[test]
fn completions_rejects_unknown_shell() {
    let finished = run_with_timeout(secretfd_offline().args(["completions", "tcsh"]), TIMEOUT);
    assert_eq!(finished.code(), Some(2));
    assert!(finished.stderr_text().contains("tcsh"), "{}", finished.stderr_text());
    assert!(finished.stdout_text().is_empty());
}
