//! Customer phone numbers: how they are kept out of clear text.

use bincode::{Decode, Encode};
use hmac::{KeyInit, Mac};
use std::fmt;

/// How a tenant wants the `caller` field stored (config key `caller`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerPolicy {
    /// HMAC-SHA256 under the data directory's key, with the tenant mixed in (default):
    /// the same number gives the same reference within a tenant, and nothing outside.
    #[default]
    Hmac,
    /// Stored in clear (only for tenants whose contract allows it).
    Plain,
    /// Not stored at all.
    Drop,
}

/// The data directory's secret key for caller hashing (32 random bytes, made once).
#[derive(Clone)]
pub struct CallerKey(pub [u8; 32]);

impl fmt::Debug for CallerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallerKey(<secret>)")
    }
}

/// A caller as stored.
#[derive(Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub enum CallerRef {
    /// `HMAC-SHA256(key, tenant ‖ 0x00 ‖ number)`.
    Hmac([u8; 32]),
    /// The number in clear ([`CallerPolicy::Plain`] only).
    Plain(String),
}

impl CallerRef {
    /// Apply `policy` to a raw caller number of `tenant`.
    pub fn protect(policy: CallerPolicy, key: &CallerKey, tenant: &str, number: &str) -> Option<CallerRef> {
        match policy {
            CallerPolicy::Drop => None,
            CallerPolicy::Plain => Some(CallerRef::Plain(number.to_owned())),
            CallerPolicy::Hmac => {
                let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key.0)
                    .unwrap_or_else(|_| <hmac::Hmac<sha2::Sha256> as KeyInit>::new(&Default::default()));
                mac.update(tenant.as_bytes());
                mac.update(&[0]);
                mac.update(number.as_bytes());
                let out = mac.finalize().into_bytes();
                let mut h = [0u8; 32];
                h.copy_from_slice(&out);
                Some(CallerRef::Hmac(h))
            }
        }
    }

    /// The stored form as text: `hmac-sha256:<hex>` or the clear number.
    pub fn to_text(&self) -> String {
        match self {
            CallerRef::Hmac(h) => format!("hmac-sha256:{}", hex::encode(h)),
            CallerRef::Plain(s) => s.clone(),
        }
    }
}

/// Never prints a number: `tracing` and panics must not leak customer data.
impl fmt::Debug for CallerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallerRef::Hmac(h) => write!(f, "CallerRef::Hmac({}…)", hex::encode(&h[..4])),
            CallerRef::Plain(_) => f.write_str("CallerRef::Plain(<redacted>)"),
        }
    }
}

impl serde::Serialize for CallerRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_is_keyed_and_tenant_scoped_and_never_clear() {
        let k1 = CallerKey([1; 32]);
        let k2 = CallerKey([2; 32]);
        let a = CallerRef::protect(CallerPolicy::Hmac, &k1, "acme", "+8613800138000").unwrap();
        let b = CallerRef::protect(CallerPolicy::Hmac, &k1, "acme", "+8613800138000").unwrap();
        let c = CallerRef::protect(CallerPolicy::Hmac, &k2, "acme", "+8613800138000").unwrap();
        let d = CallerRef::protect(CallerPolicy::Hmac, &k1, "other", "+8613800138000").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert!(!a.to_text().contains("13800138000"));
        assert!(!format!("{a:?}").contains("13800138000"));
        let p = CallerRef::protect(CallerPolicy::Plain, &k1, "acme", "+8613800138000").unwrap();
        assert!(!format!("{p:?}").contains("13800138000"));
        assert_eq!(CallerRef::protect(CallerPolicy::Drop, &k1, "acme", "1"), None);
    }
}
