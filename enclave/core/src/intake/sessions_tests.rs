use super::*;
use crate::intake::credential::{CredentialVersion, parse_plaintext};

fn credential(expires_at: u64) -> Credential {
    let json = br#"{"exchange":"binance","api_key":"k","api_secret":"s","label":"main","not_after":99999999999}"#;
    Credential::from_plaintext(
        parse_plaintext(json, CredentialVersion::V1).unwrap(),
        expires_at,
        "cd".repeat(32),
        CredentialVersion::V1,
    )
}

#[test]
fn session_id_limits() {
    assert!(valid_session_id(&"a".repeat(MAX_SESSION_ID_LEN)));
    assert!(!valid_session_id(&"a".repeat(MAX_SESSION_ID_LEN + 1)));
    assert!(valid_session_id("3f2504e0-4f89-11d3-9a0c-0305e82c3301"));
    assert!(!valid_session_id(""));
    assert!(!valid_session_id("a/b"));
}

#[test]
fn a_full_cache_purges_expired_then_evicts_the_least_recently_used() {
    let mut cache = SessionCache::with_capacity(4);
    for i in 0..4 {
        let expires = if i == 3 { 100 } else { 1_000 };
        cache.insert(&format!("s{i}"), None, credential(expires), 0);
    }
    assert!(cache.get("s0", 0).is_some(), "s0 is now the most recent");
    cache.insert("s4", None, credential(200), 0);
    assert_eq!(cache.len(), 4);
    assert!(
        cache.get("s1", 0).is_none(),
        "s1 was the least recently used"
    );
    assert!(cache.get("s0", 0).is_some());
    // At t=101 s3 (expires 100) is expired and goes before anything live.
    cache.insert("s5", None, credential(200), 101);
    assert!(cache.get("s3", 101).is_none());
    assert!(cache.get("s2", 101).is_some() && cache.get("s4", 101).is_some());
    assert!(cache.forget("s2"));
    assert!(!cache.forget("s2"));
}

#[test]
fn a_flooding_tenant_evicts_its_own_sessions_not_the_others() {
    let mut cache = SessionCache::with_capacity(10);
    for i in 0..3 {
        cache.insert(&format!("b{i}"), Some("bob"), credential(1_000), 0);
    }
    for i in 0..1_000 {
        cache.insert(&format!("a{i}"), Some("alice"), credential(1_000), 0);
    }
    assert_eq!(
        cache.tenant_len("bob"),
        3,
        "bob keeps what is under his share"
    );
    assert_eq!(cache.tenant_len("alice"), 7);
    assert!(cache.get("a999", 0).is_some() && cache.get("a992", 0).is_none());
    for i in 0..3 {
        assert!(cache.get(&format!("b{i}"), 0).is_some());
    }
    // Bob grows: once he holds the most, his own oldest go.
    for i in 3..20 {
        cache.insert(&format!("b{i}"), Some("bob"), credential(1_000), 0);
    }
    assert_eq!((cache.tenant_len("alice"), cache.tenant_len("bob")), (5, 5));
}

/// 100,000 sessions across 100 tenants into the default capacity: the
/// cache never grows past it and every tenant keeps an equal share. (That
/// an evicted session still aggregates is the re-open path: enclave/tests/service.rs
/// and host/tests/session_cache.rs.)
#[test]
fn a_hundred_thousand_sessions_stay_within_the_capacity_fairly() {
    let mut cache = SessionCache::default();
    for i in 0..100_000u32 {
        let tenant = format!("t{}", i % 100);
        cache.insert(&format!("s{i}"), Some(&tenant), credential(1_000), 0);
    }
    assert_eq!(cache.len(), DEFAULT_SESSION_CACHE_CAPACITY);
    for t in 0..100 {
        assert_eq!(cache.tenant_len(&format!("t{t}")), 100);
    }
    assert!(cache.get("s99999", 0).is_some() && cache.get("s0", 0).is_none());
}
