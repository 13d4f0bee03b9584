//! Dify's usage objects and their prices: `price = tokens × unit price × unit`, rounded
//! half-up to 7 decimals, as the SDK computes it; decimals serialised as strings.

use std::str::FromStr;
use std::time::Duration;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use aws_sdk_bedrockruntime::types::ServiceTierType;

use crate::bedrock::converse::Usage;
use crate::declaration::Pricing;

fn dec(s: Option<&str>) -> Decimal {
    s.and_then(|s| Decimal::from_str(s.trim()).ok())
        .unwrap_or(Decimal::ZERO)
}

fn round7(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(7, RoundingStrategy::MidpointAwayFromZero)
}

/// A decimal as Dify's SDK writes it (a string).
fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

fn text7(d: Decimal) -> String {
    format!("{:.7}", round7(d))
}

/// Bedrock's prices in the Priority and Flex tiers relative to Standard: a 75% premium
/// and a 50% discount (the pricing page's footnotes, for every provider that offers the
/// tiers). Standard, Reserved (billed per reservation) and tiers unknown here keep the
/// model's prices.
fn tier_factor(tier: &ServiceTierType) -> Option<Decimal> {
    match tier {
        ServiceTierType::Priority => Some(Decimal::new(175, 2)),
        ServiceTierType::Flex => Some(Decimal::new(5, 1)),
        _ => None,
    }
}

/// The model's prices in the tier that served the request.
pub fn for_tier(pricing: &Pricing, tier: Option<&ServiceTierType>) -> Pricing {
    let Some(factor) = tier.and_then(tier_factor) else {
        return pricing.clone();
    };
    let scale = |s: &str| text(dec(Some(s)) * factor);
    Pricing {
        input: scale(&pricing.input),
        output: pricing.output.as_deref().map(scale),
        cache_read: pricing.cache_read.as_deref().map(scale),
        cache_write: pricing.cache_write.as_deref().map(scale),
        cache_write_1h: pricing.cache_write_1h.as_deref().map(scale),
        ..pricing.clone()
    }
}

/// `LLMUsage`, every key present (the daemon requires them all).
#[derive(Debug, Clone, Serialize)]
pub struct LlmUsage {
    pub prompt_tokens: u64,
    pub prompt_unit_price: String,
    pub prompt_price_unit: String,
    pub prompt_price: String,
    pub completion_tokens: u64,
    pub completion_unit_price: String,
    pub completion_price_unit: String,
    pub completion_price: String,
    pub total_tokens: u64,
    pub total_price: String,
    pub currency: String,
    pub latency: f64,
}

impl LlmUsage {
    /// Prompt tokens count every input token (uncached, read from and written to the
    /// cache); the prompt price is each kind at its own price, cache writes at the price
    /// of their TTL.
    pub fn new(usage: &Usage, pricing: Option<&Pricing>, latency: Duration) -> LlmUsage {
        let unit = dec(pricing.map(|p| p.unit.as_str()));
        let input_price = dec(pricing.map(|p| p.input.as_str()));
        let output_price = dec(pricing.and_then(|p| p.output.as_deref()));
        // Without a separate cache price, cached tokens cost what input tokens cost.
        let read_price = pricing
            .and_then(|p| p.cache_read.as_deref())
            .map_or(input_price, |s| dec(Some(s)));
        let write_price = pricing
            .and_then(|p| p.cache_write.as_deref())
            .map_or(input_price, |s| dec(Some(s)));
        let write_1h_price = pricing
            .and_then(|p| p.cache_write_1h.as_deref())
            .map_or(write_price, |s| dec(Some(s)));
        let n = |v: u64| Decimal::from(v);
        let written_1h = usage.cache_write_1h.unwrap_or(0).min(usage.cache_write);
        let prompt_exact = (n(usage.input) * input_price
            + n(usage.cache_read) * read_price
            + n(usage.cache_write - written_1h) * write_price
            + n(written_1h) * write_1h_price)
            * unit;
        let completion_exact = n(usage.output) * output_price * unit;
        let prompt_price = round7(prompt_exact);
        let completion_price = round7(completion_exact);
        let prompt_tokens = usage.input + usage.cache_read + usage.cache_write;
        LlmUsage {
            prompt_tokens,
            prompt_unit_price: text(input_price),
            prompt_price_unit: text(unit),
            prompt_price: text7(prompt_price),
            completion_tokens: usage.output,
            completion_unit_price: text(output_price),
            completion_price_unit: text(unit),
            completion_price: text7(completion_price),
            total_tokens: prompt_tokens + usage.output,
            total_price: text7(prompt_price + completion_price),
            currency: pricing.map_or("USD", |p| p.currency.as_str()).to_string(),
            latency: (latency.as_secs_f64() * 1000.0).round() / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pricing(cache: bool) -> Pricing {
        Pricing {
            input: "0.003".into(),
            output: Some("0.015".into()),
            cache_read: cache.then(|| "0.0003".into()),
            cache_write: cache.then(|| "0.00375".into()),
            cache_write_1h: cache.then(|| "0.006".into()),
            unit: "0.001".into(),
            currency: "USD".into(),
        }
    }

    #[test]
    fn the_reference_example() {
        let p = Pricing {
            input: "0.003".into(),
            output: Some("0.004".into()),
            cache_read: None,
            cache_write: None,
            cache_write_1h: None,
            unit: "0.001".into(),
            currency: "USD".into(),
        };
        let u = LlmUsage::new(
            &Usage {
                input: 12,
                output: 5,
                ..Default::default()
            },
            Some(&p),
            Duration::from_millis(410),
        );
        assert_eq!(
            (
                u.prompt_price.as_str(),
                u.completion_price.as_str(),
                u.total_price.as_str()
            ),
            ("0.0000360", "0.0000200", "0.0000560")
        );
        assert_eq!(
            (u.prompt_unit_price.as_str(), u.prompt_price_unit.as_str()),
            ("0.003", "0.001")
        );
        assert_eq!((u.prompt_tokens, u.total_tokens, u.latency), (12, 17, 0.41));
    }

    #[test]
    fn cache_tokens_are_prompt_tokens_at_their_own_prices() {
        // 1000 uncached × 0.003 + 10000 read × 0.0003 + 2000 written × 0.00375, per 1K tokens.
        let u = LlmUsage::new(
            &Usage {
                input: 1000,
                output: 100,
                cache_read: 10_000,
                cache_write: 2000,
                cache_write_1h: None,
            },
            Some(&pricing(true)),
            Duration::ZERO,
        );
        assert_eq!(u.prompt_tokens, 13_000);
        assert_eq!(u.prompt_price, "0.0135000");
        assert_eq!(u.completion_price, "0.0015000");
        assert_eq!(u.total_price, "0.0150000");
    }

    #[test]
    fn cache_writes_are_priced_by_their_ttl() {
        // 1000 written for 5 minutes × 0.00375 + 3000 for an hour × 0.006, per 1K tokens.
        let usage = Usage {
            cache_write: 4000,
            cache_write_1h: Some(3000),
            ..Default::default()
        };
        let u = LlmUsage::new(&usage, Some(&pricing(true)), Duration::ZERO);
        assert_eq!(
            (u.prompt_tokens, u.prompt_price.as_str()),
            (4000, "0.0217500")
        );
        // Without a one-hour price, an hour's write costs what a 5-minute write costs.
        let p = Pricing {
            cache_write_1h: None,
            ..pricing(true)
        };
        let u = LlmUsage::new(&usage, Some(&p), Duration::ZERO);
        assert_eq!(u.prompt_price, "0.0150000");
    }

    #[test]
    fn priority_and_flex_are_priced_from_the_standard_price() {
        let usage = Usage {
            input: 1000,
            output: 1000,
            ..Default::default()
        };
        let standard = pricing(false);
        let price = |tier: Option<ServiceTierType>| {
            let p = for_tier(&standard, tier.as_ref());
            let u = LlmUsage::new(&usage, Some(&p), Duration::ZERO);
            (u.prompt_unit_price, u.total_price)
        };
        assert_eq!(price(None), ("0.003".into(), "0.0180000".into()));
        assert_eq!(
            price(Some(ServiceTierType::Default)),
            ("0.003".into(), "0.0180000".into())
        );
        assert_eq!(
            price(Some(ServiceTierType::Priority)),
            ("0.00525".into(), "0.0315000".into())
        );
        assert_eq!(
            price(Some(ServiceTierType::Flex)),
            ("0.0015".into(), "0.0090000".into())
        );
    }

    #[test]
    fn no_pricing_is_free_in_usd() {
        let u = LlmUsage::new(
            &Usage {
                input: 7,
                output: 3,
                ..Default::default()
            },
            None,
            Duration::ZERO,
        );
        assert_eq!(
            (
                u.prompt_price.as_str(),
                u.total_price.as_str(),
                u.currency.as_str()
            ),
            ("0.0000000", "0.0000000", "USD")
        );
    }

    #[test]
    fn rounding_is_half_up_at_seven_places() {
        let p = Pricing {
            input: "0.00000015".into(),
            output: None,
            cache_read: None,
            cache_write: None,
            cache_write_1h: None,
            unit: "1".into(),
            currency: "USD".into(),
        };
        let u = LlmUsage::new(
            &Usage {
                input: 1,
                ..Default::default()
            },
            Some(&p),
            Duration::ZERO,
        );
        assert_eq!(u.prompt_price, "0.0000002");
    }
}

/// `EmbeddingUsage`, every key present: the input tokens Bedrock billed, priced at the
/// model's input price.
#[derive(Debug, Clone, Serialize)]
pub struct EmbeddingUsage {
    pub tokens: u64,
    pub total_tokens: u64,
    pub unit_price: String,
    pub price_unit: String,
    pub total_price: String,
    pub currency: String,
    pub latency: f64,
}

impl EmbeddingUsage {
    pub fn new(tokens: u64, pricing: Option<&Pricing>, latency: Duration) -> EmbeddingUsage {
        let unit = dec(pricing.map(|p| p.unit.as_str()));
        let unit_price = dec(pricing.map(|p| p.input.as_str()));
        let price = round7(Decimal::from(tokens) * unit_price * unit);
        EmbeddingUsage {
            tokens,
            total_tokens: tokens,
            unit_price: text(unit_price),
            price_unit: text(unit),
            total_price: text7(price),
            currency: pricing.map_or("USD", |p| p.currency.as_str()).to_string(),
            latency: (latency.as_secs_f64() * 1000.0).round() / 1000.0,
        }
    }
}

#[cfg(test)]
mod embedding_tests {
    use super::*;

    #[test]
    fn embedding_price_is_tokens_times_unit_price_times_unit() {
        let p = Pricing {
            input: "0.00002".into(),
            output: None,
            cache_read: None,
            cache_write: None,
            cache_write_1h: None,
            unit: "0.001".into(),
            currency: "USD".into(),
        };
        // 12,345 tokens × $0.00002 per 1K = $0.0002469.
        let u = EmbeddingUsage::new(12_345, Some(&p), Duration::from_millis(1234));
        assert_eq!(
            (
                u.tokens,
                u.total_tokens,
                u.unit_price.as_str(),
                u.price_unit.as_str()
            ),
            (12_345, 12_345, "0.00002", "0.001")
        );
        assert_eq!(u.total_price, "0.0002469");
        assert_eq!(u.latency, 1.234);
        // 3 tokens × $0.00002 per 1K = 6e-8, rounded half-up to 1e-7.
        assert_eq!(
            EmbeddingUsage::new(3, Some(&p), Duration::ZERO).total_price,
            "0.0000001"
        );
        let free = EmbeddingUsage::new(10, None, Duration::ZERO);
        assert_eq!(
            (
                free.total_price.as_str(),
                free.unit_price.as_str(),
                free.currency.as_str()
            ),
            ("0.0000000", "0", "USD")
        );
    }
}
