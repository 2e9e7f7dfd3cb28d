//! `secretfd get`.

#![forbid(unsafe_code)]

use crate::cli::{GetArgs, GlobalOptions};
use crate::error::{Error, Problem};

/// Runs `secretfd get` and returns the exit code.
pub fn run(_args: GetArgs, _global: &GlobalOptions) -> Result<i32, Error> {
    Err(Error::failed(Problem::new("get", "not implemented yet")))
}
