//! `secretfd create`.

#![forbid(unsafe_code)]

use crate::cli::{CreateArgs, GlobalOptions};
use crate::error::{Error, Problem};

/// Runs `secretfd create` and returns the exit code.
pub fn run(_args: CreateArgs, _global: &GlobalOptions) -> Result<i32, Error> {
    Err(Error::failed(Problem::new("create", "not implemented yet")))
}
