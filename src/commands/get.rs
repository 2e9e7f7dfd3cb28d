//! `secretfd get`: write one secret's value to stdout, byte for byte.
//!
//! The reference goes through the same parser and the same fetch code as the
//! bindings of `run` (`source::resolve_all`, which wraps the `resolve_each`
//! that `run` uses), so every reference form works here too: names, ARNs,
//! the ECS `valueFrom` form, `#key`, JSON pointers,
//! versions, `file:` and `env:`. Nothing is added to the value, not even a
//! newline, so `secretfd get NAME | docker secret create NAME -` stores
//! exactly what Secrets Manager holds.

#![forbid(unsafe_code)]

use std::io::Write;

use crate::cli::{GetArgs, GlobalOptions};
use crate::error::{Error, Problem};
use crate::reference::Reference;
use crate::source::{self, aws};
use crate::sys;

/// Runs `secretfd get` and returns the exit code.
pub fn run(args: GetArgs, global: &GlobalOptions) -> Result<i32, Error> {
    let reference = Reference::parse(&args.reference)
        .map_err(|error| Error::usage(Problem::new(&args.reference, format!("invalid reference: {error}"))))?;

    // Nothing fetched may be read by a debugger or land in a core dump.
    sys::set_non_dumpable()
        .map_err(|errno| Error::failed(Problem::new("get", format!("cannot make secretfd non-dumpable: {errno}"))))?;

    let options = aws::Options { region: global.region.clone(), timeout: global.timeout };
    let resolved = source::resolve_all(&[&reference], &options, std::future::pending())
        .pop()
        .expect("resolve_all returns one result per reference")
        .map_err(|error| Error::failed(error.into_problem(&reference.text)))?;

    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(resolved.secret.expose())
        .and_then(|()| stdout.flush())
        .map_err(|error| Error::failed(Problem::new("stdout", format!("cannot write the value: {error}"))))?;
    Ok(0)
}
