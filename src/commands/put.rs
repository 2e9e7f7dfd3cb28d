//! `secretfd put`.

#![forbid(unsafe_code)]

use crate::cli::{GlobalOptions, PutArgs};
use crate::error::{Error, Problem};

/// Runs `secretfd put` and returns the exit code.
pub fn run(_args: PutArgs, _global: &GlobalOptions) -> Result<i32, Error> {
    Err(Error::failed(Problem::new("put", "not implemented yet")))
}
