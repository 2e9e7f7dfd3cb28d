//! One module per subcommand; each returns the process exit code.

#![forbid(unsafe_code)]

pub mod run;
