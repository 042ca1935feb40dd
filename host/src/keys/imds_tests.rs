//! Unit tests of `keys::imds` (kept apart: the module is long enough).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn doc(expiration: &str) -> String {
    format!(
        r#"{{"Code":"Success","LastUpdated":"2024-05-01T10:00:00Z","Type":"AWS-HMAC",
        "AccessKeyId":"ASIAEXAMPLEEXAMPLE12","SecretAccessKey":"sEcReT/abc+def",
        "Token":"ToKeN//abc==","Expiration":"{expiration}"}}"#
    )
}

fn t(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap()
}

#[test]
fn endpoint_parsing() {
    let e = ImdsEndpoint::parse("http://169.254.169.254").unwrap();
    assert_eq!(e, ImdsEndpoint::default());
    let e = ImdsEndpoint::parse("http://127.0.0.1:8080/").unwrap();
    assert_eq!(e.connect, "127.0.0.1:8080");
    let e = ImdsEndpoint::parse("http://[fd00:ec2::254]").unwrap();
    assert_eq!(e.connect, "[fd00:ec2::254]:80");
    let e = ImdsEndpoint::parse("http://[fd00:ec2::254]:81").unwrap();
    assert_eq!(e.connect, "[fd00:ec2::254]:81");
    for bad in [
        "https://169.254.169.254",
        "169.254.169.254",
        "http://",
        "http://h:0",
        "http://h:x",
        "http://h/latest",
        "http://h?x",
        "http://[nope]",
        "http://user@h",
    ] {
        assert!(ImdsEndpoint::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn credentials_document_is_checked_strictly() {
    let now = t("2024-05-01T10:00:00Z");
    let c = parse_credentials(doc("2024-05-01T16:00:00Z").as_bytes(), now).unwrap();
    assert_eq!(c.access_key_id, "ASIAEXAMPLEEXAMPLE12");
    assert_eq!(c.secret_access_key.as_str(), "sEcReT/abc+def");
    assert_eq!(
        c.session_token.as_deref().map(|s| s.as_str()),
        Some("ToKeN//abc==")
    );
    assert_eq!(c.expiration, Some(t("2024-05-01T16:00:00Z")));
    let good = doc("2024-05-01T16:00:00Z");
    for (body, why) in [
        (good.replace("Success", "Failure"), "Code"),
        (good.replace("AWS-HMAC", "AWS-OTHER"), "Type"),
        (
            good.replace("ASIAEXAMPLEEXAMPLE12", "ASIA/x"),
            "AccessKeyId",
        ),
        (
            good.replace("sEcReT/abc+def", "sEcReT abc"),
            "SecretAccessKey",
        ),
        (good.replace("ToKeN//abc==", ""), "Token"),
        (
            good.replace("2024-05-01T16:00:00Z", "tomorrow"),
            "Expiration",
        ),
        (format!("{good} {{}}"), "JSON"),
        (
            good.replace("\"Token\"", "\"Token\":\"x\",\"Token\""),
            "JSON",
        ),
        (good.replace("\"Token\":\"ToKeN//abc==\",", ""), "JSON"),
        (good.replace("\"sEcReT/abc+def\"", "5"), "JSON"),
    ] {
        let e = parse_credentials(body.as_bytes(), now)
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{why}: {e}");
        assert!(!e.contains("sEcReT") && !e.contains("ToKeN"), "{e}");
    }
    let e = parse_credentials(doc("2024-05-01T10:00:30Z").as_bytes(), now).unwrap_err();
    assert_eq!(e, CredentialsError::Expired);
    let big = vec![b' '; MAX_IMDS_BODY_LEN + 1];
    assert!(
        parse_credentials(&big, now)
            .unwrap_err()
            .to_string()
            .contains("too large")
    );
}

#[test]
fn stale_and_usable_windows() {
    let now = t("2024-05-01T10:00:00Z");
    let c = parse_credentials(doc("2024-05-01T10:05:01Z").as_bytes(), now).unwrap();
    assert!(!c.stale_at(now) && c.usable_at(now));
    let later = now + Duration::from_secs(1);
    assert!(c.stale_at(later) && c.usable_at(later));
    let late = now + Duration::from_secs(4 * 60 + 1);
    assert!(!c.usable_at(late));
    let fixed = AwsCredentials {
        expiration: None,
        ..c
    };
    assert!(!fixed.stale_at(late) && fixed.usable_at(late));
}

#[test]
fn role_names() {
    assert_eq!(role_name(b"strongroom-host\n").unwrap(), "strongroom-host");
    assert_eq!(role_name(b"\nr@le_1=+,.-\nother").unwrap(), "r@le_1=+,.-");
    assert_eq!(role_name(b"\n \n").unwrap_err(), CredentialsError::NoRole);
    assert!(role_name(b"../etc").is_err());
    assert!(role_name("a".repeat(65).as_bytes()).is_err());
}

#[test]
fn debug_shows_no_secret() {
    let now = t("2024-05-01T10:00:00Z");
    let c = parse_credentials(doc("2024-05-01T16:00:00Z").as_bytes(), now).unwrap();
    let s = format!("{c:?} {:?}", CredentialSource::Env(c.clone()));
    assert!(s.contains("ASIAEXAMPLEEXAMPLE12"), "{s}");
    assert!(!s.contains("sEcReT") && !s.contains("ToKeN"), "{s}");
}
