//! The Rerank API through aws-sdk-bedrockagentruntime, and the control plane
//! (inference profiles, foundation models) through aws-sdk-bedrock.

mod common;

use agent::types::{
    BedrockRerankingConfiguration, BedrockRerankingModelConfiguration, RerankDocument,
    RerankDocumentType, RerankQuery, RerankQueryContentType, RerankSource, RerankSourceType,
    RerankTextDocument, RerankingConfiguration, RerankingConfigurationType,
};
use bedrock::types::InferenceProfileType;
use bedrock_double::{
    Double, DoubleConfig, Operation, TEST_ACCESS_KEY, TEST_API_KEY, TEST_API_KEY_NAME,
    TEST_APP_PROFILE_ARN, TEST_APP_PROFILE_ID,
};
use br::error::ProvideErrorMetadata;
use common::*;

fn source(text: &str) -> RerankSource {
    RerankSource::builder()
        .r#type(RerankSourceType::Inline)
        .inline_document_source(
            RerankDocument::builder()
                .r#type(RerankDocumentType::Text)
                .text_document(RerankTextDocument::builder().text(text).build())
                .build()
                .expect("doc"),
        )
        .build()
        .expect("source")
}

fn config(arn: &str, n: Option<i32>) -> RerankingConfiguration {
    RerankingConfiguration::builder()
        .r#type(RerankingConfigurationType::BedrockRerankingModel)
        .bedrock_reranking_configuration(
            BedrockRerankingConfiguration::builder()
                .set_number_of_results(n)
                .model_configuration(
                    BedrockRerankingModelConfiguration::builder()
                        .model_arn(arn)
                        .build()
                        .expect("mc"),
                )
                .build(),
        )
        .build()
        .expect("config")
}

fn query(text: &str) -> RerankQuery {
    RerankQuery::builder()
        .r#type(RerankQueryContentType::Text)
        .text_query(RerankTextDocument::builder().text(text).build())
        .build()
        .expect("query")
}

#[tokio::test]
async fn rerank_api() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = agent(&d, "us-west-2");
    let arn = "arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0";
    let out = c
        .rerank()
        .queries(query("what is rust?"))
        .sources(source("Python is a snake."))
        .sources(source("Rust is a systems programming language."))
        .sources(source("Rust also means iron oxide."))
        .reranking_configuration(config(arn, Some(2)))
        .send()
        .await
        .expect("rerank");
    let results = out.results();
    assert_eq!(results.len(), 2);
    assert!(results[0].relevance_score() >= results[1].relevance_score());
    assert!(results.iter().all(|r| r.index() != 0));
    let rec = d.last_request().expect("record");
    assert_eq!(rec.operation, Operation::Rerank);
    assert_eq!(rec.model_id.as_deref(), Some(arn));
    assert_eq!(rec.resolved_model.as_deref(), Some("amazon.rerank-v1:0"));
    assert_eq!(rec.body["queries"][0]["textQuery"]["text"], "what is rust?");

    // More results than sources.
    let e = c
        .rerank()
        .queries(query("q"))
        .sources(source("a"))
        .reranking_configuration(config(arn, Some(5)))
        .send()
        .await
        .expect_err("too many");
    assert!(e.into_service_error().is_validation_exception());
    // Profile ARNs are not accepted by the Rerank API.
    let profile = "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.amazon.rerank-v1:0";
    let e = c
        .rerank()
        .queries(query("q"))
        .sources(source("a"))
        .reranking_configuration(config(profile, None))
        .send()
        .await
        .expect_err("profile");
    assert_eq!(
        e.message(),
        Some("The provided model ARN for reranking is invalid.")
    );
    // A marker in the query scripts the scores.
    let out = c
        .rerank()
        .queries(query(r#"q [[double: {"scores": [0.2, 0.8]}]]"#))
        .sources(source("a"))
        .sources(source("b"))
        .reranking_configuration(config(arn, None))
        .send()
        .await
        .expect("scripted");
    assert_eq!(out.results()[0].index(), 1);
    assert!((out.results()[0].relevance_score() - 0.8).abs() < 1e-6);
    // And an error.
    let e = c
        .rerank()
        .queries(query(r#"q [[double: {"error": {"status": 429, "type": "ThrottlingException", "message": "slow"}}]]"#))
        .sources(source("a"))
        .reranking_configuration(config(arn, None))
        .send()
        .await
        .expect_err("throttled");
    assert!(e.into_service_error().is_throttling_exception());
}

#[tokio::test]
async fn inference_profiles() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = control(&d, "us-east-1");
    let p = c
        .get_inference_profile()
        .inference_profile_identifier("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
        .send()
        .await
        .expect("system profile");
    assert_eq!(
        p.inference_profile_id(),
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    );
    assert_eq!(p.r#type(), &InferenceProfileType::SystemDefined);
    assert_eq!(
        p.inference_profile_arn(),
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    );
    assert!(p.models().iter().any(|m| m.model_arn()
        == Some(
            "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
        )));
    assert!(p.created_at().is_some());

    // By ARN, and the application profile by id and ARN.
    c.get_inference_profile()
        .inference_profile_identifier(p.inference_profile_arn())
        .send()
        .await
        .expect("by arn");
    let app = c
        .get_inference_profile()
        .inference_profile_identifier(TEST_APP_PROFILE_ARN)
        .send()
        .await
        .expect("app");
    assert_eq!(app.r#type(), &InferenceProfileType::Application);
    assert_eq!(app.inference_profile_id(), TEST_APP_PROFILE_ID);
    assert!(app.models().iter().all(|m| m.model_arn().is_some_and(|a| {
        a.ends_with("foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0")
    })));
    c.get_inference_profile()
        .inference_profile_identifier(TEST_APP_PROFILE_ID)
        .send()
        .await
        .expect("app by id");

    let e = c
        .get_inference_profile()
        .inference_profile_identifier("eu.anthropic.claude-sonnet-4-5-20250929-v1:0")
        .send()
        .await
        .expect_err("other geography");
    assert!(e.into_service_error().is_resource_not_found_exception());

    // Listing, paginated.
    let mut token = None;
    let mut seen = Vec::new();
    loop {
        let page = c
            .list_inference_profiles()
            .max_results(10)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("page");
        assert!(page.inference_profile_summaries().len() <= 10);
        seen.extend(
            page.inference_profile_summaries()
                .iter()
                .map(|s| s.inference_profile_id().to_string()),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert!(seen.len() > 10);
    // A page limit makes pages smaller than asked; following nextToken gets them all.
    let small = Double::start(DoubleConfig::default().page_limit(3)).expect("start");
    let mut pages = control(&small, "us-east-1")
        .list_inference_profiles()
        .max_results(1000)
        .into_paginator()
        .send();
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.expect("page");
        assert!(page.inference_profile_summaries().len() <= 3);
        all.extend(
            page.inference_profile_summaries()
                .iter()
                .map(|s| s.inference_profile_id().to_string()),
        );
    }
    assert_eq!(all, seen);
    assert!(seen.contains(&"global.anthropic.claude-opus-4-6-v1".to_string()));
    assert!(seen.contains(&TEST_APP_PROFILE_ID.to_string()));
    assert!(!seen.iter().any(|s| s.starts_with("eu.")));
    let apps = c
        .list_inference_profiles()
        .type_equals(InferenceProfileType::Application)
        .send()
        .await
        .expect("apps");
    assert_eq!(apps.inference_profile_summaries().len(), 1);
    assert_eq!(
        d.requests_for(Operation::ListInferenceProfiles)
            .last()
            .and_then(|r| r.query.clone())
            .as_deref(),
        Some("type=APPLICATION")
    );
}

#[tokio::test]
async fn foundation_models() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = control(&d, "us-east-1");
    let all = c.list_foundation_models().send().await.expect("list");
    let ids: Vec<&str> = all.model_summaries().iter().map(|m| m.model_id()).collect();
    assert!(ids.contains(&"amazon.titan-embed-text-v2:0"));
    assert!(
        !ids.contains(&"amazon.rerank-v1:0"),
        "not offered in us-east-1"
    );
    let sonnet = all
        .model_summaries()
        .iter()
        .find(|m| m.model_id() == "anthropic.claude-sonnet-4-5-20250929-v1:0")
        .expect("sonnet");
    assert_eq!(
        sonnet.inference_types_supported(),
        &[bedrock::types::InferenceType::from("INFERENCE_PROFILE")]
    );
    assert_eq!(sonnet.provider_name(), Some("Anthropic"));

    let emb = c
        .list_foundation_models()
        .by_output_modality(bedrock::types::ModelModality::Embedding)
        .send()
        .await
        .expect("embeddings");
    assert!(emb.model_summaries().iter().all(|m| {
        m.output_modalities()
            .contains(&bedrock::types::ModelModality::Embedding)
    }));
    assert!(emb.model_summaries().len() >= 5);
    let cohere = c
        .list_foundation_models()
        .by_provider("cohere")
        .send()
        .await
        .expect("by provider");
    assert!(
        cohere
            .model_summaries()
            .iter()
            .all(|m| m.provider_name() == Some("Cohere"))
    );

    let one = c
        .get_foundation_model()
        .model_identifier("amazon.nova-pro-v1:0")
        .send()
        .await
        .expect("get");
    assert_eq!(
        one.model_details().map(|m| m.model_id()),
        Some("amazon.nova-pro-v1:0")
    );
    let e = c
        .get_foundation_model()
        .model_identifier("amazon.nova-ultra-v9:0")
        .send()
        .await
        .expect_err("unknown");
    assert!(e.into_service_error().is_validation_exception());
}

#[tokio::test]
async fn model_availability() {
    use bedrock::types::{
        AgreementStatus, AuthorizationStatus, EntitlementAvailability, RegionAvailability,
    };
    let nova = "amazon.nova-pro-v1:0";
    let d = Double::start(DoubleConfig::default().without_model_access(nova)).expect("start");
    let c = control(&d, "us-east-1");
    let open = c
        .get_foundation_model_availability()
        .model_id("amazon.titan-embed-text-v2:0")
        .send()
        .await
        .expect("availability");
    assert_eq!(open.model_id(), "amazon.titan-embed-text-v2:0");
    assert_eq!(
        open.agreement_availability().map(|a| a.status()),
        Some(&AgreementStatus::Available)
    );
    assert_eq!(
        open.authorization_status(),
        &AuthorizationStatus::Authorized
    );
    assert_eq!(
        open.entitlement_availability(),
        &EntitlementAvailability::Available
    );
    assert_eq!(open.region_availability(), &RegionAvailability::Available);

    // Per region: the rerank model is not offered in us-east-1.
    let rerank = c
        .get_foundation_model_availability()
        .model_id("amazon.rerank-v1:0")
        .send()
        .await
        .expect("rerank");
    assert_eq!(
        rerank.region_availability(),
        &RegionAvailability::NotAvailable
    );
    let west = control(&d, "us-west-2")
        .get_foundation_model_availability()
        .model_id("amazon.rerank-v1:0")
        .send()
        .await
        .expect("rerank in us-west-2");
    assert_eq!(west.region_availability(), &RegionAvailability::Available);

    // A model the account has no access to: said here, and refused when invoked.
    let closed = c
        .get_foundation_model_availability()
        .model_id(nova)
        .send()
        .await
        .expect("closed");
    assert_eq!(
        closed.authorization_status(),
        &AuthorizationStatus::NotAuthorized
    );
    assert_eq!(
        closed.entitlement_availability(),
        &EntitlementAvailability::NotAvailable
    );
    let e = common::runtime(&d)
        .converse()
        .model_id(format!("us.{nova}"))
        .messages(
            br::types::Message::builder()
                .role(br::types::ConversationRole::User)
                .content(br::types::ContentBlock::Text("hi".into()))
                .build()
                .expect("message"),
        )
        .send()
        .await
        .expect_err("no model access");
    let e = e.into_service_error();
    assert!(e.is_access_denied_exception(), "{e:?}");
    assert!(
        e.message()
            .is_some_and(|m| m.contains("don't have access to the model")),
        "{e:?}"
    );

    let e = c
        .get_foundation_model_availability()
        .model_id("amazon.nova-ultra-v9:0")
        .send()
        .await
        .expect_err("unknown");
    assert!(e.into_service_error().is_resource_not_found_exception());
    // A Bedrock API key works as for the other control-plane operations.
    control_bearer(&d, TEST_API_KEY)
        .get_foundation_model_availability()
        .model_id("amazon.titan-embed-text-v2:0")
        .send()
        .await
        .expect("bearer");
    let recorded = d.requests_for(Operation::GetFoundationModelAvailability);
    assert_eq!(recorded.len(), 6);
    assert_eq!(recorded[5].identity, format!("bearer:{TEST_API_KEY_NAME}"));
    assert_eq!(
        recorded[0].model_id.as_deref(),
        Some("amazon.titan-embed-text-v2:0")
    );
    assert_eq!(recorded[0].identity, TEST_ACCESS_KEY);
}
