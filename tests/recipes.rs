//! The recipes of `docs/recipes.md`, run as written against moto.
//!
//! A fenced block runs when the line above its opening fence is
//! `<!-- recipe-test: sh -->` (run with bash) or
//! `<!-- recipe-test: crontab -->` (each job's command run with `/bin/sh`, as
//! cron would). The blocks run in document order, because later recipes use
//! the secrets that earlier ones store, in one empty directory that is also
//! `$HOME`, with the test build of secretfd first on `PATH`.
//!
//! Recipes that need Docker, ECS or systemd cannot run here. They are left
//! unmarked, and `unmarked_shell_blocks_need_docker` checks that nothing else
//! is, so that a new recipe cannot go untested by accident.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{Finished, Moto, isolated_command, run_with_timeout, unique_name};

const LIMIT: Duration = Duration::from_secs(120);

/// One fenced block of the recipes page.
struct Block {
    /// The marker's kind (`sh` or `crontab`), or `None` for an unmarked block.
    tested: Option<String>,
    /// The fence's info string, such as `sh` or `json`.
    language: String,
    text: String,
    /// 1-based line number of the opening fence, for messages.
    line: usize,
}

fn recipes_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/recipes.md")
}

/// Splits the page into its fenced blocks with their markers.
fn blocks() -> Vec<Block> {
    let page = fs::read_to_string(recipes_path()).unwrap();
    let lines: Vec<&str> = page.lines().collect();
    let mut blocks = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let Some(language) = lines[index].strip_prefix("```") else {
            index += 1;
            continue;
        };
        let tested = index
            .checked_sub(1)
            .and_then(|above| lines[above].strip_prefix("<!-- recipe-test: "))
            .and_then(|rest| rest.strip_suffix(" -->"))
            .map(str::to_owned);
        let start = index + 1;
        let end = (start..lines.len())
            .find(|&i| lines[i].trim_end() == "```")
            .unwrap_or_else(|| panic!("docs/recipes.md:{}: the block is not closed", index + 1));
        blocks.push(Block {
            tested,
            language: language.trim().to_owned(),
            text: lines[start..end].join("\n") + "\n",
            line: index + 1,
        });
        index = end + 1;
    }
    blocks
}

/// Returns the directory of the test build of secretfd.
fn binary_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_secretfd")).parent().unwrap().to_owned()
}

/// Runs a recipe block with bash, failing on the first failed command.
fn run_sh(block: &Block, home: &Path, endpoint: &str) -> Finished {
    let mut shell = isolated_command("bash", endpoint);
    shell.env("HOME", home).env("PATH", format!("{}:/usr/bin:/bin", binary_dir().display())).current_dir(home).args([
        "-euo",
        "pipefail",
        "-c",
        &block.text,
    ]);
    run_with_timeout(&mut shell, LIMIT)
}

/// Runs every job of a crontab block as cron would: `/bin/sh -c COMMAND` in
/// `$HOME`, with the crontab's variables. Two things differ, both for the
/// test environment: the test build of secretfd goes first on `PATH`, and the
/// network-safety settings (fake credentials, region, loopback endpoint)
/// replace any `AWS_*` variable of the crontab.
fn run_crontab(block: &Block, home: &Path, endpoint: &str) -> Vec<Finished> {
    let mut variables = Vec::new();
    let mut results = Vec::new();
    for line in block.text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')) {
        let fields: Vec<&str> = line.splitn(6, ' ').collect();
        if fields.len() < 6 || !line.starts_with(|c: char| c.is_ascii_digit() || c == '*' || c == '@') {
            let (name, value) = line.split_once('=').unwrap_or_else(|| panic!("not a crontab line: {line}"));
            variables.push((name.trim().to_owned(), value.trim().to_owned()));
            continue;
        }
        let command = fields[5];

        let mut shell = isolated_command("/bin/sh", endpoint);
        shell.env("HOME", home).env("SHELL", "/bin/sh").current_dir(home);
        for (name, value) in &variables {
            if !name.starts_with("AWS_") {
                shell.env(name, value);
            }
        }
        let path = variables.iter().rev().find(|(name, _)| name == "PATH").map_or("/usr/bin:/bin", |(_, v)| v);
        shell.env("PATH", format!("{}:{path}", binary_dir().display()));
        shell.args(["-c", command]);
        results.push(run_with_timeout(&mut shell, LIMIT));
    }
    results
}

fn assert_succeeded(block: &Block, finished: &Finished) {
    assert_eq!(
        finished.code(),
        Some(0),
        "docs/recipes.md:{} failed\n--- block ---\n{}--- stdout ---\n{}--- stderr ---\n{}",
        block.line,
        block.text,
        finished.stdout_text(),
        finished.stderr_text()
    );
}

#[test]
fn tested_recipes_run_as_written() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let home = std::env::temp_dir().join(unique_name("secretfd-recipes"));
    fs::create_dir_all(&home).unwrap();

    let blocks = blocks();
    let mut stdout = String::new();
    let mut ran = 0;
    for block in &blocks {
        match block.tested.as_deref() {
            None => continue,
            Some("sh") => {
                let finished = run_sh(block, &home, &endpoint);
                assert_succeeded(block, &finished);
                stdout.push_str(&finished.stdout_text());
            }
            Some("crontab") => {
                let jobs = run_crontab(block, &home, &endpoint);
                assert!(!jobs.is_empty(), "docs/recipes.md:{}: no job in the crontab", block.line);
                for finished in &jobs {
                    assert_succeeded(block, finished);
                }
            }
            Some(other) => panic!("docs/recipes.md:{}: unknown recipe-test kind {other:?}", block.line),
        }
        ran += 1;
    }
    assert!(ran >= 8, "only {ran} recipes ran; are the markers intact?");

    // What the recipes promise in their comments and text.
    assert!(stdout.lines().any(|line| line.trim() == "40"), "`wc -c` did not print 40: {stdout}");
    assert!(stdout.contains("app started with a 40-character password from /dev/fd/3"), "{stdout}");
    assert!(stdout.contains("important"), "the backup did not decrypt: {stdout}");
    let log = fs::read_to_string(home.join("backup.log")).unwrap();
    assert!(log.is_empty(), "the cron job wrote to its log: {log}");

    // The rollback made the first password current again: the version that
    // has no staging label left has the same value as AWSCURRENT.
    let secret_id = serde_json::json!({ "SecretId": "app/db-password" });
    let current = moto.call("GetSecretValue", &secret_id).1["SecretString"].as_str().unwrap().to_owned();
    assert_eq!(current.len(), 40);
    assert!(!current.contains(['/', '\'', '"', '@']), "{current}");
    let listing = serde_json::json!({ "SecretId": "app/db-password", "IncludeDeprecated": true });
    let versions = moto.call("ListSecretVersionIds", &listing).1;
    let versions = versions["Versions"].as_array().unwrap().clone();
    assert_eq!(versions.len(), 3, "{versions:?}");
    let first = versions
        .iter()
        .find(|version| version["VersionStages"].as_array().is_none_or(|stages| stages.is_empty()))
        .unwrap_or_else(|| panic!("no version without a staging label: {versions:?}"));
    let by_id = serde_json::json!({ "SecretId": "app/db-password", "VersionId": first["VersionId"] });
    assert_eq!(moto.call("GetSecretValue", &by_id).1["SecretString"], current.as_str());

    fs::remove_dir_all(&home).unwrap();
}

#[test]
fn unmarked_shell_blocks_need_docker() {
    let untested: Vec<Block> = blocks().into_iter().filter(|block| block.tested.is_none()).collect();
    for block in untested.iter().filter(|block| block.language == "sh") {
        assert!(
            block.text.contains("docker "),
            "docs/recipes.md:{}: a shell recipe without Docker must be marked <!-- recipe-test: sh -->",
            block.line
        );
    }
    let languages: Vec<&str> = untested.iter().map(|block| block.language.as_str()).collect();
    assert!(languages.contains(&"dockerfile"), "{languages:?}");
    assert!(languages.contains(&"ini"), "{languages:?}");
}

#[test]
fn json_documents_parse() {
    let documents: Vec<Block> = blocks().into_iter().filter(|block| block.language == "json").collect();
    assert_eq!(documents.len(), 2, "expected the ECS task definition and the IAM policy");
    for block in &documents {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(&block.text);
        assert!(parsed.is_ok(), "docs/recipes.md:{}: {:?}", block.line, parsed.err());
    }
    let task: serde_json::Value = serde_json::from_str(&documents[0].text).unwrap();
    let entry_point = &task["containerDefinitions"][0]["entryPoint"];
    assert_eq!(entry_point[0], "secretfd");
    assert_eq!(entry_point.as_array().unwrap().last().unwrap(), "--");
    let policy: serde_json::Value = serde_json::from_str(&documents[1].text).unwrap();
    let actions: Vec<&str> =
        policy["Statement"].as_array().unwrap().iter().filter_map(|s| s["Action"].as_str()).collect();
    assert_eq!(actions, ["secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue"]);
}

#[test]
fn ecs_reference_in_doc_parses() {
    // The ARN in the task definition is a valid reference: `run --dry-run`
    // rejects a malformed one before any network call, with exit 125 and an
    // "invalid reference" message, and otherwise fails only on the fetch.
    let documents: Vec<Block> = blocks().into_iter().filter(|block| block.language == "json").collect();
    let task: serde_json::Value = serde_json::from_str(&documents[0].text).unwrap();
    let binding = task["containerDefinitions"][0]["entryPoint"][3].as_str().unwrap().to_owned();
    let mut command = support::secretfd_offline();
    command.args(["--timeout", "2s", "run", "--dry-run", "--file", &binding, "--", "true"]);
    let finished = run_with_timeout(&mut command, LIMIT);
    let stderr = finished.stderr_text();
    assert_eq!(finished.code(), Some(125), "{stderr}");
    assert!(!stderr.contains("invalid reference"), "{stderr}");
}
