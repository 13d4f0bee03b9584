//! bedrock-runtime operations: Converse, ConverseStream, InvokeModel,
//! InvokeModelWithResponseStream and CountTokens. Each resolves the model
//! (catalogue, region, on-demand, IAM denials, model access), validates the body, picks the
//! script, and renders the answer.

use crate::body::DoubleBody;
use crate::catalog::{ModelKind, Resolved, Route};
use crate::controls;
use crate::converse;
use crate::error::AwsError;
use crate::guardrail;
use crate::invoke::{self, Parsed};
use crate::script::Script;
use crate::server::{Call, Reply};
use serde_json::Value;
use std::time::Duration;

/// Resolves the path's model id and applies IAM denials and the account's model access.
pub(crate) fn resolve(call: &mut Call<'_>) -> Result<Resolved, AwsError> {
    let id = call.model_id.clone().unwrap_or_default();
    let r = if call.op == crate::record::Operation::CountTokens {
        call.state.catalog.resolve_for_counting(&id, &call.region)?
    } else {
        call.state.catalog.resolve(&id, &call.region)?
    };
    call.resolved = Some(r.model.id.clone());
    check_access(call, &r)?;
    Ok(r)
}

/// AccessDeniedException as IAM words it, e.g. "User:
/// arn:aws:iam::123456789012:user/x is not authorized to perform:
/// bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1::foundation-model/…
/// because no identity-based policy allows the bedrock:InvokeModel action"; then
/// the account's model access ([`crate::DoubleConfig::without_model_access`]).
pub(crate) fn check_access(call: &Call<'_>, r: &Resolved) -> Result<(), AwsError> {
    let requested = call.model_id.as_deref().unwrap_or_default();
    let profile_id = match &r.route {
        Route::Direct => None,
        Route::SystemProfile { id, .. } | Route::ApplicationProfile { id, .. } => Some(id.as_str()),
    };
    for (who, model) in &call.state.config.denied_models {
        if !call.identity.is(who) {
            continue;
        }
        let resource = if *model == r.model.id {
            r.model.arn(&call.region)
        } else if model == requested
            || *model == r.resource_arn
            || Some(model.as_str()) == profile_id
        {
            r.resource_arn.clone()
        } else {
            continue;
        };
        let principal = call.identity.principal_arn.clone().unwrap_or_default();
        let action = call.op.iam_action();
        return Err(AwsError::access_denied(format!(
            "User: {principal} is not authorized to perform: {action} on resource: {resource} \
             because no identity-based policy allows the {action} action"
        )));
    }
    // Account-level model access comes after IAM: the identity may call, the account
    // may not use the model. Message from the model-access troubleshooting page.
    if call
        .state
        .config
        .models_without_access
        .contains(&r.model.id)
    {
        return Err(AwsError::access_denied(
            "You don't have access to the model with the specified model ID.",
        ));
    }
    Ok(())
}

pub(crate) fn parse_json(body: &[u8]) -> Result<Value, AwsError> {
    serde_json::from_slice(body).map_err(|e| {
        AwsError::new(
            400,
            "SerializationException",
            format!("Unable to parse the request body as JSON: {e}"),
        )
    })
}

/// Applies a script's non-stream effects to a finished reply.
pub(crate) fn finish(script: &Script, mut reply: Reply) -> Result<Reply, AwsError> {
    if let Some(e) = script.http_error() {
        return Err(e);
    }
    let wait = script.first_byte_ms.unwrap_or(0) + script.stall.as_ref().map_or(0, |s| s.ms);
    if wait > 0 {
        reply.delay = Some(Duration::from_millis(wait));
    }
    reply.drop = script.drop_after.is_some();
    Ok(reply)
}

fn stream_reply(
    script: &Script,
    steps: Vec<crate::body::Step>,
    invoke: bool,
) -> Result<Reply, AwsError> {
    if let Some(e) = script.http_error() {
        return Err(e);
    }
    let mut reply = Reply::bytes(
        200,
        "application/vnd.amazon.eventstream",
        bytes::Bytes::new(),
    );
    reply.body = DoubleBody::stream(steps);
    if invoke {
        reply = reply.header("x-amzn-bedrock-content-type", "application/json");
    }
    reply.delay = script.first_byte_ms.map(Duration::from_millis);
    Ok(reply)
}

fn text_model(r: &Resolved) -> Result<(), AwsError> {
    if r.model.kind != ModelKind::Text {
        return Err(AwsError::validation(
            "This action doesn't support the model that you provided. Try again with a supported \
             text or chat model.",
        ));
    }
    Ok(())
}

/// The answer with what served it: the tier (or the script's) and latency, cache writes
/// per TTL.
fn served_answer(
    mut answer: converse::Answer,
    served: &controls::Served,
    script: &Script,
) -> converse::Answer {
    let mut served = served.clone();
    if let Some(tier) = &script.served_tier {
        served.service_tier = Some(tier.clone());
    }
    served.add_cache_details(&mut answer.usage);
    answer.served = served.response_fields();
    answer
}

fn no_streaming() -> AwsError {
    // Wording approximated.
    AwsError::validation("The model is unsupported for streaming.")
}

/// The answer to a valid Converse or ConverseStream request, with what its guardrail
/// does (a guardrail unknown in the call's region fails the call).
fn chat_answer(
    call: &Call<'_>,
    req: &converse::ConverseRequest,
    served: &controls::Served,
) -> Result<(Script, converse::Answer), AwsError> {
    let spec = req
        .guardrail
        .as_ref()
        .map(|g| guardrail::resolve(call, g))
        .transpose()?;
    let script = call.script(req.marker.clone());
    let mut answer = converse::answer(req, &script);
    if let (Some(spec), Some(g)) = (spec, &req.guardrail) {
        let outcome = guardrail::outcome(
            &spec,
            g,
            script.guardrail.as_ref(),
            req.input_chars,
            &answer.model_output(),
        );
        answer.apply_guardrail(outcome);
    }
    let answer = served_answer(answer, served, &script);
    Ok((script, answer))
}

pub(crate) fn converse(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let r = resolve(call)?;
    text_model(&r)?;
    let body = parse_json(call.body)?;
    let req = converse::validate(&body, &r.model, false)?;
    let served = controls::check(&body, &r.model, &r.route, &call.region)?;
    let (script, answer) = chat_answer(call, &req, &served)?;
    finish(&script, Reply::json(&converse::render_json(&answer)))
}

pub(crate) fn converse_stream(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let r = resolve(call)?;
    text_model(&r)?;
    if !r.model.streaming {
        return Err(no_streaming());
    }
    let body = parse_json(call.body)?;
    let req = converse::validate(&body, &r.model, true)?;
    let served = controls::check(&body, &r.model, &r.route, &call.region)?;
    let (script, answer) = chat_answer(call, &req, &served)?;
    let plan = converse::render_stream(&answer, converse::pacing(&script));
    stream_reply(&script, plan.finish(), false)
}

fn invoke_headers(mut reply: Reply, a: &invoke::InvokeAnswer, latency: u64) -> Reply {
    reply = reply
        .header("x-amzn-bedrock-input-token-count", a.input_tokens)
        .header("x-amzn-bedrock-invocation-latency", latency);
    if let Some(o) = a.output_tokens {
        reply = reply.header("x-amzn-bedrock-output-token-count", o);
    }
    reply
}

pub(crate) fn invoke(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let r = resolve(call)?;
    let body = invoke::parse_body(call.body)?;
    let (parsed, marker) = invoke::parse(&r.model, &body)?;
    let script = call.script(marker);
    let answer = match &parsed {
        Parsed::Embed(e) => invoke::answer_embed(e, ""),
        Parsed::Rerank(q) => invoke::answer_rerank(q, &script),
        Parsed::Anthropic(a) => invoke::answer_anthropic(a, &script, &r.model),
    };
    let latency = script.latency_ms.unwrap_or(100);
    let reply = invoke_headers(Reply::json(&answer.body), &answer, latency);
    finish(&script, reply)
}

pub(crate) fn invoke_stream(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let r = resolve(call)?;
    if !r.model.streaming || r.model.kind != ModelKind::Text {
        return Err(no_streaming());
    }
    let body = invoke::parse_body(call.body)?;
    let (parsed, marker) = invoke::parse(&r.model, &body)?;
    let script = call.script(marker);
    match parsed {
        Parsed::Anthropic(a) => {
            let plan = invoke::stream_anthropic(&a, &script, &r.model);
            stream_reply(&script, plan.finish(), true)
        }
        _ => Err(no_streaming()),
    }
}

pub(crate) fn count_tokens(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let r = resolve(call)?;
    if !r.model.count_tokens {
        // Wording approximated.
        return Err(AwsError::validation(
            "The provided model doesn't support counting tokens.",
        ));
    }
    let body = parse_json(call.body)?;
    let (tokens, marker) = converse::count_tokens_request(&body, &r.model)?;
    let script = call.script(marker);
    let n = script
        .usage
        .as_ref()
        .and_then(|u| u.input_tokens)
        .unwrap_or(tokens);
    finish(
        &script,
        Reply::json(&serde_json::json!({ "inputTokens": n })),
    )
}
