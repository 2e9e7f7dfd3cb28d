//! `secretfd password`.

#![forbid(unsafe_code)]

use crate::cli::{GlobalOptions, PasswordArgs};
use crate::error::{Error, Problem};

/// Runs `secretfd password` and returns the exit code.
pub fn run(_args: PasswordArgs, _global: &GlobalOptions) -> Result<i32, Error> {
    Err(Error::failed(Problem::new("password", "not implemented yet")))
}
