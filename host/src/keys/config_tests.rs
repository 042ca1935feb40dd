//! Unit tests of `keys::config` (kept apart: the module is long enough).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use super::*;

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const KMS: &[(&str, &str)] = &[
    (
        "KMS_KEY_ID",
        "arn:aws:kms:eu-central-1:111122223333:key/abc",
    ),
    ("KMS_REGION", "eu-central-1"),
    ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
    (
        "AWS_SECRET_ACCESS_KEY",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY",
    ),
    ("AWS_SESSION_TOKEN", "TOKENtokenTOKEN"),
];

#[test]
fn defaults_are_off_with_a_random_instance_id() {
    let a = KeysConfig::from_source(&map(&[])).unwrap();
    let b = KeysConfig::from_source(&map(&[])).unwrap();
    assert!(a.kms.is_none() && a.peer_listen.is_none() && a.peer_url.is_none());
    assert_ne!(a.instance_id, b.instance_id);
    assert_eq!(a.tick, Duration::from_secs(1));
    assert_eq!(a.heartbeat, Duration::from_secs(2));
    assert_eq!(a.peer_live, Duration::from_secs(15));
}

#[tokio::test]
async fn kms_defaults_the_endpoint_and_never_shows_the_secret() {
    let c = KeysConfig::from_source(&map(KMS)).unwrap();
    let kms = c.kms.as_ref().unwrap();
    assert_eq!(kms.endpoint, "kms.eu-central-1.amazonaws.com");
    assert_eq!(kms.credentials.kind(), "env");
    let access = kms.access().await.unwrap();
    let text = format!("{c:?} {kms:?} {access:?}");
    assert!(
        !text.contains("wJalr") && !text.contains("TOKENtoken"),
        "{text}"
    );
    assert_eq!(
        access.secret_access_key,
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY"
    );
    assert_eq!(access.session_token.as_deref(), Some("TOKENtokenTOKEN"));
    let mut m = map(KMS);
    m.insert("KMS_ENDPOINT".into(), "localhost:4443".into());
    m.insert("AWS_CREDENTIALS".into(), "env".into());
    let c = KeysConfig::from_source(&m).unwrap();
    assert_eq!(c.kms.unwrap().endpoint, "localhost:4443");
}

#[test]
fn kms_errors_name_the_variable_not_the_value() {
    for missing in ["KMS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        let mut m = map(KMS);
        m.remove(missing);
        assert_eq!(
            KeysConfig::from_source(&m).unwrap_err(),
            ConfigError::Missing(missing)
        );
    }
    let mut m = map(KMS);
    m.insert(
        "AWS_SECRET_ACCESS_KEY".into(),
        "has space secretvalue".into(),
    );
    let e = KeysConfig::from_source(&m).unwrap_err().to_string();
    assert!(
        e.contains("AWS_SECRET_ACCESS_KEY") && !e.contains("secretvalue"),
        "{e}"
    );
    for (k, v) in [
        ("KMS_REGION", "EU Central"),
        ("KMS_ENDPOINT", "https://kms.example.com/"),
        ("KMS_ENDPOINT", "host:0"),
        ("AWS_CREDENTIALS", "instance-role"),
        ("AWS_IMDS_ENDPOINT", "https://169.254.169.254"),
    ] {
        let mut m = map(KMS);
        m.insert(k.into(), v.into());
        assert!(
            KeysConfig::from_source(&m)
                .unwrap_err()
                .to_string()
                .contains(k),
            "{k}={v}"
        );
    }
}

#[test]
fn credential_source_selection() {
    let kms_only = &KMS[..2];
    // No keys given: the instance role, at the default IMDS address.
    let c = KeysConfig::from_source(&map(kms_only)).unwrap();
    let CredentialSource::Imds(p) = &c.kms.as_ref().unwrap().credentials else {
        panic!("expected imds");
    };
    assert_eq!(p.endpoint().url(), "http://169.254.169.254");
    let mut m = map(kms_only);
    m.insert("AWS_CREDENTIALS".into(), "imds".into());
    m.insert("AWS_IMDS_ENDPOINT".into(), "http://127.0.0.1:9999".into());
    let c = KeysConfig::from_source(&m).unwrap();
    let kms = c.kms.unwrap();
    assert_eq!(kms.credentials.kind(), "imds");
    assert!(format!("{kms:?}").contains("imds"));
    // imds and keys at once is a mistake, named without values.
    for extra in ["AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"] {
        let mut m = map(KMS);
        m.insert("AWS_CREDENTIALS".into(), "imds".into());
        m.retain(|k, _| k.starts_with("KMS_") || k == extra || k == "AWS_CREDENTIALS");
        let e = KeysConfig::from_source(&m).unwrap_err().to_string();
        assert!(
            e.contains("AWS_CREDENTIALS") && !e.contains("TOKENtoken"),
            "{e}"
        );
    }
    // env insists on the keys; a lone secret means env, missing the id.
    let mut m = map(kms_only);
    m.insert("AWS_CREDENTIALS".into(), "env".into());
    assert_eq!(
        KeysConfig::from_source(&m).unwrap_err(),
        ConfigError::Missing("AWS_ACCESS_KEY_ID")
    );
    let mut m = map(kms_only);
    m.insert("AWS_SECRET_ACCESS_KEY".into(), "x".into());
    assert_eq!(
        KeysConfig::from_source(&m).unwrap_err(),
        ConfigError::Missing("AWS_ACCESS_KEY_ID")
    );
    // A bad value is reported even with KMS off.
    let e = KeysConfig::from_source(&map(&[("AWS_CREDENTIALS", "yes")])).unwrap_err();
    assert!(e.to_string().contains("AWS_CREDENTIALS"), "{e}");
}

#[test]
fn peer_settings_are_checked() {
    let c = KeysConfig::from_source(&map(&[("PEER_LISTEN", "10.0.0.5:7000")])).unwrap();
    assert_eq!(c.peer_listen, Some("10.0.0.5:7000".parse().unwrap()));
    assert_eq!(
        c.peer_url, None,
        "filled in by serve from the bound address"
    );
    let c = KeysConfig::from_source(&map(&[
        ("PEER_LISTEN", "0.0.0.0:7000"),
        ("PEER_URL", "http://10.0.0.5:7000"),
        ("INSTANCE_ID", "6f1c9a4e-93f5-4c61-a6c4-5c3b1a0f2d11"),
    ]))
    .unwrap();
    assert_eq!(c.peer_url.as_deref(), Some("http://10.0.0.5:7000"));
    assert_eq!(
        c.instance_id.to_string(),
        "6f1c9a4e-93f5-4c61-a6c4-5c3b1a0f2d11"
    );
    for (pairs, name) in [
        (&[("PEER_LISTEN", "0.0.0.0:7000")][..], "PEER_URL"),
        (&[("PEER_URL", "http://10.0.0.5:7000")][..], "PEER_URL"),
        (
            &[
                ("PEER_LISTEN", "10.0.0.5:7000"),
                ("PEER_URL", "https://x:1"),
            ][..],
            "PEER_URL",
        ),
        (
            &[
                ("PEER_LISTEN", "10.0.0.5:7000"),
                ("PEER_URL", "http://x:1/path"),
            ][..],
            "PEER_URL",
        ),
        (&[("PEER_LISTEN", "nope")][..], "PEER_LISTEN"),
        (&[("INSTANCE_ID", "nope")][..], "INSTANCE_ID"),
        (&[("HEARTBEAT_MS", "20000")][..], "PEER_LIVE_MS"),
    ] {
        let e = KeysConfig::from_source(&map(pairs))
            .unwrap_err()
            .to_string();
        assert!(e.contains(name), "{pairs:?}: {e}");
    }
}
