//! Deserialisation helpers for Go's JSON habits: the daemon marshals empty lists and maps
//! as `null` and absent strings as `""`, so every optional field must accept both.

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

/// Parses an action payload, naming the path of the first field that is wrong.
pub fn from_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.inner().to_string()
        } else {
            format!("{path}: {}", e.inner())
        }
    })
}
