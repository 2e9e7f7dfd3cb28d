//! The committed man pages in `man/`: current with the command-line
//! definition, complete, and free of formatter warnings.
//!
//! When the first test fails after a help text change, run
//! `cargo run --example gen-man` and commit `man/`.

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::CommandFactory;
use secretfd::cli::Cli;
use secretfd::error::{EXIT_LAUNCHER_FAILED, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND};
use secretfd::man::{Page, pages};
use support::{CLOSED_ENDPOINT, isolated_command, run_with_timeout};

/// Bound on one `man` run; rendering a page takes well under a second.
const MAN_TIMEOUT: Duration = Duration::from_secs(30);

/// Sections every page has, and the ones `secretfd.1` adds.
const COMMON_SECTIONS: &[&str] = &["NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "SEE ALSO"];
const TOP_SECTIONS: &[&str] = &["REFERENCES", "FILE DESCRIPTORS", "SIGNALS", "ENVIRONMENT", "SECURITY", "EXAMPLES"];

fn man_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("man")
}

fn generated() -> Vec<Page> {
    pages().expect("generating the man pages failed")
}

fn committed(page: &Page) -> String {
    let path = man_dir().join(&page.file_name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}; run `cargo run --example gen-man`", path.display()))
}

/// Returns whether `roff` has a `.SH` line for `title`, quoted or not.
fn has_section(roff: &str, title: &str) -> bool {
    roff.lines().any(|line| line == format!(".SH {title}") || line == format!(".SH \"{title}\""))
}

#[test]
fn committed_pages_match_generator() {
    for page in generated() {
        assert!(
            committed(&page) == page.roff,
            "man/{} differs from the command-line definition; run `cargo run --example gen-man`",
            page.file_name
        );
    }
}

#[test]
fn man_dir_has_no_stale_pages() {
    let expected: HashSet<String> = generated().into_iter().map(|page| page.file_name).collect();
    for entry in std::fs::read_dir(man_dir()).expect("man/ is missing") {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            expected.contains(&name),
            "man/{name} belongs to no command; run `cargo run --example gen-man` to remove it"
        );
    }
}

#[test]
fn every_long_option_in_its_page() {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut commands = vec![&command];
    commands.extend(command.get_subcommands());

    let pages = generated();
    assert_eq!(pages.len(), commands.len(), "one page per command and one for secretfd");
    for command in commands {
        let name = command.get_display_name().unwrap_or_else(|| command.get_name());
        let page = pages.iter().find(|page| page.file_name == format!("{name}.1")).expect("page for the command");
        let text = committed(page);
        for argument in command.get_arguments() {
            let Some(long) = argument.get_long() else { continue };
            // Pages escape every hyphen, so --dry-run reads \-\-dry\-run in the source.
            let escaped = format!("\\-\\-{}", long.replace('-', "\\-"));
            assert!(text.contains(&escaped), "man/{} lacks --{long}", page.file_name);
        }
    }
}

#[test]
fn pages_have_hand_written_sections() {
    let pages = generated();
    for page in &pages {
        let text = committed(page);
        for title in COMMON_SECTIONS {
            assert!(has_section(&text, title), "man/{} lacks the {title} section", page.file_name);
        }
    }
    for file_name in ["secretfd.1", "secretfd-run.1"] {
        let page = pages.iter().find(|page| page.file_name == file_name).unwrap();
        let text = committed(page);
        for title in TOP_SECTIONS {
            assert!(has_section(&text, title), "man/{file_name} lacks the {title} section");
        }
    }
}

#[test]
fn exit_status_quotes_exit_codes() {
    let pages = generated();
    let run = pages.iter().find(|page| page.file_name == "secretfd-run.1").unwrap();
    let text = committed(run);
    for code in [EXIT_LAUNCHER_FAILED, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND] {
        assert!(text.contains(&format!("\\fB{code}\\fR")), "secretfd-run.1 lacks exit status {code}");
    }
}

#[test]
fn man_renders_without_warnings() {
    let probe = isolated_command("man", CLOSED_ENDPOINT).arg("--version").output();
    assert!(
        probe.is_ok_and(|output| output.status.success()),
        "cannot run `man --version`; install man-db (apt-get install man-db)"
    );

    for page in generated() {
        let path = man_dir().join(&page.file_name);
        let mut man = isolated_command("man", CLOSED_ENDPOINT);
        man.env("MANWIDTH", "80").env("LANG", "C.UTF-8").arg("--warnings").arg("-l").arg(&path);
        let finished = run_with_timeout(&mut man, MAN_TIMEOUT);

        assert!(!finished.timed_out, "man -l {} did not finish", path.display());
        assert_eq!(finished.code(), Some(0), "man -l {} failed: {}", path.display(), finished.stderr_text());
        assert_eq!(finished.stderr_text(), "", "man --warnings -l {} printed warnings", path.display());
        let text = finished.stdout_text();
        assert!(text.contains("SYNOPSIS"), "man -l {} rendered no page:\n{text}", path.display());
        let too_wide: Vec<&str> = text.lines().filter(|line| line.chars().count() > 80).collect();
        assert!(too_wide.is_empty(), "{} has lines wider than 80 columns: {too_wide:#?}", page.file_name);
    }
}
