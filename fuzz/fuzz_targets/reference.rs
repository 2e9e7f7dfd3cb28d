//! Fuzzes the reference parser with arbitrary text.
//!
//! Beyond "no panic", every accepted reference must satisfy what the rest of
//! secretfd relies on: it is within the length limit, contains no control
//! character, and an AWS secret ID never contains `#` or `?` (which would
//! mean a key or version query was taken as part of the name).

#![no_main]

use libfuzzer_sys::fuzz_target;
use secretfd::reference::{MAX_REFERENCE_LEN, Reference, Source};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(reference) = Reference::parse(text) else { return };

    assert_eq!(reference.text, text);
    assert!(text.len() <= MAX_REFERENCE_LEN);
    assert!(!text.chars().any(char::is_control));
    if let Source::Aws(secret) = &reference.source {
        assert!(!secret.secret_id.is_empty());
        assert!(!secret.secret_id.contains(['#', '?']), "secret ID {:?} from {text:?}", secret.secret_id);
        if secret.is_arn() {
            assert!(secret.region.as_deref().is_some_and(|region| !region.is_empty()));
        } else {
            assert!(secret.region.is_none());
        }
    }
});
