//! Man pages: `secretfd(1)` and one `secretfd-COMMAND(1)` page per command.
//!
//! NAME, SYNOPSIS, DESCRIPTION and the option lists come from the clap
//! definition in `cli` through `clap_mangen`, so they cannot drift from
//! `--help`. The sections that clap cannot know (references, descriptors,
//! signals, exit status, environment, security, examples) are written here,
//! and the values they quote (exit codes, `SECRETFD_FDS`, size limits) come
//! from the constants the code itself uses.
//!
//! Hand-written text uses one inline mark: `` `literal` `` is set in bold,
//! for anything typed as shown. Everything else is escaped for roff, so a
//! `-` stays a plain ASCII hyphen-minus that can be copied into a shell.
//!
//! The output is deterministic: no date, and the package version in the
//! footer. `cargo run --example gen-man` rewrites `man/`, and a test fails
//! when the committed pages differ from [`pages`].

#![forbid(unsafe_code)]

use std::io;

use clap::CommandFactory;
use clap_mangen::Man;

use crate::cli::Cli;
use crate::error::{EXIT_FAILURE, EXIT_LAUNCHER_FAILED, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_USAGE};
use crate::plan::FDS_VAR;
use crate::source::local::MAX_FILE_SECRET;

/// Manual section of every page: user commands.
const SECTION: &str = "1";

/// Name of the manual shown in the page header.
const MANUAL: &str = "User Commands";

/// One generated page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// File name inside `man/`, such as `secretfd-run.1`.
    pub file_name: String,
    /// The page's roff source.
    pub roff: String,
}

/// Builds every page: `secretfd.1` first, then one page per command in
/// definition order.
pub fn pages() -> io::Result<Vec<Page>> {
    // The `help` subcommand exists only for `secretfd help CMD`; it gets no page.
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();

    let mut pages = vec![render_page(&command, &top_sections())?];
    for subcommand in command.get_subcommands().filter(|subcommand| !subcommand.is_hide_set()) {
        let sections = command_sections(subcommand);
        pages.push(render_page(subcommand, &sections)?);
    }
    Ok(pages)
}

/// Renders one page: clap's sections, then the hand-written ones.
fn render_page(command: &clap::Command, sections: &[Section]) -> io::Result<Page> {
    let name = command.get_display_name().unwrap_or_else(|| command.get_name()).to_owned();
    let version = command.get_version().unwrap_or_default();
    let man = Man::new(command.clone())
        .title(name.to_uppercase())
        .section(SECTION)
        .source(format!("secretfd {version}"))
        .manual(MANUAL);

    let mut out = Vec::new();
    man.render_title(&mut out)?;
    // No hyphenation and a ragged right margin, so that option names, paths
    // and variable names are never split and can be copied as printed.
    out.extend_from_slice(b".nh\n.ad l\n");
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if command.get_arguments().any(|argument| !argument.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if command.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    let mut roff = String::from_utf8(out).map_err(io::Error::other)?;

    for section in sections {
        section.render(&mut roff);
    }
    Ok(Page { file_name: format!("{name}.{SECTION}"), roff })
}

/// A hand-written section.
struct Section {
    title: &'static str,
    blocks: Vec<Block>,
}

/// A piece of a hand-written section.
enum Block {
    /// A filled paragraph.
    Paragraph(String),
    /// A tagged paragraph: a bold term, then its indented description.
    Item(String, String),
    /// Lines shown exactly as typed, indented and not filled.
    Example(Vec<String>),
}

fn paragraph(text: impl Into<String>) -> Block {
    Block::Paragraph(text.into())
}

fn item(term: impl Into<String>, text: impl Into<String>) -> Block {
    Block::Item(term.into(), text.into())
}

fn example(lines: &[&str]) -> Block {
    Block::Example(lines.iter().map(|line| (*line).to_owned()).collect())
}

impl Section {
    fn render(&self, roff: &mut String) {
        roff.push_str(&format!(".SH \"{}\"\n", self.title));
        for block in &self.blocks {
            match block {
                Block::Paragraph(text) => {
                    roff.push_str(".PP\n");
                    push_line(roff, &inline(text));
                }
                Block::Item(term, text) => {
                    roff.push_str(".TP\n");
                    push_line(roff, &format!("\\fB{}\\fR", escape(term)));
                    push_line(roff, &inline(text));
                }
                Block::Example(lines) => {
                    roff.push_str(".PP\n.RS 4\n.nf\n");
                    for line in lines {
                        push_line(roff, &escape(line));
                    }
                    roff.push_str(".fi\n.RE\n");
                }
            }
        }
    }
}

/// Appends one input line. A line that starts with `.` or `'` would be read
/// as a request, so it gets the zero-width `\&` in front.
fn push_line(roff: &mut String, line: &str) {
    if line.starts_with(['.', '\'']) {
        roff.push_str("\\&");
    }
    roff.push_str(line);
    roff.push('\n');
}

/// Escapes text for roff: backslashes print as themselves and `-` as the
/// ASCII minus that shells expect.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\e"),
            '-' => escaped.push_str("\\-"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// Escapes text and sets every `` `literal` `` in bold.
fn inline(text: &str) -> String {
    let mut rendered = String::with_capacity(text.len());
    for (index, part) in text.split('`').enumerate() {
        if index % 2 == 1 {
            rendered.push_str(&format!("\\fB{}\\fR", escape(part)));
        } else {
            rendered.push_str(&escape(part));
        }
    }
    rendered
}

/// Lists the sections of `secretfd(1)`: all of them, for a reader who starts there.
fn top_sections() -> Vec<Section> {
    vec![
        references(),
        file_descriptors(),
        config_file(),
        signals(),
        exit_status_all(),
        environment(),
        security(),
        scenario_examples(None),
        see_also(None),
    ]
}

/// Lists the hand-written sections of one command's page.
fn command_sections(command: &clap::Command) -> Vec<Section> {
    let name = command.get_name();
    let mut sections = Vec::new();
    match name {
        "run" => {
            sections.extend([references(), file_descriptors(), config_file(), signals(), exit_status_run()]);
            sections.push(environment());
            sections.push(security());
            sections.push(scenario_examples(command.get_after_help().map(ToString::to_string)));
        }
        "get" => {
            sections.extend([references(), exit_status_other(), environment(), security()]);
            sections.push(get_examples());
        }
        "describe" | "create" | "put" => {
            sections.extend([exit_status_other(), environment()]);
        }
        "completions" => {
            sections.extend([exit_status_other(), completions_examples()]);
        }
        _ => sections.push(exit_status_other()),
    }
    sections.push(see_also(Some(name)));
    sections
}

fn references() -> Section {
    Section {
        title: "REFERENCES",
        blocks: vec![
            paragraph(
                "A reference (REF) names where a secret comes from. Every binding of `secretfd run` and the \
                 argument of `secretfd get` accept the same forms. A secret name contains only letters, digits \
                 and `/_+=.@-`, so `#`, `?` and `:` always start another part of the reference.",
            ),
            item("prod/db, aws-sm:prod/db", "A Secrets Manager secret by name, current version."),
            item(
                "arn:aws:secretsmanager:REGION:ACCOUNT:secret:prod/db-AbCdEf",
                "A Secrets Manager secret by ARN. The ARN's region is used for this secret, whatever `--region` \
                 or the environment says.",
            ),
            item(
                "prod/db#password",
                "The top-level key `password` of a JSON object secret. Keys match exactly: no case folding, no \
                 `-` to `_`.",
            ),
            item(
                "prod/db#/db/primary/password",
                "A JSON Pointer (RFC 6901) into a JSON secret: a key part that starts with `/`.",
            ),
            item(
                "prod/db?version-stage=AWSPREVIOUS, prod/db?version-id=ID",
                "A specific version, by staging label or by version ID. With a key, both orders work: \
                 `prod/db?version-stage=AWSPREVIOUS#password` and `prod/db#password?version-stage=AWSPREVIOUS`.",
            ),
            item(
                "arn:...:secret:prod/db-AbCdEf:JSON_KEY:VERSION_STAGE:VERSION_ID",
                "The ECS task definition `valueFrom` form, accepted verbatim. An empty JSON_KEY selects the \
                 whole secret; empty VERSION_STAGE and VERSION_ID select the current version.",
            ),
            item(
                "file:PATH",
                format!(
                    "A local file, such as a Docker or Kubernetes secret mount, read whole. Everything after \
                     `file:` is the path, `#` and `?` included. Regular files, pipes and character devices are \
                     read; directories and files larger than {MAX_FILE_SECRET} bytes are rejected."
                ),
            ),
            item(
                "env:VAR",
                "The variable VAR of secretfd's own environment. `secretfd run` removes VAR from the \
                 command's environment, so the value reaches the command only on its descriptor.",
            ),
            paragraph(
                "Values arrive byte for byte as stored: no newline is added or stripped and nothing is \
                 re-encoded. A SecretBinary secret arrives as its raw bytes. A selected JSON string arrives as \
                 its content, a number or boolean as its JSON text, and an object or array as compact JSON. A \
                 missing key, a null value, or a key on a secret that is not a JSON object is an error that \
                 names the key.",
            ),
        ],
    }
}

fn file_descriptors() -> Section {
    Section {
        title: "FILE DESCRIPTORS",
        blocks: vec![
            paragraph(
                "Every binding puts one secret on one descriptor of the command. Bindings apply in the order \
                 given.",
            ),
            item(
                "--fd N=REF",
                "Descriptor N exactly. N must be 3 or more, below the open-files limit (`ulimit -n`), and \
                 outside the range passed on by `--preserve-fds`.",
            ),
            item(
                "--file VAR=REF",
                "The lowest free descriptor from 3 up (from 3+N with `--preserve-fds N`) that no `--fd` binding \
                 takes. The command's environment gets `VAR=/dev/fd/N`: a path, never the value. In the command \
                 after `--`, every `{{VAR}}` is replaced by the same path; any other `{{...}}` stays as typed.",
            ),
            item("--stdin REF", "Descriptor 0, the command's standard input."),
            paragraph(format!(
                "The command also gets `{FDS_VAR}`, a list of its secret descriptors as `LABEL=N` pairs joined \
                 by commas, in binding order. LABEL is VAR for `--file VAR`, `fd`N for `--fd N` and `stdin` for \
                 `--stdin`. For example, `--file DB=prod/db --fd 5=ops/key` gives `{FDS_VAR}=DB=3,fd5=5`. An \
                 inherited `{FDS_VAR}` is always removed."
            )),
            paragraph(
                "The command receives only standard input, output and error, its secret descriptors, and the \
                 descriptors kept by `--preserve-fds`. Every other descriptor of secretfd is closed on exec. \
                 The carrier decides how a secret descriptor reads:",
            ),
            item(
                "memfd (default)",
                "A sealed in-memory file, open read-only. Seals forbid writing, growing, shrinking and further \
                 seals, and the file never reaches disk. Each open of `/dev/fd/N` starts a new read at offset 0, \
                 so a program can read the value as often as it needs. Reads from descriptor N itself share one \
                 offset: after one read to the end, the next finds end of file unless the reader seeks back to 0.",
            ),
            item(
                "pipe (--carrier pipe)",
                "A pipe: the value can be read once, from descriptor N or through `/dev/fd/N`, and then only end \
                 of file remains. It cannot be seeked or re-read.",
            ),
        ],
    }
}

fn config_file() -> Section {
    Section {
        title: "CONFIG FILE",
        blocks: vec![
            paragraph(
                "`--config FILE`, or the file named by `SECRETFD_CONFIG` when the flag is absent, declares \
                 bindings and settings in TOML, so that an entrypoint needs no long flag list. Every key is \
                 optional:",
            ),
            example(&[
                "carrier = \"memfd\"        # or \"pipe\"; --carrier wins",
                "timeout = \"10s\"          # --timeout wins",
                "region = \"eu-west-1\"     # --region wins",
                "",
                "[files]                  # VAR = \"REF\", as --file VAR=REF",
                "DB_PASSWORD_FILE = \"prod/db#password\"",
                "",
                "[fds]                    # N = \"REF\", as --fd N=REF",
                "3 = \"ops/backup-key\"",
                "stdin = \"registry/token\" # as --stdin REF",
            ]),
            paragraph(
                "Bindings from the file come first, in file order, then those of the flags. A variable, a \
                 descriptor or standard input bound twice, an unknown key and an invalid value are errors that \
                 name the file and the line; secretfd then exits 125 before fetching anything.",
            ),
        ],
    }
}

fn signals() -> Section {
    Section {
        title: "SIGNALS",
        blocks: vec![
            paragraph(
                "While secrets are being fetched, SIGTERM, SIGINT, SIGHUP and SIGQUIT end secretfd at once with \
                 exit status 128+N (143 for SIGTERM, 130 for SIGINT) and no command is started. This holds as \
                 PID 1 too, where the kernel would otherwise ignore these signals.",
            ),
            paragraph(
                "By default secretfd then replaces itself with the command (execve), so the command keeps \
                 secretfd's PID, receives every signal directly, and its exit status is the one the caller sees.",
            ),
            paragraph(
                "With `--supervise`, and by default when secretfd is PID 1 (unless `--exec` is given), secretfd \
                 starts the command as its child and stays as its parent. It forwards SIGTERM, SIGINT, SIGHUP, \
                 SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH to the child, reaps every zombie, and exits with the \
                 child's status: its exit code, or 128+N when signal N killed it.",
            ),
            paragraph(
                "The command starts with an empty signal mask and the default action for every signal, \
                 whatever secretfd inherited.",
            ),
        ],
    }
}

fn exit_status_run_items() -> Vec<Block> {
    vec![
        item("the command's status", "The command ran: its own exit status (see SIGNALS)."),
        item(
            EXIT_LAUNCHER_FAILED.to_string(),
            "secretfd itself failed and started nothing: a usage error, an invalid reference or binding, a \
             failed fetch or a failed delivery. One line per problem is printed to stderr.",
        ),
        item(EXIT_NOT_EXECUTABLE.to_string(), "The command was found but cannot be executed."),
        item(EXIT_NOT_FOUND.to_string(), "The command was not found."),
        paragraph("`--help`, `--version` and a successful `--dry-run` exit 0."),
    ]
}

fn exit_status_other_items() -> Vec<Block> {
    vec![
        item("0", "Success."),
        item(
            EXIT_FAILURE.to_string(),
            "The command failed, such as a fetch or a store; the reason is printed to stderr.",
        ),
        item(EXIT_USAGE.to_string(), "Usage error: an unknown option, a missing or invalid argument."),
    ]
}

fn exit_status_run() -> Section {
    Section { title: "EXIT STATUS", blocks: exit_status_run_items() }
}

fn exit_status_other() -> Section {
    Section { title: "EXIT STATUS", blocks: exit_status_other_items() }
}

fn exit_status_all() -> Section {
    let mut blocks = vec![paragraph("`secretfd run`:")];
    blocks.extend(exit_status_run_items());
    blocks.push(paragraph("Every other command:"));
    blocks.extend(exit_status_other_items());
    Section { title: "EXIT STATUS", blocks }
}

fn environment() -> Section {
    Section {
        title: "ENVIRONMENT",
        blocks: vec![
            paragraph(
                "secretfd reads its AWS settings through the standard chain of the AWS SDK for Rust, so the \
                 variables, profiles and roles that work for the AWS CLI work here:",
            ),
            item(
                "AWS_REGION, AWS_DEFAULT_REGION",
                "Region for secrets not named by ARN, when `--region` is not given. Otherwise the profile's \
                 region, then instance metadata.",
            ),
            item("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN", "Static credentials."),
            item(
                "AWS_PROFILE, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE",
                "The profile to use, and the files it is read from (default `~/.aws/config` and \
                 `~/.aws/credentials`). SSO, `credential_process` and role profiles work.",
            ),
            item(
                "AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_ROLE_SESSION_NAME",
                "Web identity credentials, as on EKS with IAM roles for service accounts.",
            ),
            item(
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, AWS_CONTAINER_CREDENTIALS_FULL_URI, \
                 AWS_CONTAINER_AUTHORIZATION_TOKEN",
                "Container credentials: ECS task roles and EKS Pod Identity.",
            ),
            item(
                "AWS_EC2_METADATA_DISABLED",
                "`true` stops every request to the instance metadata service (EC2 role credentials and region).",
            ),
            item(
                "AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SECRETS_MANAGER",
                "Endpoint for every AWS service, or for Secrets Manager only, such as a VPC endpoint or a local \
                 test server.",
            ),
            item(
                "SSL_CERT_FILE, SSL_CERT_DIR",
                "Root certificates for HTTPS. When neither is set, the AWS SDK reads both the system bundle and \
                 every certificate file of the system directory, which took 3 to 6 ms of each launch on a \
                 2-core test machine. `SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt` (Debian and Ubuntu) \
                 reads the bundle alone. A certificate added to the directory without rebuilding the bundle \
                 (`update-ca-certificates`) is then not trusted.",
            ),
            paragraph(
                "Each AWS request is tried at most 3 times, with backoff and jitter, within `--timeout`; \
                 AWS_MAX_ATTEMPTS and AWS_RETRY_MODE are not used.",
            ),
            item("SECRETFD_CONFIG", "Path of the `secretfd run` configuration file when `--config` is not given."),
            item(
                "LOG_SENSITIVE_BODIES",
                "Removed at start-up and never honoured, so that the AWS SDK cannot log request and response \
                 bodies, which would contain secret values.",
            ),
            paragraph(format!(
                "`secretfd run` passes its environment on to the command, with these changes: each `--file VAR` \
                 binding sets `VAR=/dev/fd/N`, `{FDS_VAR}` lists the secret descriptors (see FILE DESCRIPTORS), \
                 and every variable read by an `env:VAR` reference is removed."
            )),
        ],
    }
}

fn security() -> Section {
    Section {
        title: "SECURITY",
        blocks: vec![
            paragraph("What secretfd protects:"),
            item(
                "command line and environment",
                "Values never appear in the command's argv or environment, where `ps`, `/proc/PID/cmdline`, \
                 `/proc/PID/environ`, `docker inspect`, crash reporters and every descendant could see them. \
                 Only a path such as `/dev/fd/3` does.",
            ),
            item(
                "disk",
                "The default carrier lives in memory and disappears when its last descriptor closes; no \
                 temporary file is written.",
            ),
            item(
                "secretfd's own memory",
                "Before it fetches, secretfd makes itself non-dumpable (PR_SET_DUMPABLE), so other processes of \
                 the same user cannot attach to it or read its memory, and it leaves no core dump. Values are \
                 kept in buffers that are wiped when freed, and secretfd's allocator also wipes memory that the \
                 AWS SDK, HTTP and TLS libraries free. After exec nothing of secretfd's memory remains.",
            ),
            item(
                "messages and logs",
                "Errors and `-v` logs name references, keys, descriptors and sizes, never values.",
            ),
            paragraph("What secretfd does not protect against:"),
            item("root", "Root can read any process's memory and descriptors."),
            item(
                "the same user",
                "While the command holds a secret descriptor, any process of the same user can open \
                 `/proc/PID/fd/N`. The non-dumpable setting covers secretfd only, not the command.",
            ),
            item(
                "the command itself",
                "What the command does with a value is up to it: it may log it, copy it to a file or put it \
                 in a child's environment. Its children inherit the secret descriptors unless it closes them.",
            ),
            item(
                "swap",
                "The command's memory, and the pages of a memfd, can be written to swap. Use encrypted swap or \
                 none.",
            ),
            item(
                "secretfd get",
                "`get` writes the value to standard output, so it ends up wherever stdout goes: a terminal's \
                 scrollback, a file, a pipe.",
            ),
        ],
    }
}

/// EXAMPLES of `secretfd(1)` and `secretfd-run(1)`; the run page first lists
/// the examples of `secretfd run --help`.
fn scenario_examples(run_help_examples: Option<String>) -> Section {
    let mut blocks = Vec::new();
    if let Some(text) = run_help_examples {
        blocks.push(paragraph("One example per binding form, as in `secretfd run --help`:"));
        // The heading line is not indented; each example line is, by two spaces.
        let lines: Vec<&str> = text.lines().filter_map(|line| line.strip_prefix("  ")).collect();
        blocks.push(example(&lines));
    }
    blocks.extend([
        paragraph(
            "As a command prefix. The server reads its password from the file named by DB_PASSWORD_FILE, the \
             `*_FILE` convention of many container images:",
        ),
        example(&["secretfd run --file DB_PASSWORD_FILE=prod/db#password -- ./server"]),
        paragraph(
            "As a container entrypoint. Started as PID 1, secretfd supervises the server: it forwards \
             signals, reaps zombies and exits with the server's status. With many secrets, list the bindings \
             in a TOML file given by `--config` or SECRETFD_CONFIG:",
        ),
        example(&[
            "ENTRYPOINT [\"secretfd\", \"run\", \\",
            "            \"--file\", \"DB_PASSWORD_FILE=prod/db#password\", \"--\"]",
            "CMD [\"./server\"]",
            "",
            "ENTRYPOINT [\"secretfd\", \"run\", \\",
            "            \"--config\", \"/etc/secretfd.toml\", \"--\"]",
        ]),
        paragraph(
            "As a cron wrapper. Cron's environment is minimal, so name the region in the crontab or with \
             `--region`. The script reads the key from descriptor 3, as in `gpg --passphrase-fd 3`:",
        ),
        example(&["AWS_REGION=eu-west-1", "*/5 * * * * secretfd run --fd 3=ops/backup-key -- backup.sh"]),
        paragraph(
            "With a Docker or Kubernetes secret mount. A mounted file is delivered like a Secrets Manager \
             secret, here as standard input:",
        ),
        example(&[
            "secretfd run --stdin file:/run/secrets/registry_token -- \\",
            "    docker login --username ci --password-stdin",
        ]),
        paragraph("Check every binding without starting anything; the plan shows sizes, never values:"),
        example(&["secretfd run --dry-run --file DB=prod/db#password -- ./server"]),
    ]);
    Section { title: "EXAMPLES", blocks }
}

fn get_examples() -> Section {
    Section {
        title: "EXAMPLES",
        blocks: vec![
            paragraph("Pipe a key into a program that reads it from standard input:"),
            example(&["secretfd get ops/signing-key | gpg --batch --import"]),
            paragraph("Read the previous version of one key of a JSON secret:"),
            example(&["secretfd get 'prod/db#password?version-stage=AWSPREVIOUS'"]),
        ],
    }
}

fn completions_examples() -> Section {
    Section {
        title: "EXAMPLES",
        blocks: vec![
            paragraph("Load completions into the current bash, or install them for every session:"),
            example(&[
                "source <(secretfd completions bash)",
                "secretfd completions bash \\",
                "    > /usr/share/bash-completion/completions/secretfd",
                "secretfd completions zsh > \"${fpath[1]}/_secretfd\"",
                "secretfd completions fish > ~/.config/fish/completions/secretfd.fish",
            ]),
        ],
    }
}

fn see_also(current: Option<&str>) -> Section {
    let command = Cli::command();
    let mut pages: Vec<String> = Vec::new();
    if current.is_some() {
        pages.push(format!("secretfd({SECTION})"));
    }
    for subcommand in command.get_subcommands() {
        let name = subcommand.get_name();
        if Some(name) != current && name != "help" {
            pages.push(format!("secretfd-{name}({SECTION})"));
        }
    }
    pages.push("memfd_create(2)".to_owned());
    pages.push("fcntl(2)".to_owned());
    Section { title: "SEE ALSO", blocks: vec![paragraph(pages.join(", "))] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_hyphens_and_backslashes_literal() {
        assert_eq!(escape(r"--fd 3 a\b"), r"\-\-fd 3 a\eb");
    }

    #[test]
    fn inline_sets_backticks_in_bold() {
        assert_eq!(inline("use `--fd N` here"), r"use \fB\-\-fd N\fR here");
    }

    #[test]
    fn push_line_guards_leading_dot() {
        let mut roff = String::new();
        push_line(&mut roff, ".hidden");
        push_line(&mut roff, "'quote");
        assert_eq!(roff, "\\&.hidden\n\\&'quote\n");
    }

    #[test]
    fn pages_cover_every_command() {
        let names: Vec<String> = pages().unwrap().into_iter().map(|page| page.file_name).collect();
        assert_eq!(
            names,
            [
                "secretfd.1",
                "secretfd-run.1",
                "secretfd-get.1",
                "secretfd-password.1",
                "secretfd-create.1",
                "secretfd-put.1",
                "secretfd-describe.1",
                "secretfd-completions.1",
            ]
        );
    }

    #[test]
    fn run_page_lists_help_examples() {
        let pages = pages().unwrap();
        let run = pages.iter().find(|page| page.file_name == "secretfd-run.1").unwrap();
        assert!(run.roff.contains(r"secretfd run \-\-stdin registry/token"), "{}", run.roff);
    }
}
