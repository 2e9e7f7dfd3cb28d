//! Local sources: `file:PATH` and `env:VAR`.

#![forbid(unsafe_code)]

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::secret::Secret;

/// Largest `file:` secret read. Secrets Manager stores at most 64 KiB per
/// secret; local files get more room (certificate chains, keytabs) but a
/// bound, so a mistaken path such as a log file cannot exhaust memory.
pub const MAX_FILE_SECRET: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is larger than {MAX_FILE_SECRET} bytes")]
    TooLarge { path: String },
    #[error("{path} is not a regular file")]
    NotRegular { path: String },
    #[error("variable {0} is not set in secretfd's environment")]
    EnvMissing(String),
}

/// Tells whether `path` names a regular file, following symbolic links.
/// Opening and reading such a file does not wait on another process.
pub fn is_regular_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|metadata| metadata.is_file())
}

/// Reads a whole file into a secret.
pub fn read_file(path: &Path) -> Result<Secret, LocalError> {
    let shown = path.display().to_string();
    let read_error = |source| LocalError::Read { path: shown.clone(), source };

    let file = File::open(path).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    // Pipes and character devices (such as /dev/stdin) are allowed; directories are not.
    if metadata.is_dir() {
        return Err(LocalError::NotRegular { path: shown });
    }
    if metadata.len() > MAX_FILE_SECRET {
        return Err(LocalError::TooLarge { path: shown });
    }

    // Reserve the whole size up front, so the buffer is not regrown and no
    // partial copy is left behind in a freed block.
    let mut bytes = Vec::with_capacity(metadata.len() as usize + 1);
    let mut limited = file.take(MAX_FILE_SECRET + 1);
    let read = limited.read_to_end(&mut bytes);
    let secret = Secret::new(bytes);
    read.map_err(read_error)?;
    if secret.len() as u64 > MAX_FILE_SECRET {
        return Err(LocalError::TooLarge { path: shown });
    }
    Ok(secret)
}

/// Reads a variable of secretfd's own environment. The caller removes it
/// from the child's environment.
pub fn read_env(var: &str) -> Result<Secret, LocalError> {
    use std::os::unix::ffi::OsStringExt;
    std::env::var_os(var)
        .map(|value| Secret::new(value.into_vec()))
        .ok_or_else(|| LocalError::EnvMissing(var.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_file_exact_bytes() {
        let dir = std::env::temp_dir().join(format!("secretfd-local-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("value");
        std::fs::write(&path, b"pw\n\0\xff").unwrap();
        assert_eq!(read_file(&path).unwrap().expose(), b"pw\n\0\xff");
        assert!(matches!(read_file(&dir), Err(LocalError::NotRegular { .. })));
        assert!(matches!(read_file(&dir.join("missing")), Err(LocalError::Read { .. })));
        assert!(is_regular_file(&path));
        assert!(!is_regular_file(&dir));
        assert!(!is_regular_file(Path::new("/dev/null")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn read_env_missing_names_variable() {
        let error = read_env("SECRETFD_TEST_SURELY_UNSET").err().expect("the variable is unset");
        assert_eq!(error.to_string(), "variable SECRETFD_TEST_SURELY_UNSET is not set in secretfd's environment");
    }
}
