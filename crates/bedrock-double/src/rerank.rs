//! bedrock-agent-runtime `POST /rerank` (the Rerank API).
//!
//! Shape: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_agent-runtime_Rerank.html
//! (RerankQuery, RerankSource, RerankingConfiguration,
//! BedrockRerankingModelConfiguration). The model is named by its
//! foundation-model ARN; inference-profile ARNs are rejected, which is why
//! the plugin calls rerank models through InvokeModel. Bearer API keys never
//! reach this handler: AWS does not accept them on Agents for Bedrock
//! Runtime, and `auth` rejects them.

use crate::catalog::{ModelKind, Route};
use crate::converse::{as_arr, as_obj, as_str, only_keys, required};
use crate::error::AwsError;
use crate::invoke::{RerankRequest, rank};
use crate::runtime::{check_access, finish, parse_json};
use crate::script::extract_marker;
use crate::server::{Call, Reply};
use serde_json::{Value, json};

fn length_error(at: &str, value: usize, rule: &str) -> AwsError {
    AwsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: {rule}"
    ))
}

fn enum_is(v: &Value, path: &str, expected: &[&str]) -> Result<String, AwsError> {
    let s = as_str(v, path)?;
    if !expected.contains(&s) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{s}' at '{}' failed to satisfy constraint: \
             Member must satisfy enum value set: [{}]",
            path.trim_start_matches("#/").replace('/', "."),
            expected.join(", ")
        )));
    }
    Ok(s.to_string())
}

pub(crate) fn rerank(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let body = parse_json(call.body)?;
    let root = as_obj(&body, "#")?;
    only_keys(
        root,
        &["queries", "sources", "rerankingConfiguration", "nextToken"],
        "#",
    )?;

    let queries = as_arr(required(root, "queries", "#")?, "#/queries")?;
    if queries.len() != 1 {
        return Err(length_error(
            "queries",
            queries.len(),
            "Member must have length less than or equal to 1 and greater than or equal to 1",
        ));
    }
    let q = as_obj(&queries[0], "#/queries/0")?;
    only_keys(q, &["type", "textQuery"], "#/queries/0")?;
    enum_is(
        required(q, "type", "#/queries/0")?,
        "#/queries/0/type",
        &["TEXT"],
    )?;
    let tq = as_obj(
        required(q, "textQuery", "#/queries/0")?,
        "#/queries/0/textQuery",
    )?;
    let mut query = as_str(
        required(tq, "text", "#/queries/0/textQuery")?,
        "#/queries/0/textQuery/text",
    )?
    .to_string();

    let sources = as_arr(required(root, "sources", "#")?, "#/sources")?;
    if sources.is_empty() || sources.len() > 1000 {
        return Err(length_error(
            "sources",
            sources.len(),
            "Member must have length less than or equal to 1000 and greater than or equal to 1",
        ));
    }
    let mut documents = Vec::with_capacity(sources.len());
    for (i, s) in sources.iter().enumerate() {
        let p = format!("#/sources/{i}");
        let so = as_obj(s, &p)?;
        only_keys(so, &["type", "inlineDocumentSource"], &p)?;
        enum_is(required(so, "type", &p)?, &format!("{p}/type"), &["INLINE"])?;
        let dp = format!("{p}/inlineDocumentSource");
        let d = as_obj(required(so, "inlineDocumentSource", &p)?, &dp)?;
        only_keys(d, &["type", "textDocument", "jsonDocument"], &dp)?;
        let ty = enum_is(
            required(d, "type", &dp)?,
            &format!("{dp}/type"),
            &["TEXT", "JSON"],
        )?;
        if ty == "TEXT" {
            let td = as_obj(
                required(d, "textDocument", &dp)?,
                &format!("{dp}/textDocument"),
            )?;
            documents.push(
                as_str(
                    required(td, "text", &dp)?,
                    &format!("{dp}/textDocument/text"),
                )?
                .to_string(),
            );
        } else {
            documents.push(required(d, "jsonDocument", &dp)?.to_string());
        }
    }

    let cp = "#/rerankingConfiguration";
    let rc = as_obj(required(root, "rerankingConfiguration", "#")?, cp)?;
    only_keys(rc, &["type", "bedrockRerankingConfiguration"], cp)?;
    enum_is(
        required(rc, "type", cp)?,
        &format!("{cp}/type"),
        &["BEDROCK_RERANKING_MODEL"],
    )?;
    let bp = format!("{cp}/bedrockRerankingConfiguration");
    let brc = as_obj(required(rc, "bedrockRerankingConfiguration", cp)?, &bp)?;
    only_keys(brc, &["numberOfResults", "modelConfiguration"], &bp)?;
    let mp = format!("{bp}/modelConfiguration");
    let mc = as_obj(required(brc, "modelConfiguration", &bp)?, &mp)?;
    only_keys(mc, &["modelArn", "additionalModelRequestFields"], &mp)?;
    let arn = as_str(required(mc, "modelArn", &mp)?, &format!("{mp}/modelArn"))?.to_string();
    call.model_id = Some(arn.clone());

    let invalid_arn = || AwsError::validation("The provided model ARN for reranking is invalid.");
    let resolved = call
        .state
        .catalog
        .resolve(&arn, &call.region)
        .map_err(|_| invalid_arn())?;
    if !arn.starts_with("arn:")
        || resolved.route != Route::Direct
        || resolved.model.kind != ModelKind::Rerank
    {
        return Err(invalid_arn());
    }
    call.resolved = Some(resolved.model.id.clone());
    check_access(call, &resolved)?;

    let top_n = match brc.get("numberOfResults") {
        None => None,
        Some(n) => {
            let n = n.as_u64().ok_or_else(|| {
                crate::converse::wrong_type(&format!("{bp}/numberOfResults"), "Integer", n)
            })? as usize;
            if n == 0 || n > 1000 {
                return Err(length_error(
                    "rerankingConfiguration.bedrockRerankingConfiguration.numberOfResults",
                    n,
                    "Member must have value less than or equal to 1000 and greater than or equal to 1",
                ));
            }
            if n > documents.len() {
                // Wording approximated (dify#12640 reports this case).
                return Err(AwsError::validation(format!(
                    "The numberOfResults ({n}) exceeds the number of sources ({}).",
                    documents.len()
                )));
            }
            Some(n)
        }
    };

    let marker = match extract_marker(&query)? {
        Some((clean, s)) => {
            query = clean;
            Some(s)
        }
        None => None,
    };
    let script = call.script(marker);
    let req = RerankRequest {
        query,
        documents,
        top_n,
        cohere: false,
    };
    let results: Vec<Value> = rank(&req, script.scores.as_deref())
        .into_iter()
        .map(|(index, score)| json!({"index": index, "relevanceScore": score}))
        .collect();
    finish(&script, Reply::json(&json!({ "results": results })))
}
