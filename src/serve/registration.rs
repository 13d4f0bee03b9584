//! What remote debugging sends before serving, in the daemon's order
//! (`debugging_runtime/hooks.go::onMessage`): the handshake with the key, the manifest,
//! the provider with every model fully expanded, each `_assets` file in chunks, `end`.
//! The daemon reads no package files in this mode, so these are all it knows of us.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::bedrock::secret::Secret;
use crate::declaration::{Catalog, ModelType, embedded_assets};
use crate::wire::registration_line;

/// Raw bytes per asset chunk, as the SDK sends them.
const ASSET_CHUNK_BYTES: usize = 8192;

/// The registration lines, in order.
pub fn lines(catalog: &Catalog, key: &Secret) -> Result<Vec<String>, serde_json::Error> {
    let mut out = vec![
        registration_line("handshake", &json!({ "key": key.expose() })),
        // The manifest first: the daemon replaces its whole config with it.
        registration_line(
            "manifest_declaration",
            &serde_json::to_value(&catalog.manifest)?,
        ),
        registration_line("model_declaration", &json!([provider(catalog)?])),
    ];
    for (name, bytes) in embedded_assets() {
        let chunks: Vec<&[u8]> = bytes.chunks(ASSET_CHUNK_BYTES).collect();
        // An empty file has no chunk: the daemon refuses empty data.
        for (i, chunk) in chunks.iter().enumerate() {
            let data = base64::engine::general_purpose::STANDARD.encode(chunk);
            out.push(registration_line(
                "asset_chunk",
                &json!({"filename": name, "data": data, "end": i + 1 == chunks.len()}),
            ));
        }
    }
    out.push(registration_line("end", &json!({})));
    Ok(out)
}

/// The provider as the daemon decodes it remotely: `models` as the list of expanded
/// declarations (a map of file globs would silently register none) and each type's
/// order in `position`.
fn provider(catalog: &Catalog) -> Result<Value, serde_json::Error> {
    let mut provider = serde_json::to_value(&catalog.provider)?;
    let models: Vec<Value> = catalog
        .models()
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    let mut position = Map::new();
    for model_type in [ModelType::Llm, ModelType::TextEmbedding, ModelType::Rerank] {
        let names: Vec<&str> = catalog
            .models()
            .iter()
            .filter(|m| m.model_type == model_type)
            .map(|m| m.model.as_str())
            .collect();
        position.insert(model_type.provider_key().into(), json!(names));
    }
    if let Value::Object(p) = &mut provider {
        p.insert("models".into(), Value::Array(models));
        p.insert("position".into(), Value::Object(position));
    }
    Ok(provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemons_order_and_shapes() {
        let catalog = Catalog::embedded().expect("catalog");
        let lines = lines(&catalog, &Secret::new("k-123")).expect("lines");
        let parsed: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        let kinds: Vec<&str> = parsed.iter().filter_map(|l| l["type"].as_str()).collect();
        assert_eq!(
            kinds[..3],
            ["handshake", "manifest_declaration", "model_declaration"]
        );
        assert_eq!(kinds.last(), Some(&"end"));
        assert!(
            kinds[3..kinds.len() - 1]
                .iter()
                .all(|k| *k == "asset_chunk")
        );
        assert_eq!(parsed[0]["data"]["key"], "k-123");
        let provider = &parsed[2]["data"][0];
        let models = provider["models"].as_array().expect("models as a list");
        assert_eq!(models.len(), catalog.models().len());
        assert!(models.iter().all(|m| m.get("bedrock").is_none()));
        assert_eq!(
            provider["position"]["llm"][0],
            catalog.models()[0].model.as_str()
        );
        // Every icon the declarations name is among the assets sent.
        let sent: Vec<&str> = parsed
            .iter()
            .filter(|l| l["type"] == "asset_chunk")
            .filter_map(|l| l["data"]["filename"].as_str())
            .collect();
        for icon in [
            &parsed[1]["data"]["icon"],
            &provider["icon_small"]["en_US"],
            &provider["icon_large"]["en_US"],
        ] {
            let icon = icon.as_str().expect("an icon");
            assert!(sent.contains(&icon), "{icon} not among {sent:?}");
        }
    }
}
