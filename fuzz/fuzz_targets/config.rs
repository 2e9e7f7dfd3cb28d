//! Fuzzes the `--config` file parser with arbitrary text.
//!
//! Beyond "no panic": every error line names the file and stays one line,
//! and every accepted binding records the file as its origin.

#![no_main]

use libfuzzer_sys::fuzz_target;
use secretfd::config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match config::parse(text, "fuzz.toml") {
        Ok(parsed) => {
            for binding in &parsed.bindings {
                assert!(binding.origin.starts_with("fuzz.toml"), "origin {:?}", binding.origin);
            }
        }
        Err(error) => {
            for problem in &error.problems {
                let line = problem.to_string();
                assert!(line.starts_with("fuzz.toml"), "{line:?} does not name the file");
                assert!(!line.contains('\n'), "{line:?} spans several lines");
            }
        }
    }
});
