//! Consent: what a person agreed to on each channel, as events, and the signed links that let
//! them withdraw without logging in.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::marketing::campaigns::ConsentChannel;

text_enum! {
    ConsentStatus {
        Granted => "granted",
        Withdrawn => "withdrawn",
    }
}

text_enum! {
    /// The GDPR Art. 6(1) basis a channel is used on.
    LawfulBasis {
        Consent => "consent",
        Contract => "contract",
        LegalObligation => "legal_obligation",
        VitalInterests => "vital_interests",
        PublicTask => "public_task",
        LegitimateInterests => "legitimate_interests",
    }
}

/// What a token says: whose consent on which channel it withdraws.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unsubscribe {
    #[serde(rename = "c")]
    pub contact_id: String,
    #[serde(rename = "ch")]
    pub channel: ConsentChannel,
}

/// HMAC takes a key of any length; `new_from_slice` cannot fail for it.
fn mac(key: &[u8], payload: &str) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    mac.update(payload.as_bytes());
    Some(mac)
}

/// A token that names `what` and carries its HMAC-SHA256 under `key`: `<payload>.<signature>`,
/// both base64url. It grants nothing but the withdrawal it names.
pub fn sign(key: &[u8], what: &Unsubscribe) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(what).unwrap_or_default());
    let Some(mac) = mac(key, &payload) else {
        return String::new();
    };
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{payload}.{signature}")
}

/// What a token names, when `key` signed it; none for anything altered or made up.
pub fn verify(key: &[u8], token: &str) -> Option<Unsubscribe> {
    let (payload, signature) = token.split_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    mac(key, payload)?.verify_slice(&signature).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_names_its_withdrawal_and_nothing_altered_passes() {
        let what = Unsubscribe {
            contact_id: "0190a000-0000-7000-8000-000000000001".into(),
            channel: ConsentChannel::Email,
        };
        let token = sign(b"key", &what);
        assert_eq!(verify(b"key", &token), Some(what.clone()));
        assert_eq!(verify(b"other key", &token), None);
        let (payload, signature) = token.split_once('.').unwrap();
        let forged = Unsubscribe {
            channel: ConsentChannel::Sms,
            ..what
        };
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            verify(b"key", &format!("{forged_payload}.{signature}")),
            None
        );
        assert_eq!(
            verify(b"key", &format!("{payload}.{}", &signature[1..])),
            None
        );
        assert_eq!(verify(b"key", "no-dot"), None);
    }
}
