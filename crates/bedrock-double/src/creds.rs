//! Stand-ins for the credential sources of the AWS default chain, so every
//! auth path can be tested offline through the SDK's own endpoint overrides:
//!
//! - STS (awsQuery: form body, XML answer) AssumeRole, AssumeRoleWithWebIdentity
//!   and GetCallerIdentity. Credentials STS issues are remembered and then
//!   accepted for SigV4, so a whole chain can be proven end to end.
//!   https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
//!   https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
//!   https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
//! - EC2 instance metadata, IMDSv2 only (a session token is required):
//!   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-retrieval.html
//!   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html#instance-metadata-security-credentials
//! - ECS container credentials:
//!   https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html

use crate::config::KeyPair;
use crate::error::{AwsError, xml_escape};
use crate::server::{Call, Reply, lock};
use crate::util::{fnv1a64, iso8601};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

fn form(call: &Call<'_>) -> HashMap<String, String> {
    form_urlencoded::parse(call.body).into_owned().collect()
}

fn sts_validation(msg: String) -> AwsError {
    AwsError::new(400, "ValidationError", msg)
}

/// RoleArn, RoleSessionName and DurationSeconds, checked as STS does.
fn role_params(
    f: &HashMap<String, String>,
    call: &Call<'_>,
) -> Result<(String, String, Duration), AwsError> {
    let role = f
        .get("RoleArn")
        .cloned()
        .ok_or_else(|| sts_validation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null".into()))?;
    if role.len() < 20 || !role.starts_with("arn:") {
        return Err(sts_validation(format!("{role} is invalid")));
    }
    let session = f.get("RoleSessionName").cloned().ok_or_else(|| {
        sts_validation("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null".into())
    })?;
    let valid_chars = session
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if session.len() < 2 || session.len() > 64 || !valid_chars {
        return Err(sts_validation(format!(
            "1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    let duration = match f.get("DurationSeconds") {
        None => call.state.config.sts_default_duration,
        Some(d) => {
            let secs: u64 = d.parse().map_err(|_| {
                sts_validation(format!(
                    "Value '{d}' at 'durationSeconds' is not a valid integer"
                ))
            })?;
            if secs < 900 {
                return Err(sts_validation(format!(
                    "1 validation error detected: Value '{secs}' at 'durationSeconds' failed to \
                     satisfy constraint: Member must have value greater than or equal to 900"
                )));
            }
            if secs > 3600 {
                return Err(sts_validation(
                    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".into(),
                ));
            }
            Duration::from_secs(secs)
        }
    };
    Ok((role, session, duration))
}

/// Issues temporary credentials for `role`, remembers them for SigV4, and
/// renders the shared XML parts.
fn issue(call: &Call<'_>, role: &str, session: &str, duration: Duration) -> (String, String) {
    let n = call.state.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let role_name = role.rsplit('/').next().unwrap_or("role");
    let account = &call.state.config.account_id;
    let assumed_arn = format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}");
    let expires = SystemTime::now() + duration;
    let pair = KeyPair {
        access_key_id: format!("ASIADBLSTS{n:010}"),
        secret_access_key: format!("doubleStsSecret/{n:024}"),
        session_token: Some(format!(
            "FwoGZXIvYXdzEDoubleStsToken/{role_name}/{session}/{n}"
        )),
        principal_arn: assumed_arn.clone(),
        role_arn: Some(role.to_string()),
        expires_at: Some(expires),
        expired: false,
    };
    let role_id = format!("AROA{:016X}", fnv1a64(role.as_bytes()));
    let user = format!(
        "    <AssumedRoleUser>\n      <Arn>{}</Arn>\n      <AssumedRoleId>{}:{}</AssumedRoleId>\n    </AssumedRoleUser>\n",
        xml_escape(&assumed_arn),
        role_id,
        xml_escape(session)
    );
    let creds = format!(
        "    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      \
         <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n",
        pair.access_key_id,
        xml_escape(&pair.secret_access_key),
        xml_escape(pair.session_token.as_deref().unwrap_or_default()),
        iso8601(expires)
    );
    lock(&call.state.dynamic_keys).insert(pair.access_key_id.clone(), pair);
    (user, creds)
}

fn xml_reply(body: String) -> Reply {
    Reply::bytes(200, "text/xml", body.into_bytes())
}

fn metadata(call: &Call<'_>) -> String {
    format!(
        "  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n",
        call.request_id
    )
}

fn role_allowed(call: &Call<'_>, role: &str) -> bool {
    call.state.config.sts_roles.iter().any(|r| r == role)
}

pub(crate) fn assume_role(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let f = form(call);
    let (role, session, duration) = role_params(&f, call)?;
    if !role_allowed(call, &role) {
        let who = call.identity.principal_arn.clone().unwrap_or_default();
        return Err(AwsError::new(
            403,
            "AccessDenied",
            format!("User: {who} is not authorized to perform: sts:AssumeRole on resource: {role}"),
        ));
    }
    let (user, creds) = issue(call, &role, &session, duration);
    Ok(xml_reply(format!(
        "<AssumeRoleResponse xmlns=\"{STS_NS}\">\n  <AssumeRoleResult>\n{user}{creds}    \
         <PackedPolicySize>6</PackedPolicySize>\n  </AssumeRoleResult>\n{}</AssumeRoleResponse>\n",
        metadata(call)
    )))
}

pub(crate) fn assume_role_with_web_identity(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let f = form(call);
    let (role, session, duration) = role_params(&f, call)?;
    let token = f.get("WebIdentityToken").cloned().unwrap_or_default();
    if token.len() < 4 {
        return Err(sts_validation(
            "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: \
             Member must have length greater than or equal to 4"
                .into(),
        ));
    }
    if !call.state.config.web_identity_tokens.contains(&token) {
        // Wording approximated.
        return Err(AwsError::new(
            400,
            "InvalidIdentityToken",
            "The web identity token that was passed could not be validated by AWS. Get a new \
             identity token from the identity provider and then retry the request.",
        ));
    }
    if !role_allowed(call, &role) {
        return Err(AwsError::new(
            403,
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        ));
    }
    let (user, creds) = issue(call, &role, &session, duration);
    Ok(xml_reply(format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"{STS_NS}\">\n  <AssumeRoleWithWebIdentityResult>\n    \
         <SubjectFromWebIdentityToken>system:serviceaccount:default:double</SubjectFromWebIdentityToken>\n    \
         <Audience>sts.amazonaws.com</Audience>\n{user}{creds}    <Provider>bedrock-double</Provider>\n  \
         </AssumeRoleWithWebIdentityResult>\n{}</AssumeRoleWithWebIdentityResponse>\n",
        metadata(call)
    )))
}

pub(crate) fn get_caller_identity(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let arn = call.identity.principal_arn.clone().unwrap_or_default();
    let user_id = format!("AIDA{:016X}", fnv1a64(arn.as_bytes()));
    Ok(xml_reply(format!(
        "<GetCallerIdentityResponse xmlns=\"{STS_NS}\">\n  <GetCallerIdentityResult>\n    \
         <Arn>{}</Arn>\n    <UserId>{user_id}</UserId>\n    <Account>{}</Account>\n  \
         </GetCallerIdentityResult>\n{}</GetCallerIdentityResponse>\n",
        xml_escape(&arn),
        call.state.config.account_id,
        metadata(call)
    )))
}

fn plain(status: u16, text: &str) -> Reply {
    Reply::bytes(status, "text/plain", text.as_bytes().to_vec())
}

/// `PUT /latest/api/token` with `x-aws-ec2-metadata-token-ttl-seconds` (1–21600).
pub(crate) fn imds_token(call: &mut Call<'_>) -> Reply {
    if call.header("x-forwarded-for").is_some() {
        return plain(403, "Forbidden");
    }
    let ttl = call
        .header("x-aws-ec2-metadata-token-ttl-seconds")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|t| (1..=21_600).contains(t));
    let Some(ttl) = ttl else {
        return plain(400, "Bad Request");
    };
    let n = call.state.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let token = format!("AQAEADoubleImdsToken{n:08}==");
    lock(&call.state.imds_tokens)
        .insert(token.clone(), SystemTime::now() + Duration::from_secs(ttl));
    plain(200, &token).header("x-aws-ec2-metadata-token-ttl-seconds", ttl)
}

/// `GET /latest/meta-data/iam/security-credentials/[role]`, IMDSv2 token required.
pub(crate) fn imds_credentials(call: &mut Call<'_>) -> Reply {
    let valid = call
        .header("x-aws-ec2-metadata-token")
        .and_then(|t| lock(&call.state.imds_tokens).get(t).copied())
        .is_some_and(|exp| exp > SystemTime::now());
    if !valid {
        return plain(401, "Unauthorized");
    }
    let rest = call
        .path
        .strip_prefix("/latest/meta-data/iam/security-credentials")
        .map(|r| r.trim_start_matches('/'));
    let Some(rest) = rest else {
        return plain(404, "Not Found");
    };
    let Some((role, pair)) = &call.state.config.imds_role else {
        // An instance without a role: EC2 answers 404 on the listing.
        return plain(404, "Not Found");
    };
    if rest.is_empty() {
        return plain(200, role);
    }
    if rest != role {
        return plain(404, "Not Found");
    }
    let now = SystemTime::now();
    let (pair, expires) = match call.state.config.imds_credential_lifetime {
        None => (pair.clone(), now + Duration::from_secs(6 * 3600)),
        Some(lifetime) => {
            // Rotation: a new key pair per fetch, remembered (with its expiry) for SigV4.
            let n = call.state.issued.fetch_add(1, Ordering::SeqCst) + 1;
            let expires = now + lifetime;
            let fresh = KeyPair {
                access_key_id: format!("ASIADBLIMDS{n:09}"),
                secret_access_key: format!("doubleImdsSecret/{n:023}"),
                session_token: Some(format!("IQoJDoubleImdsToken/{role}/{n}")),
                expires_at: Some(expires),
                ..pair.clone()
            };
            lock(&call.state.dynamic_keys).insert(fresh.access_key_id.clone(), fresh.clone());
            (fresh, expires)
        }
    };
    let body = json!({
        "Code": "Success",
        "LastUpdated": iso8601(now),
        "Type": "AWS-HMAC",
        "AccessKeyId": pair.access_key_id,
        "SecretAccessKey": pair.secret_access_key,
        "Token": pair.session_token,
        "Expiration": iso8601(expires),
    });
    Reply::bytes(
        200,
        "text/plain",
        serde_json::to_vec_pretty(&body).unwrap_or_default(),
    )
}

/// The ECS container credentials endpoint.
pub(crate) fn ecs_credentials(call: &mut Call<'_>) -> Reply {
    let Some(ecs) = &call.state.config.ecs else {
        return plain(404, "Not Found");
    };
    if let Some(expected) = &ecs.auth_token
        && call.header("authorization") != Some(expected.as_str())
    {
        let body = json!({"code": "AccessDenied", "message": "Invalid Authorization token"});
        return Reply::bytes(
            401,
            "application/json",
            serde_json::to_vec(&body).unwrap_or_default(),
        );
    }
    let body = json!({
        "AccessKeyId": ecs.credentials.access_key_id,
        "SecretAccessKey": ecs.credentials.secret_access_key,
        "Token": ecs.credentials.session_token,
        "Expiration": iso8601(SystemTime::now() + Duration::from_secs(6 * 3600)),
        "RoleArn": ecs.role_arn,
    });
    Reply::json(&body)
}
