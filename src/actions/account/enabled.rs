//! Whether the account may invoke each listed model, from
//! GetFoundationModelAvailability: "no" only where AWS says a call would be refused,
//! "unknown" wherever the answer does not settle it (or AWS would not say).

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::super::AppState;
use super::super::validate::explain_refusal;
use super::output::{Enabled, Row};
use crate::bedrock::access::AwsAccess;
use crate::bedrock::client::Clients;
use crate::bedrock::listing::Availability;
use crate::error::ErrorKind;

/// Availability look-ups in flight at once: quick, yet gentle on the control plane's
/// request rate (the SDK retries a throttled one).
const AVAILABILITY_CALLS_AT_ONCE: usize = 4;

/// Asks AWS whether the account may invoke each row's model. Returns a note when AWS
/// would not say at all (then every mark stays unknown).
pub(super) async fn mark_access(
    state: &AppState,
    access: &AwsAccess,
    clients: &Arc<Clients>,
    rows: &mut [Row],
) -> Option<String> {
    let first = rows.first_mut()?;
    // One call first: when the identity may not ask, one refusal says so for all.
    match clients.model_availability(&first.model_id).await {
        Ok(a) => first.set_availability(a),
        Err(e) if e.kind == ErrorKind::Authorization => {
            return Some(explain_refusal(
                state,
                access,
                "GetFoundationModelAvailability",
                &e,
            ));
        }
        Err(e) => first.enabled_why = Some(e.message),
    }
    let gate = Arc::new(Semaphore::new(AVAILABILITY_CALLS_AT_ONCE));
    let mut calls = JoinSet::new();
    for (i, row) in rows.iter().enumerate().skip(1) {
        let (clients, gate, model) = (clients.clone(), gate.clone(), row.model_id.clone());
        calls.spawn(async move {
            // The semaphore is never closed, so a permit always comes.
            let _permit = gate.acquire_owned().await.ok();
            (i, clients.model_availability(&model).await)
        });
    }
    while let Some(done) = calls.join_next().await {
        let Ok((i, answer)) = done else { continue };
        let Some(row) = rows.get_mut(i) else { continue };
        match answer {
            Ok(a) => row.set_availability(a),
            Err(e) => row.enabled_why = Some(e.message),
        }
    }
    None
}

impl Row {
    fn set_availability(&mut self, a: Availability) {
        let (enabled, why) = judge(&a);
        self.enabled = enabled;
        self.enabled_why = why;
        self.availability = Some(a);
    }
}

/// Whether GetFoundationModelAvailability's answer lets the account invoke the model.
/// "no" only where AWS says a call would be refused; where the first call may still
/// settle it (a Marketplace agreement not made yet, or pending), "unknown". Whether the
/// model runs in the region is the lists' business, not this answer's.
fn judge(a: &Availability) -> (Enabled, Option<String>) {
    if a.authorization == "NOT_AUTHORIZED" {
        return (
            Enabled::No,
            Some("AWS says NOT_AUTHORIZED (for Anthropic models: submit the use-case form in the Bedrock console's model catalogue)".into()),
        );
    }
    match a.agreement.as_deref() {
        Some("ERROR") => {
            let detail = a
                .agreement_error
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            return (
                Enabled::No,
                Some(format!("the Marketplace agreement failed{detail}")),
            );
        }
        Some("PENDING") => {
            return (
                Enabled::Unknown,
                Some("the Marketplace agreement is being made (it takes up to 15 minutes)".into()),
            );
        }
        Some("NOT_AVAILABLE") => {
            return (
                Enabled::Unknown,
                Some("no Marketplace agreement yet: the first call makes one if the caller may subscribe (aws-marketplace:Subscribe)".into()),
            );
        }
        Some("AVAILABLE") | None => {}
        Some(other) => return (Enabled::Unknown, Some(format!("agreement status {other}"))),
    }
    match (a.authorization.as_str(), a.entitlement.as_str()) {
        ("AUTHORIZED", "AVAILABLE") => (Enabled::Yes, None),
        (_, "NOT_AVAILABLE") => (
            Enabled::No,
            Some("AWS says the account's entitlement is NOT_AVAILABLE".into()),
        ),
        (auth, entitlement) => (
            Enabled::Unknown,
            Some(format!("authorization {auth}, entitlement {entitlement}")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn availability(
        agreement: Option<&str>,
        authorization: &str,
        entitlement: &str,
    ) -> Availability {
        Availability {
            agreement: agreement.map(str::to_string),
            agreement_error: None,
            authorization: authorization.into(),
            entitlement: entitlement.into(),
            region: "AVAILABLE".into(),
        }
    }

    #[test]
    fn access_is_no_only_where_aws_says_a_call_is_refused() {
        let judged = |ag, au, en| judge(&availability(ag, au, en)).0;
        assert_eq!(
            judged(Some("AVAILABLE"), "AUTHORIZED", "AVAILABLE"),
            Enabled::Yes
        );
        assert_eq!(judged(None, "AUTHORIZED", "AVAILABLE"), Enabled::Yes);
        assert_eq!(
            judged(Some("AVAILABLE"), "NOT_AUTHORIZED", "AVAILABLE"),
            Enabled::No
        );
        assert_eq!(
            judged(Some("ERROR"), "AUTHORIZED", "AVAILABLE"),
            Enabled::No
        );
        assert_eq!(
            judged(Some("AVAILABLE"), "AUTHORIZED", "NOT_AVAILABLE"),
            Enabled::No
        );
        // The first call makes the agreement: not a refusal.
        assert_eq!(
            judged(Some("NOT_AVAILABLE"), "AUTHORIZED", "NOT_AVAILABLE"),
            Enabled::Unknown
        );
        assert_eq!(
            judged(Some("PENDING"), "AUTHORIZED", "AVAILABLE"),
            Enabled::Unknown
        );
        // Values AWS adds later are not guessed at.
        assert_eq!(
            judged(Some("AVAILABLE"), "SOMETHING_NEW", "AVAILABLE"),
            Enabled::Unknown
        );
        let (_, why) = judge(&Availability {
            agreement_error: Some("payment method missing".into()),
            ..availability(Some("ERROR"), "AUTHORIZED", "AVAILABLE")
        });
        assert_eq!(
            why.as_deref(),
            Some("the Marketplace agreement failed: payment method missing")
        );
    }
}
