//! The provider declaration (`provider/bedrock.yaml`): supported model types, the
//! credential forms Dify shows, and where the model files are.

use serde::{Deserialize, Serialize};

use super::model::{I18n, ModelType};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provider {
    pub provider: String,
    pub label: I18n,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<I18n>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_small: Option<I18n>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_large: Option<I18n>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_small_dark: Option<I18n>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_large_dark: Option<I18n>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<serde_json::Value>,
    pub supported_model_types: Vec<ModelType>,
    pub configurate_methods: Vec<String>,
    #[serde(default)]
    pub models: ModelsByType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_credential_schema: Option<ProviderCredentialSchema>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_credential_schema: Option<ModelCredentialSchema>,
}

/// `models:` of the provider YAML, keyed `llm`, `text_embedding`, `rerank`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelsByType {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<ModelFiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_embedding: Option<ModelFiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerank: Option<ModelFiles>,
}

impl ModelsByType {
    pub fn iter(&self) -> impl Iterator<Item = (ModelType, &ModelFiles)> {
        [
            (ModelType::Llm, self.llm.as_ref()),
            (ModelType::TextEmbedding, self.text_embedding.as_ref()),
            (ModelType::Rerank, self.rerank.as_ref()),
        ]
        .into_iter()
        .filter_map(|(t, f)| f.map(|f| (t, f)))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelFiles {
    #[serde(default)]
    pub predefined: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderCredentialSchema {
    pub credential_form_schemas: Vec<CredentialForm>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelCredentialSchema {
    pub model: serde_json::Value,
    pub credential_form_schemas: Vec<CredentialForm>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FormType {
    TextInput,
    SecretInput,
    Select,
    Radio,
    Switch,
}

/// A field `variable` shows only when `variable` has `value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowOn {
    pub variable: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FormOption {
    pub value: String,
    pub label: I18n,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub show_on: Vec<ShowOn>,
}

/// One field of a credential form; its value arrives in `credentials[variable]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialForm {
    pub variable: String,
    pub label: I18n,
    #[serde(rename = "type")]
    pub kind: FormType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<FormOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<I18n>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<I18n>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub show_on: Vec<ShowOn>,
}
