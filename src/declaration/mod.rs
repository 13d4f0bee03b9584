//! The plugin's declarations — manifest, provider and model YAML — as typed data.
//!
//! The daemon reads these same files from the package; the binary embeds them at build
//! time (see `build.rs`) so both always agree. Loading expands parameter-rule templates
//! and orders models by their `_position.yaml`, as the daemon and the SDK do.

pub(crate) mod custom;
mod glob;
mod manifest;
mod model;
pub(crate) mod params;
mod provider;
mod templates;

use std::collections::HashMap;
use std::fmt;

pub(crate) use manifest::Manifest;
pub(crate) use model::{
    BedrockFacts, ChatApi, I18n, ModelDecl, ModelFamily, ModelFeature, ModelType, Pricing,
};
#[cfg(test)]
pub(crate) use model::{ParamType, ParameterRule};
pub(crate) use provider::{ModelFiles, Provider};
#[cfg(test)]
pub(crate) use templates::expand_rule;

pub(crate) mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_files.rs"));
}

/// Files of `_assets/` compiled into the binary, as (file name, bytes): remote debugging
/// sends them to the daemon, which serves the icons from them.
pub fn embedded_assets() -> &'static [(&'static str, &'static [u8])] {
    embedded::ASSET_FILES
}

/// A declaration file that is missing or does not parse, with the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclarationError {
    pub file: String,
    pub message: String,
}

impl fmt::Display for DeclarationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

impl std::error::Error for DeclarationError {}

fn err(file: &str, message: impl Into<String>) -> DeclarationError {
    DeclarationError {
        file: file.to_string(),
        message: message.into(),
    }
}

/// Everything the plugin declares, loaded once at start-up.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub manifest: Manifest,
    pub provider: Provider,
    /// Predefined models with templates expanded, grouped by type in position order.
    models: Vec<ModelDecl>,
    index: HashMap<(ModelType, String), usize>,
}

impl Catalog {
    /// The declarations compiled into this binary.
    pub fn embedded() -> Result<Catalog, DeclarationError> {
        Catalog::from_files(embedded::TEXT_FILES)
    }

    /// Loads declarations from (relative path, contents) pairs laid out as in the package.
    pub fn from_files(files: &[(&str, &str)]) -> Result<Catalog, DeclarationError> {
        let find = |path: &str| files.iter().find(|(p, _)| *p == path).map(|(_, c)| *c);
        let manifest_text = find("manifest.yaml").ok_or_else(|| err("manifest.yaml", "missing"))?;
        let manifest: Manifest =
            serde_yaml::from_str(manifest_text).map_err(|e| err("manifest.yaml", e.to_string()))?;
        let provider_path = manifest
            .plugins
            .models
            .first()
            .ok_or_else(|| err("manifest.yaml", "plugins.models names no provider file"))?
            .clone();
        let provider_text = find(&provider_path).ok_or_else(|| err(&provider_path, "missing"))?;
        let provider: Provider =
            serde_yaml::from_str(provider_text).map_err(|e| err(&provider_path, e.to_string()))?;

        let mut models = Vec::new();
        for (model_type, globs) in provider.models.iter() {
            models.extend(load_models_of_type(
                files,
                &provider_path,
                model_type,
                globs,
            )?);
        }
        let mut index = HashMap::new();
        for (i, m) in models.iter().enumerate() {
            if index.insert((m.model_type, m.model.clone()), i).is_some() {
                return Err(err(
                    &provider_path,
                    format!("model {} is declared twice", m.model),
                ));
            }
        }
        Ok(Catalog {
            manifest,
            provider,
            models,
            index,
        })
    }

    /// A predefined model by type and name.
    pub fn model(&self, model_type: ModelType, name: &str) -> Option<&ModelDecl> {
        self.index
            .get(&(model_type, name.to_string()))
            .map(|&i| &self.models[i])
    }

    /// Every predefined model, grouped by type, each group in position order.
    pub fn models(&self) -> &[ModelDecl] {
        &self.models
    }
}

/// Reads the models one `models.<type>` entry of the provider points at, in position order.
fn load_models_of_type(
    files: &[(&str, &str)],
    provider_path: &str,
    model_type: ModelType,
    globs: &ModelFiles,
) -> Result<Vec<ModelDecl>, DeclarationError> {
    let mut matched: Vec<(&str, &str)> = files
        .iter()
        .filter(|(path, _)| globs.predefined.iter().any(|g| glob::matches(g, path)))
        .copied()
        .collect();
    matched.sort_by(|a, b| a.0.cmp(b.0));

    // The daemon reads positions from the `position` key; the SDK looks for a
    // `_position.yaml` among the glob hits. Honour both, the explicit key first.
    let position_path = match &globs.position {
        Some(p) if !p.is_empty() => Some(p.as_str()),
        _ => matched
            .iter()
            .map(|(p, _)| *p)
            .find(|p| p.ends_with("_position.yaml")),
    };
    let positions: Vec<String> = match position_path {
        Some(path) => {
            let text = files
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, c)| *c)
                .ok_or_else(|| err(path, "position file named by the provider is missing"))?;
            let list: Option<Vec<String>> =
                serde_yaml::from_str(text).map_err(|e| err(path, e.to_string()))?;
            list.unwrap_or_default()
        }
        None => Vec::new(),
    };

    let mut models = Vec::new();
    for (path, text) in matched {
        if path.ends_with("_position.yaml") {
            continue;
        }
        let raw: ModelDecl = serde_yaml::from_str(text).map_err(|e| err(path, e.to_string()))?;
        let decl = templates::expand_model(raw).map_err(|e| err(path, e.to_string()))?;
        if let Some(family) = decl.bedrock.as_ref().map(|f| f.family)
            && family.model_type() != decl.model_type
        {
            return Err(err(
                path,
                format!(
                    "family {} is a family of {} models, but this is a {} model",
                    family.as_str(),
                    family.model_type().as_str(),
                    decl.model_type.as_str()
                ),
            ));
        }
        if decl.model_type != model_type {
            return Err(err(
                path,
                format!(
                    "model_type is {} but {provider_path} lists this file under {}",
                    decl.model_type.as_str(),
                    model_type.provider_key()
                ),
            ));
        }
        models.push(decl);
    }
    let rank = |m: &ModelDecl| {
        positions
            .iter()
            .position(|p| *p == m.model)
            .unwrap_or(usize::MAX)
    };
    // A stable sort keeps unlisted models in file order after the listed ones.
    models.sort_by_key(rank);
    Ok(models)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_declarations_load() {
        let catalog = Catalog::embedded().expect("embedded declarations must load");
        assert_eq!(catalog.manifest.name, "bedrock");
        assert_eq!(catalog.provider.provider, "bedrock");
        assert!(
            catalog
                .model(ModelType::Llm, "amazon.nova-lite-v1:0")
                .is_some()
        );
        assert!(
            catalog
                .model(ModelType::TextEmbedding, "amazon.nova-lite-v1:0")
                .is_none()
        );
    }

    #[test]
    fn manifest_version_is_the_crate_version() {
        let catalog = Catalog::embedded().expect("embedded declarations must load");
        assert_eq!(catalog.manifest.version, env!("CARGO_PKG_VERSION"));
    }

    const MANIFEST: &str = "version: 0.1.0\ntype: plugin\nauthor: a\nname: n\nlabel: {en_US: N}\ndescription: {en_US: D}\nicon: i.svg\ncreated_at: 2026-01-01T00:00:00Z\nresource: {memory: 1}\nplugins: {models: [provider/p.yaml]}\nmeta: {version: 0.0.1, arch: [amd64], runner: {language: python, version: '3.12', entrypoint: main}}\n";

    fn provider(position_key: bool) -> String {
        let pos = if position_key {
            "\n    position: models/llm/_position.yaml"
        } else {
            ""
        };
        format!(
            "provider: p\nlabel: {{en_US: P}}\nsupported_model_types: [llm]\nconfigurate_methods: [predefined-model]\nmodels:\n  llm:\n    predefined: ['models/llm/*.yaml']{pos}\n"
        )
    }

    fn model(name: &str) -> String {
        format!(
            "model: {name}\nlabel: {{en_US: {name}}}\nmodel_type: llm\nmodel_properties: {{mode: chat, context_size: 8}}\nparameter_rules:\n  - name: temperature\n    use_template: temperature\n"
        )
    }

    #[test]
    fn positions_are_honoured_both_ways() {
        for position_key in [true, false] {
            let p = provider(position_key);
            let (a, b, c) = (model("a"), model("b"), model("c"));
            let files = [
                ("manifest.yaml", MANIFEST),
                ("provider/p.yaml", p.as_str()),
                ("models/llm/a.yaml", a.as_str()),
                ("models/llm/b.yaml", b.as_str()),
                ("models/llm/c.yaml", c.as_str()),
                ("models/llm/_position.yaml", "- c\n- a\n"),
            ];
            let catalog = Catalog::from_files(&files).expect("loads");
            let names: Vec<_> = catalog.models().iter().map(|m| m.model.as_str()).collect();
            assert_eq!(names, ["c", "a", "b"], "position_key={position_key}");
            let t = &catalog.models()[0].parameter_rules[0];
            assert_eq!(t.kind, Some(ParamType::Float));
            assert_eq!(t.max, Some(1.0));
        }
    }

    #[test]
    fn a_bad_model_file_is_named() {
        let p = provider(true);
        let files = [
            ("manifest.yaml", MANIFEST),
            ("provider/p.yaml", p.as_str()),
            (
                "models/llm/a.yaml",
                "model: a\nmodel_type: llm\nparameter_rules:\n  - name: x\n    use_template: nope\n",
            ),
            ("models/llm/_position.yaml", "- a\n"),
        ];
        let e = Catalog::from_files(&files).expect_err("must fail");
        assert_eq!(e.file, "models/llm/a.yaml");
        assert!(e.message.contains("nope"), "{e}");
    }
}
