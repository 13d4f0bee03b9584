//! Calls to bedrock-mantle: one HTTP connector per tenant (the same rustls, CA bundle,
//! proxy and timeouts as the tenant's AWS clients), the bearer token on each request,
//! retries of throttling, 5xx and connection failures as the SDK retries them, HTTP
//! errors as Dify errors with the API's own message, and the answer as chat events.

use std::collections::VecDeque;
use std::time::Duration;

use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use serde_json::Value;

use super::answer::{SseDecoder, StreamState, blocking_events, kind_for_code};
use super::auth::MantleAuth;
use super::request::ResponsesRequest;
use crate::bedrock::errors::from_connector;
use crate::bedrock::events::{self, ChatEvent};
use crate::error::{AwsCause, ErrorKind, PluginError};

/// The path of the Responses API under a mantle endpoint.
const RESPONSES_PATH: &str = "/openai/v1/responses";

/// How a tenant reaches bedrock-mantle.
pub struct MantleClient {
    connector: Connector,
    /// The Responses API URL.
    url: String,
    /// Where calls go, for messages.
    pub host: String,
    auth: MantleAuth,
    max_attempts: u32,
    initial_backoff: Duration,
    read_timeout: Duration,
}

impl std::fmt::Debug for MantleClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MantleClient")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .finish()
    }
}

/// Retries and timeouts, as the tenant's AWS clients have them.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    /// Longest wait for a blocking answer's body.
    pub read_timeout: Duration,
}

impl MantleClient {
    /// `endpoint` is the mantle base URL (`https://bedrock-mantle.{region}.api.aws`, or the
    /// form's override), without the API path.
    pub fn new(
        connector: Connector,
        endpoint: &str,
        auth: MantleAuth,
        limits: Limits,
    ) -> MantleClient {
        let base = endpoint.trim_end_matches('/');
        let rest = base.split("://").nth(1).unwrap_or(base);
        MantleClient {
            connector,
            url: format!("{base}{RESPONSES_PATH}"),
            host: rest.split('/').next().unwrap_or(rest).to_string(),
            auth,
            max_attempts: limits.max_attempts.max(1),
            initial_backoff: limits.initial_backoff,
            read_timeout: limits.read_timeout,
        }
    }

    /// The mantle endpoint of `region` (AWS's base URL without the API's `/openai/v1`).
    pub fn default_endpoint(region: &str) -> String {
        format!("https://bedrock-mantle.{region}.api.aws")
    }

    fn http_request(
        &self,
        body: &[u8],
        stream: bool,
        token: &str,
    ) -> Result<HttpRequest, PluginError> {
        let failed = |e: &dyn std::fmt::Display| {
            PluginError::internal(format!("building the bedrock-mantle request failed: {e}"))
        };
        let mut authorization = http::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| {
                PluginError::new(
                    ErrorKind::Authorization,
                    "the Bedrock API key contains characters an HTTP header cannot carry; paste it again",
                )
            })?;
        authorization.set_sensitive(true);
        let request = http::Request::builder()
            .method("POST")
            .uri(&self.url)
            .header("content-type", "application/json")
            .header(
                "accept",
                if stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            )
            .header(
                "user-agent",
                concat!("dify-bedrock/", env!("CARGO_PKG_VERSION")),
            )
            .header("authorization", authorization)
            .body(SdkBody::from(body.to_vec()))
            .map_err(|e| failed(&e))?;
        HttpRequest::try_from(request).map_err(|e| failed(&e))
    }

    /// Sends the request, retrying what is worth retrying; the successful response's body.
    async fn send(&self, request: &ResponsesRequest) -> Result<ByteStream, PluginError> {
        let body = serde_json::to_vec(request)
            .map_err(|e| PluginError::internal(format!("the request does not serialise: {e}")))?;
        let mut attempt = 1;
        loop {
            let token = self.auth.token().await?;
            let http = self.http_request(&body, request.stream, token.expose())?;
            let (error, retry) = match self.connector.call(http).await {
                Err(e) => (from_connector(&e, &self.host), e.is_io() || e.is_timeout()),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let stream = ByteStream::new(response.into_body());
                    if (200..300).contains(&status) {
                        return Ok(stream);
                    }
                    let text = tokio::time::timeout(self.read_timeout, stream.collect())
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .map(|b| String::from_utf8_lossy(&b.into_bytes()).into_owned())
                        .unwrap_or_default();
                    if matches!(status, 401 | 403) {
                        // A derived token the server refuses is made again next time.
                        self.auth.forget().await;
                    }
                    (http_error(status, &text), status == 429 || status >= 500)
                }
            };
            if !retry || attempt >= self.max_attempts {
                return Err(error);
            }
            let backoff = self.initial_backoff * 2u32.saturating_pow(attempt - 1);
            tracing::info!(
                "bedrock-mantle call failed ({}); attempt {} of {} in {} ms",
                error.message,
                attempt + 1,
                self.max_attempts,
                backoff.as_millis()
            );
            tokio::time::sleep(backoff).await;
            attempt += 1;
        }
    }
}

/// An HTTP error of the Responses API as a Dify error: the kind from the status, the
/// message from the body (`{"error": {"message", "type", "code"}}`, or AWS's `message`).
pub(crate) fn http_error(status: u16, body: &str) -> PluginError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = if parsed["error"].is_object() {
        &parsed["error"]
    } else {
        &parsed
    };
    let message = ["message", "Message"]
        .iter()
        .find_map(|k| error[*k].as_str())
        .or_else(|| parsed["error"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| {
            let text = body.trim();
            if text.is_empty() {
                "(no message)".to_string()
            } else {
                text.chars().take(500).collect()
            }
        });
    let code = ["code", "type", "__type"]
        .iter()
        .find_map(|k| error[*k].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("HTTP {status}"));
    let kind = match status {
        400 | 404 | 409 | 413 | 422 => ErrorKind::BadRequest,
        401 | 403 => ErrorKind::Authorization,
        429 => ErrorKind::RateLimit,
        s if s >= 500 => ErrorKind::ServerUnavailable,
        s if s >= 400 => ErrorKind::BadRequest,
        _ => kind_for_code(&code),
    };
    PluginError::new(kind, format!("{code}: {message}")).with_cause(AwsCause::Service {
        code,
        message,
        status: Some(status),
    })
}

/// The events of one Responses call.
pub struct ResponseStream {
    /// The open event stream; None once it ended or for a blocking call.
    body: Option<ByteStream>,
    decoder: SseDecoder,
    state: StreamState,
    queue: VecDeque<ChatEvent>,
    /// An error that arrived with events still queued: it ends the stream after them.
    failed: Option<PluginError>,
    idle_timeout: Duration,
    host: String,
}

/// Calls the Responses API (streamed when `request.stream`) and returns its events.
pub async fn start(
    client: &MantleClient,
    request: &ResponsesRequest,
    idle_timeout: Duration,
) -> Result<ResponseStream, PluginError> {
    let body = client.send(request).await?;
    let mut out = ResponseStream {
        body: None,
        decoder: SseDecoder::default(),
        state: StreamState::default(),
        queue: VecDeque::new(),
        failed: None,
        idle_timeout,
        host: client.host.clone(),
    };
    if request.stream {
        out.body = Some(body);
        return Ok(out);
    }
    let bytes = tokio::time::timeout(client.read_timeout, body.collect())
        .await
        .map_err(|_| {
            PluginError::new(
                ErrorKind::Connection,
                format!(
                    "the answer from {} did not arrive within {} s",
                    client.host,
                    client.read_timeout.as_secs()
                ),
            )
        })?
        .map_err(|e| unreadable(&client.host, &e))?
        .into_bytes();
    let response: Value =
        serde_json::from_slice(&bytes).map_err(|e| unreadable(&client.host, &e))?;
    out.queue = blocking_events(&response)?;
    Ok(out)
}

fn unreadable(host: &str, e: &dyn std::fmt::Display) -> PluginError {
    PluginError::new(
        ErrorKind::ServerUnavailable,
        format!("{host} sent a response that could not be read ({e})"),
    )
}

/// A failure after the stream began says so: the user may have seen part of the answer.
fn broke_off(mut e: PluginError) -> PluginError {
    e.message = format!("the response stream broke off: {}", e.message);
    e
}

impl ResponseStream {
    /// The next event; `None` at the end. An error ends the stream.
    pub async fn next(&mut self) -> Option<Result<ChatEvent, PluginError>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            if let Some(e) = self.failed.take() {
                return Some(Err(e));
            }
            let body = self.body.as_mut()?;
            let chunk = match tokio::time::timeout(self.idle_timeout, body.next()).await {
                Err(_) => {
                    self.body = None;
                    return Some(Err(events::stalled(&self.host, self.idle_timeout)));
                }
                Ok(chunk) => chunk,
            };
            let events = match chunk {
                Some(Ok(bytes)) => self.decoder.push(&bytes),
                Some(Err(e)) => {
                    self.body = None;
                    return Some(Err(broke_off(PluginError::new(
                        ErrorKind::Connection,
                        format!("the connection to {} failed ({e})", self.host),
                    ))));
                }
                None => {
                    self.body = None;
                    let last: Vec<_> = self.decoder.finish().into_iter().collect();
                    if let Err(e) = self.on_events(last) {
                        return Some(Err(e));
                    }
                    if !self.state.done {
                        return Some(Err(broke_off(PluginError::new(
                            ErrorKind::Connection,
                            format!(
                                "{} closed the stream before the answer was complete",
                                self.host
                            ),
                        ))));
                    }
                    continue;
                }
            };
            // Events that arrived before an error event are delivered first.
            if let Err(e) = self.on_events(events) {
                self.body = None;
                self.failed = Some(e);
            }
            if self.state.done {
                // Nothing after the final event matters.
                self.body = None;
            }
        }
    }

    fn on_events(&mut self, events: Vec<(Option<String>, String)>) -> Result<(), PluginError> {
        for (_, data) in events {
            if self.state.done {
                break;
            }
            self.state
                .on_event(&data, &mut self.queue)
                .map_err(broke_off)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_errors_keep_the_apis_message() {
        let e = http_error(
            400,
            r#"{"error": {"message": "Unsupported parameter: 'top_p'", "type": "invalid_request_error", "param": "top_p", "code": "unsupported_parameter"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::BadRequest);
        assert_eq!(
            e.message,
            "unsupported_parameter: Unsupported parameter: 'top_p'"
        );
        assert_eq!(
            http_error(401, r#"{"Message": "bad key"}"#).kind,
            ErrorKind::Authorization
        );
        assert_eq!(http_error(429, "").kind, ErrorKind::RateLimit);
        let e = http_error(503, "upstream down");
        assert_eq!(e.kind, ErrorKind::ServerUnavailable);
        assert_eq!(e.message, "HTTP 503: upstream down");
    }

    #[test]
    fn the_host_and_url_come_from_the_endpoint() {
        let connector = Connector::builder().build_http();
        let c = MantleClient::new(
            connector,
            "http://127.0.0.1:9/",
            MantleAuth::ApiKey(crate::bedrock::secret::Secret::new("k")),
            Limits {
                max_attempts: 1,
                initial_backoff: Duration::ZERO,
                read_timeout: Duration::from_secs(1),
            },
        );
        assert_eq!(c.url, "http://127.0.0.1:9/openai/v1/responses");
        assert_eq!(c.host, "127.0.0.1:9");
        assert_eq!(
            MantleClient::default_endpoint("us-east-2"),
            "https://bedrock-mantle.us-east-2.api.aws"
        );
        assert!(format!("{c:?}").contains("ApiKey(***)"), "{c:?}");
    }
}
