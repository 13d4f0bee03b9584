//! Authentication as AWS does it: SigV4 verified by re-signing the request
//! with `aws-sigv4` and the secret the double knows, and Bedrock API keys
//! (`Authorization: Bearer …`) where AWS accepts them.
//!
//! Rejections carry the codes and texts AWS sends:
//! - unknown access key / wrong session token: `UnrecognizedClientException`
//!   "The security token included in the request is invalid." (STS:
//!   `InvalidClientTokenId`);
//! - signature mismatch: `InvalidSignatureException` (STS: `SignatureDoesNotMatch`);
//! - expired session token: `ExpiredTokenException` "The security token
//!   included in the request is expired" (STS: `ExpiredToken`);
//! - a bearer key on a service that does not take API keys (Agents for
//!   Bedrock Runtime, STS), which AWS documents at
//!   https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys-supported.html:
//!   the header is parsed as a malformed SigV4 header, `IncompleteSignatureException`.
//!
//! Common error codes: https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html

use crate::config::{ApiKey, KeyPair};
use crate::error::{AwsError, Protocol};
use crate::util::{fnv1a64, parse_amz_date};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SessionTokenMode, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity as SigningIdentity;
use http::HeaderMap;
use std::time::{Duration, SystemTime};

/// Which AWS service an endpoint belongs to; decides accepted schemes, the
/// expected signing name and the error vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// bedrock-runtime: SigV4 (`bedrock`) or API key.
    Runtime,
    /// bedrock-agent-runtime: SigV4 (`bedrock`) only.
    AgentRuntime,
    /// bedrock control plane: SigV4 (`bedrock`) or API key.
    ControlPlane,
    /// STS: SigV4 (`sts`) only.
    Sts,
    /// bedrock-mantle: `Authorization: Bearer` only, with an API key or a token derived
    /// from AWS credentials (a presigned `CallWithBearerToken` URL).
    Mantle,
}

impl Service {
    fn signing_name(self) -> &'static str {
        match self {
            Service::Sts => "sts",
            _ => "bedrock",
        }
    }

    fn accepts_bearer(self) -> bool {
        matches!(self, Service::Runtime | Service::ControlPlane)
    }

    fn protocol(self) -> Protocol {
        match self {
            Service::Sts => Protocol::Query,
            Service::Mantle => Protocol::OpenAi,
            _ => Protocol::RestJson,
        }
    }
}

/// Who made a request (also filled, as far as known, for rejected requests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    /// `AKIA…`, `bearer:<name>` or `anonymous`.
    pub label: String,
    pub access_key_id: Option<String>,
    pub api_key_name: Option<String>,
    pub principal_arn: Option<String>,
    pub role_arn: Option<String>,
    pub region: Option<String>,
    pub service: Option<String>,
}

impl Identity {
    pub fn anonymous() -> Self {
        Self {
            label: "anonymous".into(),
            ..Self::default()
        }
    }

    /// Whether a denial rule naming `who` applies to this identity.
    pub fn is(&self, who: &str) -> bool {
        self.label == who
            || self.access_key_id.as_deref() == Some(who)
            || self.api_key_name.as_deref() == Some(who)
            || self.principal_arn.as_deref() == Some(who)
            || self.role_arn.as_deref() == Some(who)
    }
}

/// Kinds of authentication failure, mapped per service to AWS's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Missing,
    Incomplete,
    Unrecognized,
    Expired,
    BadSignature,
}

fn fail(service: Service, kind: Failure, message: String) -> AwsError {
    let sts = service.protocol() == Protocol::Query;
    let (status, code) = match (kind, sts) {
        (Failure::Missing, false) => (403, "MissingAuthenticationTokenException"),
        (Failure::Missing, true) => (403, "MissingAuthenticationToken"),
        (Failure::Incomplete, false) => (403, "IncompleteSignatureException"),
        (Failure::Incomplete, true) => (400, "IncompleteSignature"),
        (Failure::Unrecognized, false) => (403, "UnrecognizedClientException"),
        (Failure::Unrecognized, true) => (403, "InvalidClientTokenId"),
        (Failure::Expired, false) => (403, "ExpiredTokenException"),
        (Failure::Expired, true) => (400, "ExpiredToken"),
        (Failure::BadSignature, false) => (403, "InvalidSignatureException"),
        (Failure::BadSignature, true) => (403, "SignatureDoesNotMatch"),
    };
    AwsError::new(status, code, message)
}

const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
const EXPIRED_TOKEN: &str = "The security token included in the request is expired";
const BAD_SIGNATURE: &str = "The request signature we calculated does not match the signature \
    you provided. Check your AWS Secret Access Key and signing method. Consult the service \
    documentation for details.";

/// Everything authentication needs to know about the request.
pub struct RequestView<'a> {
    pub method: &'a str,
    /// Raw path and query, as received.
    pub path_and_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The credentials the double knows.
pub struct Known<'a> {
    pub key_pair: &'a dyn Fn(&str) -> Option<KeyPair>,
    pub api_keys: &'a [ApiKey],
    pub now: SystemTime,
    pub clock_skew: Duration,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Authenticates a request for `service`. The identity is returned even on
/// failure (as far as it is known) so the request can be recorded.
pub fn authenticate(
    service: Service,
    req: &RequestView<'_>,
    known: &Known<'_>,
    allow_anonymous: bool,
) -> (Identity, Result<(), AwsError>) {
    if service == Service::Mantle {
        return mantle(req, known);
    }
    let Some(auth) = header(req.headers, "authorization") else {
        if allow_anonymous {
            return (Identity::anonymous(), Ok(()));
        }
        return (
            Identity::anonymous(),
            Err(fail(
                service,
                Failure::Missing,
                "Missing Authentication Token".into(),
            )),
        );
    };
    let scheme_end = auth.find(' ').unwrap_or(auth.len());
    let (scheme, rest) = (&auth[..scheme_end], auth[scheme_end..].trim());
    if scheme.eq_ignore_ascii_case("bearer") && service.accepts_bearer() {
        return bearer(rest, known.api_keys);
    }
    if scheme != "AWS4-HMAC-SHA256" {
        return (
            Identity::anonymous(),
            Err(incomplete(service, auth, req.headers)),
        );
    }
    sigv4(service, rest, req, known)
}

/// What AWS says about an `Authorization` header that is not SigV4. The
/// header value is echoed by AWS; the double redacts the credential part.
fn incomplete(service: Service, auth: &str, headers: &HeaderMap) -> AwsError {
    let scheme = auth.split(' ').next().unwrap_or_default();
    let mut msg = String::from(
        "Authorization header requires 'Credential' parameter. Authorization header requires \
         'Signature' parameter. Authorization header requires 'SignedHeaders' parameter.",
    );
    if header(headers, "x-amz-date").is_none() && header(headers, "date").is_none() {
        msg.push_str(
            " Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    }
    msg.push_str(&format!(" Authorization={scheme} <redacted>"));
    fail(service, Failure::Incomplete, msg)
}

fn bearer(key: &str, api_keys: &[ApiKey]) -> (Identity, Result<(), AwsError>) {
    if let Some(k) = api_keys.iter().find(|k| k.key == key) {
        let id = Identity {
            label: format!("bearer:{}", k.name),
            api_key_name: Some(k.name.clone()),
            principal_arn: Some(k.principal_arn.clone()),
            region: Some(k.region.clone()),
            service: Some("bedrock".into()),
            ..Identity::default()
        };
        return (id, Ok(()));
    }
    // Never record the key itself: a short stable hash identifies it.
    let id = Identity {
        label: format!("bearer:unknown-{:08x}", fnv1a64(key.as_bytes()) as u32),
        ..Identity::default()
    };
    // API Gateway-style authorizer answers (capital `Message`), as observed
    // from Bedrock for malformed and for unknown keys.
    let message = if key.starts_with("ABSK") || key.starts_with("bedrock-api-key-") {
        "Authentication failed: Please make sure your API Key is valid."
    } else {
        "Invalid API Key format: Must start with pre-defined prefix"
    };
    let mut err = AwsError::access_denied(message);
    err.capital_message = true;
    (id, Err(err))
}

/// Prefix of the bearer tokens AWS's token generators derive from credentials.
pub const DERIVED_TOKEN_PREFIX: &str = "bedrock-api-key-";

fn mantle_unauthorized(message: &str) -> AwsError {
    AwsError::new(401, "invalid_api_key", message)
}

/// bedrock-mantle takes bearer tokens only: a known API key, or a token derived from
/// AWS credentials, which is verified for real (signature, credentials, expiry).
fn mantle(req: &RequestView<'_>, known: &Known<'_>) -> (Identity, Result<(), AwsError>) {
    let token = header(req.headers, "authorization").and_then(|a| {
        let (scheme, rest) = a.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    let Some(token) = token else {
        return (
            Identity::anonymous(),
            Err(mantle_unauthorized(
                "Missing bearer authentication in header: pass a Bedrock API key as Authorization: Bearer <key>.",
            )),
        );
    };
    if token.starts_with(DERIVED_TOKEN_PREFIX) && !known.api_keys.iter().any(|k| k.key == token) {
        return derived_token(token, known);
    }
    let (id, result) = bearer(token, known.api_keys);
    let result = result.map_err(|e| mantle_unauthorized(&e.message));
    (id, result)
}

/// The host and query a derived token's URL signs (the generators' constants).
const TOKEN_HOST: &str = "bedrock.amazonaws.com";
const TOKEN_URL: &str = "https://bedrock.amazonaws.com/?Action=CallWithBearerToken";

/// Verifies a token made as `aws-bedrock-token-generator` makes it: base64 of the
/// presigned `CallWithBearerToken` URL (no scheme) with `&Version=1`. The URL is signed
/// again with the known secret and must match; the token and the credentials must be
/// current.
fn derived_token(token: &str, known: &Known<'_>) -> (Identity, Result<(), AwsError>) {
    use base64::Engine as _;
    let invalid = |why: &str| {
        (
            Identity {
                label: format!("token:invalid-{:08x}", fnv1a64(token.as_bytes()) as u32),
                ..Identity::default()
            },
            Err(mantle_unauthorized(&format!(
                "Authentication failed: the bearer token is not valid ({why})."
            ))),
        )
    };
    let Ok(decoded) =
        base64::engine::general_purpose::STANDARD.decode(&token[DERIVED_TOKEN_PREFIX.len()..])
    else {
        return invalid("not base64");
    };
    let Ok(url) = String::from_utf8(decoded) else {
        return invalid("not text");
    };
    let Some(url) = url.strip_suffix("&Version=1") else {
        return invalid("no &Version=1");
    };
    let Some(query) = url.strip_prefix(&format!("{TOKEN_HOST}/?")) else {
        return invalid("not a bedrock.amazonaws.com URL");
    };
    let params: std::collections::HashMap<String, String> =
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let get = |k: &str| params.get(k).map(String::as_str);
    if get("Action") != Some("CallWithBearerToken")
        || get("X-Amz-Algorithm") != Some("AWS4-HMAC-SHA256")
        || get("X-Amz-SignedHeaders") != Some("host")
    {
        return invalid("not a presigned CallWithBearerToken URL");
    }
    let scope: Vec<&str> = get("X-Amz-Credential")
        .unwrap_or_default()
        .split('/')
        .collect();
    let [access_key, date, region, "bedrock", "aws4_request"] = scope.as_slice() else {
        return invalid("bad credential scope");
    };
    let (Some(amz_date), Some(expires), Some(signature)) = (
        get("X-Amz-Date"),
        get("X-Amz-Expires").and_then(|e| e.parse::<u64>().ok()),
        get("X-Amz-Signature"),
    ) else {
        return invalid("missing X-Amz-Date, X-Amz-Expires or X-Amz-Signature");
    };
    let mut id = Identity {
        label: format!("token:{access_key}"),
        access_key_id: Some(access_key.to_string()),
        region: Some(region.to_string()),
        service: Some("bedrock".into()),
        ..Identity::default()
    };
    let Some(signed_at) = parse_amz_date(amz_date).filter(|_| amz_date.starts_with(date)) else {
        return (
            id,
            Err(mantle_unauthorized(
                "Authentication failed: bad X-Amz-Date.",
            )),
        );
    };
    let Some(pair) = (known.key_pair)(access_key) else {
        return (id, Err(mantle_unauthorized(INVALID_TOKEN)));
    };
    id.principal_arn = Some(pair.principal_arn.clone());
    id.role_arn = pair.role_arn.clone();
    if get("X-Amz-Security-Token") != pair.session_token.as_deref() {
        return (id, Err(mantle_unauthorized(INVALID_TOKEN)));
    }
    if pair.is_expired(known.now) || signed_at + Duration::from_secs(expires) < known.now {
        return (id, Err(mantle_unauthorized(EXPIRED_TOKEN)));
    }
    if expires > 43_200 || signed_at > known.now + known.clock_skew {
        return (
            id,
            Err(mantle_unauthorized(
                "Authentication failed: the token's validity is out of range.",
            )),
        );
    }
    match presigned_signature(&pair, region, signed_at, expires) {
        Some(expected) if expected == signature => (id, Ok(())),
        _ => (id, Err(mantle_unauthorized(BAD_SIGNATURE))),
    }
}

/// The signature of the presigned token URL with the known secret.
fn presigned_signature(
    pair: &KeyPair,
    region: &str,
    time: SystemTime,
    expires: u64,
) -> Option<String> {
    use aws_sigv4::http_request::SignatureLocation;
    let creds = Credentials::new(
        &pair.access_key_id,
        &pair.secret_access_key,
        pair.session_token.clone(),
        None,
        "bedrock-double",
    );
    let identity: SigningIdentity = creds.into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(expires));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("bedrock")
        .time(time)
        .settings(settings)
        .build()
        .ok()?;
    let signable = SignableRequest::new(
        "POST",
        TOKEN_URL,
        [("host", TOKEN_HOST)].into_iter(),
        SignableBody::UnsignedPayload,
    )
    .ok()?;
    Some(sign(signable, &params.into()).ok()?.into_parts().1)
}

struct Parsed<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_sigv4(rest: &str) -> Option<Parsed<'_>> {
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => cred = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => sig = Some(v),
            _ => {}
        }
    }
    let scope: Vec<&str> = cred?.split('/').collect();
    let [access_key, date, region, service, terminator] = scope.as_slice() else {
        return None;
    };
    if *terminator != "aws4_request" {
        return None;
    }
    Some(Parsed {
        access_key,
        date,
        region,
        service,
        signed_headers: signed?.split(';').collect(),
        signature: sig?,
    })
}

fn sigv4(
    service: Service,
    rest: &str,
    req: &RequestView<'_>,
    known: &Known<'_>,
) -> (Identity, Result<(), AwsError>) {
    let Some(p) = parse_sigv4(rest) else {
        return (
            Identity::anonymous(),
            Err(incomplete(service, "AWS4-HMAC-SHA256", req.headers)),
        );
    };
    let mut id = Identity {
        label: p.access_key.to_string(),
        access_key_id: Some(p.access_key.to_string()),
        region: Some(p.region.to_string()),
        service: Some(p.service.to_string()),
        ..Identity::default()
    };
    if p.service != service.signing_name() {
        let msg = format!(
            "Credential should be scoped to correct service: '{}'. ",
            service.signing_name()
        );
        return (id, Err(fail(service, Failure::BadSignature, msg)));
    }
    let Some(amz_date) = header(req.headers, "x-amz-date") else {
        return (
            id,
            Err(incomplete(service, "AWS4-HMAC-SHA256", req.headers)),
        );
    };
    let Some(signed_at) = parse_amz_date(amz_date) else {
        let msg = format!("Date must be in ISO-8601 'basic format'. Got '{amz_date}'.");
        return (id, Err(fail(service, Failure::Incomplete, msg)));
    };
    let Some(pair) = (known.key_pair)(p.access_key) else {
        return (
            id,
            Err(fail(service, Failure::Unrecognized, INVALID_TOKEN.into())),
        );
    };
    id.principal_arn = Some(pair.principal_arn.clone());
    id.role_arn = pair.role_arn.clone();
    let sent_token = header(req.headers, "x-amz-security-token");
    if sent_token != pair.session_token.as_deref() {
        return (
            id,
            Err(fail(service, Failure::Unrecognized, INVALID_TOKEN.into())),
        );
    }
    if pair.is_expired(known.now) {
        return (
            id,
            Err(fail(service, Failure::Expired, EXPIRED_TOKEN.into())),
        );
    }
    if !amz_date.starts_with(p.date) {
        let msg = format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
             HTTP: '{}' != '{}', from '{amz_date}'.",
            p.date,
            &amz_date[..8]
        );
        return (id, Err(fail(service, Failure::BadSignature, msg)));
    }
    if let Some(msg) = skew_message(amz_date, signed_at, known.now, known.clock_skew) {
        return (id, Err(fail(service, Failure::BadSignature, msg)));
    }
    match expected_signature(&p, req, &pair, signed_at) {
        Some(expected) if expected == p.signature => (id, Ok(())),
        _ => (
            id,
            Err(fail(service, Failure::BadSignature, BAD_SIGNATURE.into())),
        ),
    }
}

/// AWS rejects signatures more than five minutes away from its clock.
fn skew_message(
    amz_date: &str,
    signed: SystemTime,
    now: SystemTime,
    skew: Duration,
) -> Option<String> {
    use crate::util::amz_date as fmt;
    let minutes = skew.as_secs() / 60;
    if signed + skew < now {
        return Some(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - {minutes} min.)",
            fmt(now - skew),
            fmt(now)
        ));
    }
    if signed > now + skew {
        return Some(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + {minutes} min.)",
            fmt(now + skew),
            fmt(now)
        ));
    }
    None
}

/// Re-signs the request exactly as the client described it (same signed
/// headers, same time, the known secret) and returns the hex signature.
fn expected_signature(
    p: &Parsed<'_>,
    req: &RequestView<'_>,
    pair: &KeyPair,
    time: SystemTime,
) -> Option<String> {
    let host = header(req.headers, "host").unwrap_or("localhost");
    let uri = format!("http://{host}{}", req.path_and_query);
    let mut headers: Vec<(&str, &str)> = Vec::new();
    for name in &p.signed_headers {
        // The signer adds these two itself from the parameters below.
        if *name == "x-amz-date" || *name == "x-amz-security-token" {
            continue;
        }
        let mut any = false;
        for v in req.headers.get_all(*name) {
            headers.push((name, v.to_str().ok()?));
            any = true;
        }
        if !any {
            // A header the client says it signed is missing: cannot match.
            return None;
        }
    }
    let body = match header(req.headers, "x-amz-content-sha256") {
        Some("UNSIGNED-PAYLOAD") => SignableBody::UnsignedPayload,
        _ => SignableBody::Bytes(req.body),
    };
    let signable = SignableRequest::new(req.method, uri, headers.into_iter(), body).ok()?;
    let creds = Credentials::new(
        &pair.access_key_id,
        &pair.secret_access_key,
        pair.session_token.clone(),
        None,
        "bedrock-double",
    );
    let identity: SigningIdentity = creds.into();
    let mut settings = SigningSettings::default();
    // Sign exactly the headers the client listed, nothing excluded.
    settings.excluded_headers = None;
    if !p.signed_headers.contains(&"x-amz-security-token") {
        settings.session_token_mode = SessionTokenMode::Exclude;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(p.region)
        .name(p.service)
        .time(time)
        .settings(settings)
        .build()
        .ok()?;
    let out = sign(signable, &params.into()).ok()?;
    Some(out.into_parts().1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{TEST_ACCESS_KEY, TEST_SECRET_KEY};
    use http::HeaderValue;

    /// Signs a request with aws-sigv4 the way a client would, then checks the
    /// double accepts it and rejects tampering.
    #[test]
    fn verifies_by_re_signing() {
        let now = SystemTime::now();
        let body = br#"{"messages":[]}"#;
        let path = "/model/amazon.nova-micro-v1%3A0/converse";
        let creds = Credentials::new(TEST_ACCESS_KEY, TEST_SECRET_KEY, None, None, "t");
        let identity: SigningIdentity = creds.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("bedrock")
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .expect("params");
        let uri = format!("http://127.0.0.1:9{path}");
        let base = [
            ("host", "127.0.0.1:9"),
            ("content-type", "application/json"),
        ];
        let signable =
            SignableRequest::new("POST", uri, base.into_iter(), SignableBody::Bytes(body))
                .expect("signable");
        let (instr, _) = sign(signable, &params.into()).expect("sign").into_parts();
        let mut headers = HeaderMap::new();
        for (k, v) in base {
            headers.insert(k, HeaderValue::from_static(v));
        }
        for (k, v) in instr.headers() {
            let name = http::HeaderName::from_bytes(k.as_bytes()).expect("name");
            headers.insert(name, HeaderValue::from_str(v).expect("header"));
        }
        let pairs = [KeyPair::new(TEST_ACCESS_KEY, TEST_SECRET_KEY)];
        let lookup = |ak: &str| pairs.iter().find(|p| p.access_key_id == ak).cloned();
        let known = Known {
            key_pair: &lookup,
            api_keys: &[],
            now,
            clock_skew: Duration::from_secs(300),
        };
        let view = RequestView {
            method: "POST",
            path_and_query: path,
            headers: &headers,
            body,
        };
        let (id, ok) = authenticate(Service::Runtime, &view, &known, false);
        assert_eq!(ok, Ok(()));
        assert_eq!(id.region.as_deref(), Some("us-east-1"));
        let tampered = RequestView {
            body: b"{}",
            ..view
        };
        let (_, err) = authenticate(Service::Runtime, &tampered, &known, false);
        assert_eq!(
            err.map_err(|e| e.code),
            Err("InvalidSignatureException".to_string())
        );
        let (_, err) = authenticate(Service::Sts, &view, &known, false);
        assert_eq!(
            err.map_err(|e| e.code),
            Err("SignatureDoesNotMatch".to_string())
        );
        let later = Known {
            now: now + Duration::from_secs(600),
            ..known
        };
        let (_, err) = authenticate(Service::Runtime, &view, &later, false);
        assert!(matches!(err, Err(e) if e.message.starts_with("Signature expired")));
    }
}
