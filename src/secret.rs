//! The one type that holds secret bytes.
//!
//! `Secret` wipes its buffer when dropped and deliberately implements no
//! `Debug`, `Display`, `Clone` or `Serialize`, so a value cannot reach a log
//! line, an error message or a second buffer by accident. `expose` is the
//! only way to read the bytes, and only delivery and `get` call it.
//!
//! What this type cannot wipe: copies made before the bytes reached it (the
//! SDK's response buffers and the JSON parser's strings). Those are erased
//! when freed by the wipe-on-free global allocator in `sys::alloc`.

#![forbid(unsafe_code)]

use zeroize::Zeroizing;

pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
}

impl Secret {
    /// Takes ownership of a buffer; no copy is made.
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret { bytes: Zeroizing::new(bytes) }
    }

    /// Takes ownership of a string's buffer; no copy is made.
    pub fn from_string(text: String) -> Secret {
        Secret::new(text.into_bytes())
    }

    /// Copies a slice into a new secret.
    pub fn copy_from(bytes: &[u8]) -> Secret {
        Secret::new(bytes.to_vec())
    }

    /// Returns the value. Callers must write it only to a carrier or to stdout.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keeps_bytes_exactly() {
        let all_bytes: Vec<u8> = (0..=255).collect();
        let secret = Secret::copy_from(&all_bytes);
        assert_eq!(secret.expose(), &all_bytes[..]);
        assert_eq!(secret.len(), 256);
        assert!(Secret::new(Vec::new()).is_empty());
    }
}
