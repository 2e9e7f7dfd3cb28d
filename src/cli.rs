//! Command-line definition.
//!
//! This is the one source of the help text, the man pages and the shell
//! completions, so every doc comment here is user-facing text. Parsing only
//! produces these raw structures; `plan` validates them into typed bindings
//! before anything touches AWS, the environment or descriptors.

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::duration::parse_duration;

/// Start a program with its secrets on inherited file descriptors.
///
/// secretfd fetches named secrets (AWS Secrets Manager, local files, the
/// launcher's own environment), writes each into a sealed in-memory file or a
/// pipe, and starts the program with those descriptors. Values never appear
/// in the program's command line or environment, nor on disk.
#[derive(Debug, Parser)]
#[command(name = "secretfd", version, max_term_width = 100, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,

    #[command(subcommand)]
    pub command: Command,
}

/// Heading of the options every command accepts, so that `--help` lists
/// them apart from the command's own.
const GLOBAL_OPTIONS: &str = "Global options";

/// Options accepted before or after the command name.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalOptions {
    /// Log to stderr: -v adds secretfd's debug messages, -vv the AWS SDK's, -vvv trace detail
    /// [default: warnings and errors only]. Secret values are never logged
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL_OPTIONS)]
    pub verbose: u8,

    /// AWS region for secrets named without an ARN [default: the standard AWS
    /// chain: AWS_REGION, AWS_DEFAULT_REGION, the profile's region]
    #[arg(long, global = true, value_name = "REGION", help_heading = GLOBAL_OPTIONS)]
    pub region: Option<String>,

    /// Maximum time for all AWS calls of the command, including region and
    /// credential discovery and retries: a whole number with the unit ms, s, m
    /// or h, such as 500ms, 30s or 2m
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        value_parser = parse_duration,
        default_value = "30s",
        help_heading = GLOBAL_OPTIONS
    )]
    pub timeout: Duration,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch every bound secret, then start CMD with them on descriptors
    ///
    /// Every secret bound with --file, --fd, --stdin or the config file is
    /// fetched before anything starts. Any failure means no command: one line
    /// per failed binding on stderr, and exit status 125. secretfd then writes
    /// each value into its carrier, wipes its own copy, and replaces itself
    /// with CMD (or supervises it), so CMD gets its secrets only on
    /// descriptors, never in its arguments or environment.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),

    /// Write one secret's value to stdout, byte for byte
    ///
    /// The value is written exactly as stored, with no newline added, for
    /// use in pipelines. Prefer secretfd run for programs that can read a
    /// file or a descriptor: a value on stdout ends up wherever stdout goes.
    Get(GetArgs),

    /// Generate a random password locally (the options of Secrets Manager's GetRandomPassword)
    Password(PasswordArgs),

    /// Store a new secret; the value comes from --generate, stdin or --value-file
    Create(CreateArgs),

    /// Store a new version of an existing secret; the value comes from --generate, stdin or --value-file
    Put(PutArgs),

    /// Show a secret's metadata (ARN, versions, rotation, dates, tags), never its value
    Describe(DescribeArgs),

    /// Print a shell completion script to stdout
    Completions(CompletionsArgs),
}

/// One example per binding form. Each line fits 80 columns in `--help` and
/// in the man page, which indents them further; longer commands continue
/// with a backslash.
const RUN_EXAMPLES: &str = "\
Examples:
  secretfd run --file DB_PASSWORD_FILE=prod/db#password -- ./server
  secretfd run --fd 3=ops/backup-key -- \\
      gpg --batch --passphrase-fd 3 -d backup.gpg
  secretfd run --stdin registry/token -- \\
      docker login --username ci --password-stdin
  secretfd run --file TLS_KEY=file:/run/secrets/tls.key -- \\
      openssl s_server -cert cert.pem -key {{TLS_KEY}}
  secretfd run --dry-run --file DB=prod/db#password -- ./server";

/// How a secret is carried to the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Carrier {
    /// A sealed in-memory file: re-readable, seekable, never on disk
    #[default]
    Memfd,
    /// A pipe: the value can be read once
    Pipe,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Bind a secret to a path: the child gets env VAR=/dev/fd/N (never the value), N being the lowest
    /// free descriptor from 3; repeatable
    #[arg(long = "file", value_name = "VAR=REF")]
    pub file: Vec<String>,

    /// Bind a secret to exactly descriptor N (N >= 3); repeatable
    #[arg(long = "fd", value_name = "N=REF")]
    pub fd: Vec<String>,

    /// Bind a secret to the child's standard input (descriptor 0); at most once
    #[arg(long = "stdin", value_name = "REF")]
    pub stdin: Option<String>,

    /// Read bindings, carrier, timeout and region from a TOML file [env: SECRETFD_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// How secrets reach the child
    #[arg(long, value_enum, value_name = "CARRIER")]
    pub carrier: Option<Carrier>,

    /// Pass the launcher's own descriptors 3 to 3+N-1 on to the child (as systemd-run and podman do)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,

    /// Resolve and fetch everything, print the plan (never a value), and start nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Stay as the parent: forward signals, reap zombies, exit with the child's status
    /// [default when secretfd is PID 1]
    #[arg(long, conflicts_with = "exec")]
    pub supervise: bool,

    /// Replace secretfd with the command even when secretfd is PID 1
    #[arg(long)]
    pub exec: bool,

    /// The command to start and its arguments; {{VAR}} is replaced by the path of --file VAR
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,

    /// `--file`, `--fd` and `--stdin` bindings as `(flag, value)`, in command-line order.
    #[arg(skip)]
    pub ordered_bindings: Vec<(String, String)>,

    /// Whether `--timeout` was given on the command line, so that it wins
    /// over the config file's `timeout` while the default does not.
    #[arg(skip)]
    pub timeout_given: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The secret to print, in any reference form that secretfd run accepts
    #[arg(value_name = "REF")]
    pub reference: String,
}

#[derive(Debug, Args, Clone)]
pub struct PasswordOptions {
    /// Number of characters, 1 to 4096
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub length: u32,

    /// Characters that must not appear in the password
    #[arg(long, value_name = "CHARS", default_value = "")]
    pub exclude_characters: String,

    /// Leave out the digits 0-9
    #[arg(long)]
    pub exclude_numbers: bool,

    /// Leave out the punctuation characters !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
    #[arg(long)]
    pub exclude_punctuation: bool,

    /// Leave out the upper-case letters A-Z
    #[arg(long)]
    pub exclude_uppercase: bool,

    /// Leave out the lower-case letters a-z
    #[arg(long)]
    pub exclude_lowercase: bool,

    /// Allow the space character
    #[arg(long)]
    pub include_space: bool,

    /// Do not require at least one character of every included type (by default each of
    /// lower-case, upper-case, digits and punctuation that is not left out must appear)
    #[arg(long)]
    pub no_require_each_included_type: bool,
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    #[command(flatten)]
    pub options: PasswordOptions,
}

/// Where the value of `create` and `put` comes from.
#[derive(Debug, Args)]
pub struct ValueSource {
    /// Generate the value with the password options (--length, --exclude-*, --include-space)
    /// instead of reading it
    #[arg(long, conflicts_with = "value_file")]
    pub generate: bool,

    /// Read the value from this file, byte for byte [default: read stdin, which must not be a terminal]
    #[arg(long, value_name = "PATH")]
    pub value_file: Option<PathBuf>,

    /// Store the value as SecretBinary instead of SecretString
    #[arg(long)]
    pub binary: bool,

    #[command(flatten)]
    pub password: PasswordOptions,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name of the new secret
    #[arg(value_name = "NAME")]
    pub name: String,

    #[command(flatten)]
    pub value: ValueSource,

    /// Description stored with the secret
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    /// KMS key (ID, alias or ARN) that encrypts the secret [default: aws/secretsmanager]
    #[arg(long, value_name = "KEY")]
    pub kms_key_id: Option<String>,

    /// Tag to attach; repeatable
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,

    /// Print the result as JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// Name or ARN of the existing secret
    #[arg(value_name = "NAME")]
    pub name: String,

    #[command(flatten)]
    pub value: ValueSource,

    /// Staging label for the new version; repeatable [default: AWSCURRENT]
    #[arg(long = "version-stage", value_name = "STAGE")]
    pub version_stages: Vec<String>,

    /// Print the result as JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The secret to describe (a name or ARN; a key or version part is ignored)
    #[arg(value_name = "REF")]
    pub reference: String,

    /// Print the result as JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Parses the command line, returning clap's error for usage problems.
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(args);
    // Freeing the command tree took about 12 percent of the instructions of
    // a `file:` launch (hundreds of small blocks, each wiped when freed).
    // The process execs or exits soon, and the tree contains no secret.
    std::mem::forget(command);
    let matches = matches?;
    let mut cli = Cli::from_arg_matches(&matches)?;

    // Bindings apply in the order given across all three flags, which the
    // derived per-flag vectors cannot tell; clap's argument indices can.
    if let (Command::Run(run), Some(("run", run_matches))) = (&mut cli.command, matches.subcommand()) {
        let mut ordered = Vec::new();
        for id in ["file", "fd", "stdin"] {
            if let (Some(indices), Some(values)) = (run_matches.indices_of(id), run_matches.get_many::<String>(id)) {
                ordered.extend(indices.zip(values).map(|(index, value)| (index, id, value.clone())));
            }
        }
        ordered.sort();
        run.ordered_bindings = ordered.into_iter().map(|(_, id, value)| (id.to_owned(), value)).collect();
        run.timeout_given = [&matches, run_matches]
            .iter()
            .any(|m| m.value_source("timeout") == Some(clap::parser::ValueSource::CommandLine));
    }
    Ok(cli)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_after_command() {
        let cli = parse(["secretfd", "run", "-v", "--region", "eu-west-1", "--", "true"]).unwrap();
        assert_eq!(cli.global.verbose, 1);
        assert_eq!(cli.global.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn run_requires_command() {
        assert!(parse(["secretfd", "run", "--file", "A=x"]).is_err());
    }

    #[test]
    fn run_bindings_keep_command_line_order() {
        let cli =
            parse(["secretfd", "run", "--fd", "5=a", "--file", "B=b", "--stdin", "c", "--file", "D=d", "--", "true"])
                .unwrap();
        let Command::Run(run) = cli.command else { panic!("expected run") };
        let flags: Vec<&str> = run.ordered_bindings.iter().map(|(flag, _)| flag.as_str()).collect();
        assert_eq!(flags, ["fd", "file", "stdin", "file"]);
        assert_eq!(run.ordered_bindings[3].1, "D=d");
    }

    #[test]
    fn run_keeps_command_flags_verbatim() {
        let cli = parse(["secretfd", "run", "--", "ls", "--file", "-v"]).unwrap();
        let Command::Run(run) = cli.command else { panic!("expected run") };
        assert_eq!(run.command, ["ls", "--file", "-v"]);
        assert!(run.file.is_empty());
    }
}
