//! `secretfd password`: print a password generated locally.
//!
//! The password goes to stdout with no newline, so that
//! `secretfd password | secretfd create NAME` stores exactly the password. A
//! newline follows only when stdout is a terminal, where a person reads it.

#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};

use crate::cli::{GlobalOptions, PasswordArgs, PasswordOptions};
use crate::error::{Error, Problem};
use crate::password::{self, Policy, PolicyError};
use crate::secret::Secret;
use crate::sys;

/// Runs `secretfd password` and returns the exit code.
pub fn run(args: PasswordArgs, _global: &GlobalOptions) -> Result<i32, Error> {
    let policy = policy(&args.options)?;
    sys::set_non_dumpable().map_err(|errno| {
        Error::failed(Problem::new("password", format!("cannot make secretfd non-dumpable: {errno}")))
    })?;
    let password = generate(&policy)?;

    let mut stdout = std::io::stdout().lock();
    let newline: &[u8] = if stdout.is_terminal() { b"\n" } else { b"" };
    stdout
        .write_all(password.expose())
        .and_then(|()| stdout.write_all(newline))
        .and_then(|()| stdout.flush())
        .map_err(|error| Error::failed(Problem::new("stdout", format!("cannot write the password: {error}"))))?;
    Ok(0)
}

/// Validates password options; an impossible combination is a usage error.
pub fn policy(options: &PasswordOptions) -> Result<Policy, Error> {
    Policy::from_options(options).map_err(|error| {
        let hint = match error {
            PolicyError::Length(_) => "pass --length N with N from 1 to 4096",
            PolicyError::NothingAllowed => "drop an --exclude-* option or shorten --exclude-characters",
            PolicyError::TooShort { .. } => "raise --length, or pass --no-require-each-included-type",
        };
        Error::usage(Problem::new("password options", error.to_string()).with_hint(hint))
    })
}

/// Generates a password, turning a failure of the random source into an error.
pub fn generate(policy: &Policy) -> Result<Secret, Error> {
    password::generate(policy).map_err(|error| Error::failed(Problem::new("password", error.to_string())))
}
