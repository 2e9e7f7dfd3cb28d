//! Selection of one field of a JSON secret (`#key` and `#/json/pointer`).
//!
//! A string field is delivered as its content, a number or boolean as its
//! JSON text exactly as stored (serde_json's `arbitrary_precision` keeps
//! `1.50` as `1.50`), and an object or array as compact JSON. Key names are
//! matched exactly, with no case folding.

#![forbid(unsafe_code)]

use serde_json::Value;

use crate::reference::Selector;
use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("the secret is not valid JSON, so it has no {0}")]
    NotJson(Selector),
    #[error("the secret is JSON but not an object, so it has no {0}")]
    NotObject(Selector),
    #[error("{0} not found in the JSON secret")]
    Missing(Selector),
    #[error("{0} is null in the JSON secret")]
    Null(Selector),
}

/// Returns the selected field of a JSON secret as a new secret.
pub fn select(secret: &Secret, selector: &Selector) -> Result<Secret, SelectError> {
    let mut document: Value =
        serde_json::from_slice(secret.expose()).map_err(|_| SelectError::NotJson(selector.clone()))?;

    let field = match selector {
        Selector::Key(key) => {
            let object = document.as_object_mut().ok_or_else(|| SelectError::NotObject(selector.clone()))?;
            object.get_mut(key)
        }
        Selector::Pointer(pointer) => document.pointer_mut(pointer),
    };
    let field = field.ok_or_else(|| SelectError::Missing(selector.clone()))?;

    let bytes = match field.take() {
        Value::Null => return Err(SelectError::Null(selector.clone())),
        Value::String(text) => text.into_bytes(),
        Value::Bool(flag) => flag.to_string().into_bytes(),
        Value::Number(number) => number.to_string().into_bytes(),
        compound @ (Value::Array(_) | Value::Object(_)) => {
            serde_json::to_vec(&compound).expect("serializing a parsed JSON value cannot fail")
        }
    };
    Ok(Secret::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(json: &str, selector: Selector) -> Result<Vec<u8>, SelectError> {
        select(&Secret::copy_from(json.as_bytes()), &selector).map(|s| s.expose().to_vec())
    }

    fn key(name: &str) -> Selector {
        Selector::Key(name.to_owned())
    }

    #[test]
    fn select_value_kinds() {
        let json = r#"{"s":"p\"w\\x\n","n":1.50,"big":123456789012345678901234567890,"t":true,
                      "o":{"b":2, "a":[1, "x"]},"Key-Case":"k","":"empty"}"#;
        assert_eq!(pick(json, key("s")).unwrap(), b"p\"w\\x\n");
        assert_eq!(pick(json, key("n")).unwrap(), b"1.50");
        assert_eq!(pick(json, key("big")).unwrap(), b"123456789012345678901234567890");
        assert_eq!(pick(json, key("t")).unwrap(), b"true");
        assert_eq!(pick(json, key("o")).unwrap(), br#"{"b":2,"a":[1,"x"]}"#);
        assert_eq!(pick(json, key("Key-Case")).unwrap(), b"k");
        assert_eq!(pick(json, key("")).unwrap(), b"empty");
        assert_eq!(pick(json, key("key-case")), Err(SelectError::Missing(key("key-case"))));
    }

    #[test]
    fn select_by_pointer() {
        let json = r#"{"db":{"primary":{"password":"pw"}},"a/b":{"~c":"escaped"},"list":["zero","one"]}"#;
        let pointer = |p: &str| Selector::Pointer(p.to_owned());
        assert_eq!(pick(json, pointer("/db/primary/password")).unwrap(), b"pw");
        assert_eq!(pick(json, pointer("/a~1b/~0c")).unwrap(), b"escaped");
        assert_eq!(pick(json, pointer("/list/1")).unwrap(), b"one");
        assert!(matches!(pick(json, pointer("/db/replica")), Err(SelectError::Missing(_))));
    }

    #[test]
    fn select_errors_name_the_key() {
        assert_eq!(pick("plain text", key("password")), Err(SelectError::NotJson(key("password"))));
        assert_eq!(pick("[1]", key("password")), Err(SelectError::NotObject(key("password"))));
        assert_eq!(pick(r#"{"password":null}"#, key("password")), Err(SelectError::Null(key("password"))));
        let message = SelectError::Missing(key("password")).to_string();
        assert_eq!(message, "key 'password' not found in the JSON secret");
    }
}
