//! `secretfd describe`.

#![forbid(unsafe_code)]

use crate::cli::{DescribeArgs, GlobalOptions};
use crate::error::{Error, Problem};

/// Runs `secretfd describe` and returns the exit code.
pub fn run(_args: DescribeArgs, _global: &GlobalOptions) -> Result<i32, Error> {
    Err(Error::failed(Problem::new("describe", "not implemented yet")))
}
