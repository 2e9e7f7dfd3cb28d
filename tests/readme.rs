//! The README's commands, run as written.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{CLOSED_ENDPOINT, isolated_command, run_with_timeout};

/// Returns the README line that starts with `prefix`.
fn readme_line(prefix: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    readme
        .lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("README has no line starting with {prefix:?}"))
        .to_owned()
}

#[test]
fn readme_first_command_works() {
    let command_line = readme_line("printf 'hunter2' > /tmp/demo_password");
    let binary_dir = Path::new(env!("CARGO_BIN_EXE_secretfd")).parent().unwrap();
    let mut shell = isolated_command("bash", CLOSED_ENDPOINT);
    shell.env("PATH", format!("{}:/usr/bin:/bin", binary_dir.display())).args(["-c", &command_line]);
    let finished = run_with_timeout(&mut shell, Duration::from_secs(30));
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.stdout_text(), "DB_PASSWORD_FILE=/dev/fd/3 holds: hunter2\n");
}
