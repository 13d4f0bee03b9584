//! Bedrock model ids, system inference profile ids and ARNs, read from their text alone:
//! which foundation model an id names, and which kind of id it is.

/// Where a system inference profile routes requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Within a geography (`us`, `eu`, `apac`, `ca`, `us-gov`): the `geographic` choice.
    Geographic,
    /// Within one country (`jp`, `au`): a choice of its own, never swapped for another.
    Country,
    /// Any commercial region (`global`).
    Global,
}

/// The prefixes of system inference profiles, in the order a fallback tries them:
/// geographic ones first (they keep data closest), then countries, then global.
pub const PROFILE_PREFIXES: &[(&str, Scope)] = &[
    ("us", Scope::Geographic),
    ("eu", Scope::Geographic),
    ("apac", Scope::Geographic),
    ("ca", Scope::Geographic),
    ("us-gov", Scope::Geographic),
    ("jp", Scope::Country),
    ("au", Scope::Country),
    ("global", Scope::Global),
];

/// `us.anthropic.claude-…` → `anthropic.claude-…`.
pub fn strip_profile_prefix(id: &str) -> &str {
    for (prefix, _) in PROFILE_PREFIXES {
        if let Some(rest) = id.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
            // A prefix is followed by a provider name, never by nothing.
            if rest.contains('.') {
                return rest;
            }
        }
    }
    id
}

/// The model id inside a system inference profile id or a Bedrock ARN, when it can be read
/// from the text alone (application profiles need a GetInferenceProfile call).
pub fn foundation_id(id: &str) -> Option<String> {
    if let Some(rest) = id.strip_prefix("arn:") {
        // arn:PARTITION:bedrock:REGION:ACCOUNT:RESOURCE-TYPE/ID
        let resource = rest.splitn(5, ':').nth(4)?;
        let (kind, name) = resource.split_once('/')?;
        return match kind {
            "foundation-model" => Some(name.to_string()),
            "inference-profile" => Some(strip_profile_prefix(name).to_string()),
            _ => None,
        };
    }
    Some(strip_profile_prefix(id).to_string())
}

/// What an id names, as far as its text tells.
#[derive(Debug, PartialEq, Eq)]
pub enum IdKind {
    /// A foundation model (given as id, system profile id or ARN).
    Foundation(String),
    /// An application inference profile (ARN, or its bare id): needs a lookup.
    ApplicationProfile,
    /// Provisioned throughput, an imported or a custom model: nothing to look up.
    Opaque,
}

pub fn classify(id: &str) -> IdKind {
    if id.starts_with("arn:") {
        let kind = id
            .splitn(6, ':')
            .nth(5)
            .and_then(|r| r.split('/').next())
            .unwrap_or("");
        return match kind {
            "application-inference-profile" => IdKind::ApplicationProfile,
            "foundation-model" | "inference-profile" => {
                foundation_id(id).map_or(IdKind::Opaque, IdKind::Foundation)
            }
            _ => IdKind::Opaque,
        };
    }
    // Model ids always name their provider (`vendor.model`); a bare alphanumeric id is
    // an application inference profile's id.
    if !id.contains('.') && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return IdKind::ApplicationProfile;
    }
    foundation_id(id).map_or(IdKind::Opaque, IdKind::Foundation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_inside_profiles_and_arns() {
        assert_eq!(
            strip_profile_prefix("us.anthropic.claude-3-5-haiku-20241022-v1:0"),
            "anthropic.claude-3-5-haiku-20241022-v1:0"
        );
        assert_eq!(
            strip_profile_prefix("us-gov.meta.llama3-8b"),
            "meta.llama3-8b"
        );
        assert_eq!(
            strip_profile_prefix("amazon.nova-lite-v1:0"),
            "amazon.nova-lite-v1:0"
        );
        assert_eq!(
            foundation_id("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0")
                .as_deref(),
            Some("amazon.nova-lite-v1:0")
        );
        assert_eq!(
            foundation_id(
                "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-lite-v1:0"
            )
            .as_deref(),
            Some("amazon.nova-lite-v1:0")
        );
        assert_eq!(
            foundation_id(
                "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
            ),
            None
        );
    }

    #[test]
    fn ids_are_classified_from_their_text() {
        assert_eq!(
            classify("amazon.nova-lite-v1:0"),
            IdKind::Foundation("amazon.nova-lite-v1:0".into())
        );
        assert_eq!(
            classify("us.amazon.nova-lite-v1:0"),
            IdKind::Foundation("amazon.nova-lite-v1:0".into())
        );
        assert_eq!(classify("0j6r4a8fn6ze"), IdKind::ApplicationProfile);
        assert_eq!(
            classify(
                "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/0j6r4a8fn6ze"
            ),
            IdKind::ApplicationProfile
        );
        assert_eq!(
            classify("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc"),
            IdKind::Opaque
        );
        assert_eq!(
            classify("arn:aws:bedrock:us-east-1:123456789012:imported-model/abc"),
            IdKind::Opaque
        );
        assert_eq!(
            classify(
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-x-v1:0"
            ),
            IdKind::Foundation("anthropic.claude-x-v1:0".into())
        );
    }
}
