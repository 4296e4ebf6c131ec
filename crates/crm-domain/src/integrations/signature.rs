//! The signature of an incoming shop webhook: the base64 of HMAC-SHA256 of the raw body, keyed
//! by the connection's secret (Shopify's `X-Shopify-Hmac-Sha256`, WooCommerce's
//! `X-WC-Webhook-Signature`). A payload that fails it is answered `401`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Whether `header_value` signs `body` with `secret`. The body must be the bytes as received:
/// re-serialized JSON would not match. The comparison takes the same time wherever the
/// signatures differ, so that a caller cannot find a valid one byte by byte.
pub fn verify_hmac_sha256_base64(secret: &[u8], body: &[u8], header_value: &str) -> bool {
    let Ok(signature) = STANDARD.decode(header_value.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_4231_vector_verifies() {
        // RFC 4231, test case 2, as base64.
        let signature = "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=";
        assert!(verify_hmac_sha256_base64(
            b"Jefe",
            b"what do ya want for nothing?",
            signature
        ));
    }

    const BODY: &[u8] = br#"{"id":820982911946154508,"total_price":"10.00"}"#;
    const SIGNATURE: &str = "0QWCMvo1Z5if2uhKEN6s6V31/93IVSmY7g06Oc8vl20=";

    #[test]
    fn a_shop_signature_verifies_with_surrounding_whitespace() {
        assert!(verify_hmac_sha256_base64(
            b"shpss_test_secret",
            BODY,
            SIGNATURE
        ));
        assert!(verify_hmac_sha256_base64(
            b"shpss_test_secret",
            BODY,
            &format!(" {SIGNATURE}\n")
        ));
    }

    #[test]
    fn another_secret_body_or_signature_fails() {
        assert!(!verify_hmac_sha256_base64(
            b"another_secret",
            BODY,
            SIGNATURE
        ));
        let reformatted = br#"{"id": 820982911946154508, "total_price": "10.00"}"#;
        assert!(!verify_hmac_sha256_base64(
            b"shpss_test_secret",
            reformatted,
            SIGNATURE
        ));
        let truncated = &SIGNATURE[..20];
        assert!(!verify_hmac_sha256_base64(
            b"shpss_test_secret",
            BODY,
            truncated
        ));
        assert!(!verify_hmac_sha256_base64(
            b"shpss_test_secret",
            BODY,
            "not base64!"
        ));
        assert!(!verify_hmac_sha256_base64(b"shpss_test_secret", BODY, ""));
        // The hex form some shops use elsewhere is not accepted for a base64 header.
        let hex = "d1058232fa356798";
        assert!(!verify_hmac_sha256_base64(b"shpss_test_secret", BODY, hex));
    }
}
