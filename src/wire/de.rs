//! Deserialisation helpers for Go's JSON habits: the daemon marshals empty lists and maps
//! as `null` and absent strings as `""`, so every optional field must accept both.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// `null` (or absence, with `#[serde(default)]`) becomes the type's default.
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `null` and `""` both become `None`.
pub fn empty_string_none<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

/// A payload that does not have the expected shape: where, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    /// The path of the first wrong field (`prompt_messages[2].role`); `None` at the top.
    pub path: Option<String>,
    pub message: String,
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{path}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Parses an action payload, naming the path of the first field that is wrong.
pub fn from_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, PayloadError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        PayloadError {
            path: (path != ".").then_some(path),
            message: e.inner().to_string(),
        }
    })
}
