#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use std::collections::HashMap;

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const BASE: &[(&str, &str)] = &[
    (
        "DATABASE_URL",
        "postgres://postgres@/db?host=/tmp&port=5432",
    ),
    ("ENCLAVE_ADDR", "unix:///tmp/enclave.sock"),
];

fn with(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut m = map(BASE);
    m.extend(map(extra));
    m
}

#[test]
fn defaults() {
    let c = ServeConfig::from_source(&with(&[])).unwrap();
    assert_eq!(c.listen_addr, "127.0.0.1:3000".parse().unwrap());
    assert_eq!(c.max_ttl_seconds, 604_800);
    assert_eq!(c.rate_limit_max, 100);
    assert_eq!(c.rate_limit_window, Duration::from_millis(900_000));
    assert_eq!(c.janitor_interval, Duration::from_secs(60));
    assert!(c.allowed_origins.is_empty() && c.tls.is_none());
    assert!(c.submit_check_key, "keys are checked at submit by default");
    let off = ServeConfig::from_source(&with(&[("SUBMIT_CHECK_KEY", "0")])).unwrap();
    assert!(!off.submit_check_key);
}

#[test]
fn enclave_port_sets_listen_port() {
    let c = ServeConfig::from_source(&with(&[("ENCLAVE_PORT", "8080")])).unwrap();
    assert_eq!(c.listen_addr.port(), 8080);
}

#[test]
fn errors_name_the_variable_but_not_a_secret_value() {
    let secret = "postgres://u:hunter2@[bad";
    let err = DbConfig::from_source(&map(&[("DATABASE_URL", secret)])).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("DATABASE_URL") && !text.contains("hunter2"),
        "{text}"
    );
    let err = ServeConfig::from_source(&with(&[("AUDIT_HASH_KEY", "zz-secret")])).unwrap_err();
    assert!(err.to_string().contains("AUDIT_HASH_KEY") && !err.to_string().contains("zz-secret"));
}

#[test]
fn debug_output_hides_secrets() {
    let c = ServeConfig::from_source(&with(&[
        ("DATABASE_URL", "postgres://owner:hunter2@db/x"),
        ("APP_DATABASE_URL", "postgres://app_service:swordfish@db/x"),
        ("AUDIT_HASH_KEY", &"ab".repeat(32)),
    ]))
    .unwrap();
    let text = format!("{c:?} {:?}", c.db);
    for secret in ["hunter2", "swordfish", "abab"] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[test]
fn rejects_bad_values() {
    for (k, v) in [
        ("RATE_LIMIT_MAX", "0"),
        ("RATE_LIMIT_WINDOW", "ten"),
        ("MAX_TTL_SECONDS", "-1"),
        ("ALLOWED_ORIGINS", "*"),
        ("ALLOWED_ORIGINS", "https://a.example/path"),
        ("ENCLAVE_ADDR", "tcp://1.2.3.4:5"),
        ("DANGER_ALLOW_INSECURE_HTTP", "yes"),
        ("LISTEN_ADDR", "0.0.0.0:3000"),
        ("TLS_CERT_PATH", "/x.pem"),
        ("EGRESS_LISTEN", "tcp://127.0.0.1:1"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("TRUSTED_PROXIES", "the-balancer"),
        ("TLS_TERMINATED_UPSTREAM", "yes"),
        ("SUBMIT_AUTH_CACHE_SECONDS", "301"),
        ("SUBMIT_CHECK_KEY", "yes"),
    ] {
        let err = ServeConfig::from_source(&with(&[(k, v)])).unwrap_err();
        let named = match &err {
            ConfigError::Missing(n) | ConfigError::Invalid { name: n, .. } => *n,
        };
        assert!(
            named == k || (k == "TLS_CERT_PATH" && named == "TLS_KEY_PATH"),
            "{k}: {err}"
        );
    }
}

#[test]
fn insecure_http_off_loopback_only_when_told() {
    let c = ServeConfig::from_source(&with(&[
        ("LISTEN_ADDR", "0.0.0.0:3000"),
        ("DANGER_ALLOW_INSECURE_HTTP", "1"),
    ]))
    .unwrap();
    assert!(c.danger_allow_insecure_http);
    let o = ServeConfig::from_source(&with(&[(
        "ALLOWED_ORIGINS",
        "https://a.example, http://localhost:5173",
    )]))
    .unwrap();
    assert_eq!(
        o.allowed_origins,
        ["https://a.example", "http://localhost:5173"]
    );
}

#[test]
fn egress_is_off_by_default_and_parsed_when_asked() {
    assert!(
        ServeConfig::from_source(&with(&[]))
            .unwrap()
            .egress
            .is_none()
    );
    let c = ServeConfig::from_source(&with(&[("EGRESS_LISTEN", "unix:///tmp/e.sock")]))
        .unwrap()
        .egress
        .unwrap();
    assert_eq!(c.allowlist.len(), 1);
    assert_eq!(
        (c.allowlist[0].host.as_str(), c.allowlist[0].port),
        ("api.binance.com", 443)
    );
    assert_eq!(c.idle_timeout, Duration::from_millis(30_000));
    assert_eq!(c.max_connections, 64);
    let c = ServeConfig::from_source(&with(&[
        ("EGRESS_LISTEN", "vsock://3:8001"),
        ("EGRESS_ALLOWLIST", "localhost:8443, Api.Binance.com:443"),
        ("EGRESS_IDLE_TIMEOUT_MS", "500"),
        ("EGRESS_MAX_CONNECTIONS", "2"),
    ]))
    .unwrap()
    .egress
    .unwrap();
    assert_eq!(c.allowlist.len(), 2);
    assert_eq!(c.allowlist[1].host, "api.binance.com");
    assert_eq!(
        (c.idle_timeout, c.max_connections),
        (Duration::from_millis(500), 2)
    );
    for (k, v) in [
        ("EGRESS_ALLOWLIST", "no-port"),
        ("EGRESS_ALLOWLIST", " , "),
        ("EGRESS_IDLE_TIMEOUT_MS", "0"),
        ("EGRESS_MAX_CONNECTIONS", "many"),
    ] {
        let err = ServeConfig::from_source(&with(&[("EGRESS_LISTEN", "unix:///tmp/e"), (k, v)]))
            .unwrap_err();
        assert!(err.to_string().contains(k), "{k}: {err}");
    }
}
