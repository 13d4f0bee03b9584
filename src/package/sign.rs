//! Signing a `.difypkg` in the daemon's format, for self-hosters who enable
//! third-party signature verification instead of turning verification off.
//!
//! What the daemon checks (`pkg/plugin_packager/decoder/verifier.go`,
//! `VerifyPluginWithPublicKeys`): it walks the zip's entries in archive order, appends
//! the SHA-256 of each file's contents to one buffer, appends the decimal `time` from the
//! zip comment, and verifies the comment's base64 `signature` over that buffer as
//! RSASSA-PKCS1-v1_5 with SHA-256 (`pkg/utils/encryption/rsa.go::VerifySign`) against
//! the official key and each key in THIRD_PARTY_SIGNATURE_VERIFICATION_PUBLIC_KEYS.
//! The comment is `{"signature":"<base64>","time":<unix seconds>}`
//! (`signer/withkey/sign_with_key.go`), and the dify CLI's signer appends a
//! `.verification.dify.json` entry last, whose hash is part of the signed data.
//!
//! Keys are PEM: the daemon's CLI (`dify signature generate`) writes PKCS#1
//! `RSA PRIVATE KEY` / `RSA PUBLIC KEY`, and the daemon loads public keys only in that
//! PKCS#1 form (`encryption.LoadPublicKey`). ring does the RSA arithmetic (it is
//! already linked through rustls), in constant time.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

use super::Error;

/// The file the dify CLI's signer adds last, naming who vouches for the plugin.
pub const VERIFICATION_FILE: &str = ".verification.dify.json";

/// The categories the daemon knows (`decoder/entities.go`).
pub const CATEGORIES: [&str; 3] = ["langgenius", "partner", "community"];

/// Why a PEM file is not a key this command can sign with; the message says what to do.
#[derive(Debug, PartialEq, Eq)]
pub struct KeyError(String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

const ENCRYPTED: &str =
    "the private key is encrypted; decrypt it first (openssl rsa -in KEY -traditional -out PLAIN)";

/// An RSA private key to sign packages with.
pub struct Signer {
    key: RsaKeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "Signer({} bits)", self.key.public().modulus_len() * 8)
    }
}

impl Signer {
    /// Loads a PEM private key: PKCS#1 `RSA PRIVATE KEY` (what `dify signature generate`
    /// and `openssl genrsa -traditional` write) or unencrypted PKCS#8 `PRIVATE KEY`.
    pub fn from_pem(text: &str) -> Result<Signer, KeyError> {
        let (label, der) = pem_decode(text)?;
        let key = match label.as_str() {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "ENCRYPTED PRIVATE KEY" => return Err(KeyError(ENCRYPTED.into())),
            other => {
                return Err(KeyError(format!(
                    "expected an RSA private key in PEM (\"RSA PRIVATE KEY\" or \"PRIVATE KEY\"), found \"{other}\""
                )));
            }
        };
        key.map(|key| Signer { key }).map_err(|e| {
            KeyError(format!(
                "not a usable RSA private key ({e}); 2048 to 4096-bit RSA keys are supported"
            ))
        })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `data`, as Go's `rsa.SignPKCS1v15` with
    /// `crypto.SHA256` over `sha256(data)` makes it.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), data, &mut sig)
            .map_err(|_| Error::Signing)?;
        Ok(sig)
    }

    /// The public key as the daemon loads it: PKCS#1 `RSA PUBLIC KEY` PEM.
    pub fn public_key_pem(&self) -> String {
        pem_encode("RSA PUBLIC KEY", self.key.public().as_ref())
    }
}

/// The bytes the signature covers: each file's SHA-256 in archive order, then the time.
pub fn signed_data(file_digests: &[[u8; 32]], time: i64) -> Vec<u8> {
    let mut data = Vec::with_capacity(file_digests.len() * 32 + 20);
    for d in file_digests {
        data.extend_from_slice(d);
    }
    data.extend_from_slice(time.to_string().as_bytes());
    data
}

/// The zip comment, as Go's `json.Marshal` of the map writes it (keys sorted).
pub fn comment(signature: &[u8], time: i64) -> String {
    // Base64 never needs JSON escaping.
    format!(
        "{{\"signature\":\"{}\",\"time\":{time}}}",
        STANDARD.encode(signature)
    )
}

/// The `.verification.dify.json` contents, as Go marshals `decoder.Verification`.
pub fn verification_json(category: &str) -> String {
    format!("{{\"authorized_category\":\"{category}\"}}")
}

/// Decodes the first PEM block: its label and DER bytes.
fn pem_decode(text: &str) -> Result<(String, Vec<u8>), KeyError> {
    let not_pem = || KeyError("not a PEM file (no -----BEGIN ...----- line)".into());
    let start = text.find("-----BEGIN ").ok_or_else(not_pem)?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----").ok_or_else(not_pem)?;
    let label = rest[..label_end].to_string();
    let body = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body
        .find(&end_marker)
        .ok_or_else(|| KeyError(format!("PEM block \"{label}\" has no end line")))?;
    let body = &body[..end];
    if body.contains("Proc-Type:") || body.contains("DEK-Info:") {
        return Err(KeyError(ENCRYPTED.into()));
    }
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| KeyError(format!("PEM block \"{label}\" is not valid base64: {e}")))?;
    Ok((label, der))
}

/// PEM as Go's `pem.EncodeToMemory` writes it: 64-column base64, a final newline.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_data_is_digests_then_decimal_time() {
        let d = signed_data(&[[1u8; 32], [2u8; 32]], 1_700_000_000);
        assert_eq!(d.len(), 64 + 10);
        assert_eq!(&d[..32], &[1u8; 32]);
        assert_eq!(&d[64..], b"1700000000");
    }

    #[test]
    fn comment_and_verification_shapes() {
        assert_eq!(
            comment(&[0xfb, 0xff], 7),
            r#"{"signature":"+/8=","time":7}"#
        );
        assert_eq!(
            verification_json("community"),
            r#"{"authorized_category":"community"}"#
        );
    }

    #[test]
    fn pem_round_trip_and_errors() {
        let pem = pem_encode("RSA PUBLIC KEY", &[0u8; 100]);
        assert!(pem.lines().all(|l| l.len() <= 64));
        let (label, der) = pem_decode(&pem).unwrap();
        assert_eq!((label.as_str(), der.len()), ("RSA PUBLIC KEY", 100));
        assert!(pem_decode("hello").is_err());
        assert!(
            Signer::from_pem(&pem)
                .unwrap_err()
                .to_string()
                .contains("RSA PUBLIC KEY")
        );
        let garbage = pem_encode("RSA PRIVATE KEY", &[1, 2, 3]);
        assert!(Signer::from_pem(&garbage).is_err());
    }
}
