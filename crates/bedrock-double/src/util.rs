//! Small deterministic helpers shared by every endpoint: timestamps in the
//! formats AWS uses, a stable hash and pseudo-random generator (so the same
//! request always gets the same answer), request ids and a token estimate.
//!
//! Nothing here may depend on process state such as `HashMap` seeds: the
//! double promises "same request, same response".

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 to a (year, month, day) civil date.
/// Howard Hinnant's `civil_from_days`, valid for the whole proleptic calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn split(t: SystemTime) -> (i64, u32, u32, u64, u64, u64) {
    // Times before the epoch never occur in practice; clamp rather than panic.
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    (y, m, d, rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// `2024-05-01T12:00:00Z`, the timestamp format of STS, IMDS, ECS and the
/// Bedrock control plane.
pub fn iso8601(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = split(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `20240501T120000Z`, the SigV4 `x-amz-date` format.
pub fn amz_date(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = split(t);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// Parses a SigV4 `x-amz-date` value (`YYYYMMDDTHHMMSSZ`).
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, sec) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + sec;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// 64-bit FNV-1a: tiny, stable across platforms and releases, good enough to
/// seed deterministic fake embeddings and scores.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64: a stable pseudo-random sequence from a seed.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A float uniformly spread over [-1, 1).
    pub fn next_signed_unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// A UUID-shaped request id derived from a sequence number, so request ids
/// are unique per double yet reproducible between runs.
pub fn request_id(seq: u64) -> String {
    format!("d0ub1e00-0000-4000-8000-{seq:012x}")
}

/// Percent-decodes one URI path segment; `None` if the result is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// The double's token estimate: about four characters per token, at least
/// one token for any non-empty text. Real tokenizers differ per model; tests
/// should assert the numbers the double reports, not a tokenizer's.
pub fn count_tokens(text: &str) -> u32 {
    let chars = text.chars().count() as u32;
    if chars == 0 { 0 } else { chars.div_ceil(4) }
}

/// Splits `text` into exactly `n` non-empty pieces on character boundaries
/// (the caller guarantees `text` has at least `n` characters).
pub fn split_even(text: &str, n: usize) -> Vec<&str> {
    let n = n.max(1);
    let idx: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let len = idx.len();
    if len <= n {
        return idx
            .iter()
            .enumerate()
            .map(|(k, &start)| {
                let end = idx.get(k + 1).copied().unwrap_or(text.len());
                &text[start..end]
            })
            .collect();
    }
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let a = idx[k * len / n];
        let b = if k + 1 == n {
            text.len()
        } else {
            idx[(k + 1) * len / n]
        };
        out.push(&text[a..b]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        let t = UNIX_EPOCH + Duration::from_secs(1_764_088_599);
        let s = amz_date(t);
        assert_eq!(s, "20251125T163639Z");
        assert_eq!(parse_amz_date(&s), Some(t));
        assert_eq!(iso8601(t), "2025-11-25T16:36:39Z");
        assert_eq!(parse_amz_date("2025-11-25"), None);
        assert_eq!(parse_amz_date("20251325T163639Z"), None);
    }

    #[test]
    fn split_even_covers_text() {
        let parts = split_even("Hello, wörld!", 4);
        assert_eq!(parts.len(), 4);
        assert_eq!(parts.concat(), "Hello, wörld!");
        assert!(parts.iter().all(|p| !p.is_empty()));
        assert_eq!(split_even("ab", 5), vec!["a", "b"]);
    }

    #[test]
    fn tokens_and_hash_are_stable() {
        assert_eq!(count_tokens(""), 0);
        assert_eq!(count_tokens("abcde"), 2);
        assert_eq!(fnv1a64(b"hello"), 0xa430_d846_80aa_bd0b);
    }
}
