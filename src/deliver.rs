//! Carriers: putting each secret on a descriptor for the child.
//!
//! The default carrier is a memfd: written, sealed against write, grow,
//! shrink and further seals, rewound, and then re-opened read-only through
//! `/proc/self/fd`, so the child holds a read-only descriptor to an
//! immutable in-memory file. Re-opening `/dev/fd/N` in the child gives a new
//! description at offset 0, so the value can be read again.

#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;

use tracing::debug;

use crate::secret::Secret;
use crate::sys;

/// Name shown for the memfd in `/proc/PID/fd` (as `/memfd:secretfd (deleted)`).
const MEMFD_NAME: &CStr = c"secretfd";

/// Writes a secret into a new sealed, read-only memfd.
pub fn memfd(secret: &Secret) -> io::Result<OwnedFd> {
    let mut file = File::from(sys::memfd_create_sealable(MEMFD_NAME)?);
    file.write_all(secret.expose())?;
    let fd = OwnedFd::from(file);
    sys::seal_memfd(&fd)?;

    let mut file = File::from(fd);
    file.seek(SeekFrom::Start(0))?;
    let fd = OwnedFd::from(file);

    // A read-only description makes writes fail with EBADF before the seals
    // are even consulted. Without /proc (some minimal containers) the
    // read-write description is kept; the seals still forbid every change.
    match File::open(format!("/proc/self/fd/{}", sys::raw(&fd))) {
        Ok(read_only) => Ok(OwnedFd::from(read_only)),
        Err(error) => {
            debug!("cannot re-open the memfd read-only ({error}); keeping the sealed read-write descriptor");
            Ok(fd)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn memfd_is_sealed_and_rewound() {
        let fd = memfd(&Secret::copy_from(b"canary\n")).unwrap();
        let mut file = File::from(fd);
        let mut read_back = Vec::new();
        file.read_to_end(&mut read_back).unwrap();
        assert_eq!(read_back, b"canary\n");
        assert!(file.write_all(b"x").is_err());
        assert!(file.set_len(0).is_err());

        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
        let mut writable = File::options().write(true).open(&path).unwrap();
        assert_eq!(writable.write(b"x").unwrap_err().raw_os_error(), Some(nix::libc::EPERM));
        assert!(writable.set_len(100).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"canary\n");
    }
}
