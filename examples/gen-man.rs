//! Rewrites the man pages in `man/` from the command-line definition.
//!
//! Run `cargo run --example gen-man` after changing any help text, option or
//! hand-written man section, and commit the result. The `man` test fails
//! while the committed pages differ from what this writes. Pages of commands
//! that no longer exist are removed.

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    match generate(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gen-man: cannot write the man pages to {}: {error}", dir.display());
            ExitCode::FAILURE
        }
    }
}

fn generate(dir: &Path) -> std::io::Result<()> {
    let pages = secretfd::man::pages()?;
    std::fs::create_dir_all(dir)?;

    let current: HashSet<&str> = pages.iter().map(|page| page.file_name.as_str()).collect();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
        if name.ends_with(".1") && !current.contains(name) {
            std::fs::remove_file(&path)?;
            println!("removed {}", path.display());
        }
    }

    for page in &pages {
        let path = dir.join(&page.file_name);
        std::fs::write(&path, &page.roff)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
