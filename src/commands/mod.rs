//! One module per subcommand; each returns the process exit code.

#![forbid(unsafe_code)]

pub mod completions;
pub mod create;
pub mod describe;
pub mod get;
pub mod password;
pub mod put;
pub mod run;
