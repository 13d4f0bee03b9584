//! `manifest.yaml`: the plugin's identity and how the daemon runs it.

use serde::{Deserialize, Serialize};

use super::model::I18n;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub version: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub author: String,
    pub name: String,
    pub label: I18n,
    pub description: I18n,
    pub icon: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_dark: Option<String>,
    pub created_at: String,
    pub resource: Resource,
    pub plugins: Plugins,
    pub meta: Meta,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resource {
    pub memory: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plugins {
    #[serde(default)]
    pub models: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub version: String,
    pub arch: Vec<String>,
    pub runner: Runner,
    #[serde(default)]
    pub minimum_dify_version: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Runner {
    pub language: String,
    pub version: String,
    pub entrypoint: String,
}
