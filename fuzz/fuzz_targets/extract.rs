//! Fuzzes JSON key extraction: the first line of the input is the selector
//! (a JSON Pointer when it starts with `/`, else a top-level key), the rest
//! is the secret.
//!
//! Beyond "no panic": a field is returned only when serde_json finds it too,
//! a selected string is delivered as its exact content, and every error
//! names the selector the user wrote.

#![no_main]

use libfuzzer_sys::fuzz_target;
use secretfd::extract::select;
use secretfd::reference::Selector;
use secretfd::secret::Secret;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(selector_text) = std::str::from_utf8(&data[..split]) else { return };
    let document = data.get(split + 1..).unwrap_or(&[]);
    let selector = if selector_text.starts_with('/') {
        Selector::Pointer(selector_text.to_owned())
    } else {
        Selector::Key(selector_text.to_owned())
    };

    let secret = Secret::copy_from(document);
    match select(&secret, &selector) {
        Ok(field) => {
            let parsed: serde_json::Value = serde_json::from_slice(document).expect("select accepted invalid JSON");
            let expected = match &selector {
                Selector::Key(key) => parsed.get(key),
                Selector::Pointer(pointer) => parsed.pointer(pointer),
            }
            .expect("select found a field that serde_json does not");
            if let serde_json::Value::String(text) = expected {
                assert_eq!(field.expose(), text.as_bytes());
            }
        }
        Err(error) => {
            let message = error.to_string();
            assert!(message.contains(selector_text), "{message:?} does not name {selector_text:?}");
        }
    }
});
