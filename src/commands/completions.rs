//! `secretfd completions`.

#![forbid(unsafe_code)]

use crate::cli::{CompletionsArgs, GlobalOptions};
use crate::error::{Error, Problem};

/// Runs `secretfd completions` and returns the exit code.
pub fn run(_args: CompletionsArgs, _global: &GlobalOptions) -> Result<i32, Error> {
    Err(Error::failed(Problem::new("completions", "not implemented yet")))
}
