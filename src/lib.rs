//! secretfd: start a program with its secrets on inherited file descriptors.
//!
//! The binary is a thin wrapper around [`main`]. Modules follow the steps of
//! a launch: `cli` (parse), `plan` and `reference` (validate), `source`,
//! `extract` and `secret` (fetch and hold), `deliver` (carriers), `launch`
//! (exec), `error` (messages and exit codes). `sys` contains every system call
//! and is the only module allowed to use `unsafe`.

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(not(target_os = "linux"))]
compile_error!("secretfd supports Linux only: it needs sealed memfds, /dev/fd re-opening and close_range");

pub mod cli;
pub mod commands;
pub mod config;
pub mod deliver;
pub mod duration;
pub mod error;
pub mod extract;
pub mod launch;
pub mod logging;
pub mod man;
pub mod password;
pub mod plan;
pub mod reference;
pub mod secret;
pub mod source;
pub mod supervise;
#[allow(unsafe_code)]
pub mod sys;

use cli::Command;
use error::{EXIT_LAUNCHER_FAILED, EXIT_USAGE};

/// Variable that would make the AWS SDK log request and response bodies,
/// secret values included. secretfd never honours it.
const SDK_SENSITIVE_BODIES_VAR: &str = "LOG_SENSITIVE_BODIES";

/// Runs secretfd with the process's arguments and returns the exit code.
pub fn main() -> i32 {
    // Before anything opens a descriptor or starts a thread.
    sys::ensure_stdio_open();
    sys::remove_env_var_single_threaded(SDK_SENSITIVE_BODIES_VAR);

    let arguments: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match cli::parse(&arguments) {
        Ok(cli) => cli,
        Err(error) => return report_usage_error(&error, &arguments),
    };
    logging::init(cli.global.verbose);

    let global = &cli.global;
    let (result, is_run) = match cli.command {
        Command::Run(args) => (commands::run::run(args, global), true),
        Command::Get(args) => (commands::get::run(args, global), false),
        Command::Password(args) => (commands::password::run(args, global), false),
        Command::Create(args) => (commands::create::run(args, global), false),
        Command::Put(args) => (commands::put::run(args, global), false),
        Command::Describe(args) => (commands::describe::run(args, global), false),
        Command::Completions(args) => (commands::completions::run(args, global), false),
    };
    result.unwrap_or_else(|error| {
        error.report();
        if is_run { error.run_exit_code() } else { error.command_exit_code() }
    })
}

/// Prints clap's message; `--help` and `--version` exit 0, usage errors exit
/// 125 for `run` (so they cannot be mistaken for the child's status) and 2
/// for the other commands.
fn report_usage_error(error: &clap::Error, arguments: &[std::ffi::OsString]) -> i32 {
    use clap::error::{ContextKind, ContextValue, ErrorKind};

    let subcommand = subcommand_word(arguments);
    let unexpected = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(argument)) if error.kind() == ErrorKind::UnknownArgument => Some(argument.as_str()),
        _ => None,
    };
    let positional = unexpected.is_some_and(|argument| !argument.starts_with('-'));

    // A stray word after `create NAME` or `put NAME` is most likely the value
    // itself: say how values are given, and do not repeat it.
    if positional && matches!(subcommand.as_deref(), Some("create" | "put")) {
        error::Error::usage(
            error::Problem::new(
                subcommand.as_deref().unwrap_or_default(),
                "unexpected argument after the secret name; a value is never taken from the command line",
            )
            .with_hint("pipe the value on stdin, or use --value-file PATH or --generate"),
        )
        .report();
        return EXIT_USAGE;
    }

    let _ = error.print();
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => EXIT_USAGE,
        _ if subcommand.as_deref() == Some("run") => {
            if positional {
                let problem = error::Problem::new("run", "the command to start must follow --")
                    .with_hint("secretfd run --file VAR=REF -- CMD [ARG]...");
                error::Error::usage(problem).report();
            }
            EXIT_LAUNCHER_FAILED
        }
        _ => EXIT_USAGE,
    }
}

/// Returns the subcommand word, skipping global options and their values.
fn subcommand_word(arguments: &[std::ffi::OsString]) -> Option<String> {
    let mut words = arguments.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        match word.as_ref() {
            "--region" | "--timeout" => {
                words.next();
            }
            w if w.starts_with('-') => {}
            w => return Some(w.to_owned()),
        }
    }
    None
}
