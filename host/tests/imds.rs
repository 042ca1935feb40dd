//! `AWS_CREDENTIALS=imds` against a fake EC2 instance metadata service: a real
//! HTTP server on a loopback port serving the three IMDSv2 endpoints and
//! refusing any metadata request without a token it issued.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use strongroom_host::config::{KeysConfig, KmsConfig};
use strongroom_host::keys::imds::{CredentialsError, ImdsEndpoint, ImdsProvider};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ROLE: &str = "strongroom-host-role";
const ROLES_PATH: &str = "/latest/meta-data/iam/security-credentials/";
/// Markers that every secret the fake hands out carries; none may leak.
const SECRET_MARK: &str = "SeCrEt";
const TOKEN_MARK: &str = "ToKeN";
const IMDS_TOKEN_MARK: &str = "ImDsTok";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    TokenForbidden,
    EmptyToken,
    NoRole,
    BadJson,
    Huge,
    Failure,
    Hang,
}

struct Fake {
    mode: Mutex<Mode>,
    expiration: Mutex<OffsetDateTime>,
    issued: Mutex<Vec<String>>,
    token_puts: AtomicUsize,
    fetches: AtomicUsize,
    refused: AtomicUsize,
}

impl Fake {
    fn set_mode(&self, m: Mode) {
        *self.mode.lock().unwrap() = m;
    }

    fn expire_at(&self, t: OffsetDateTime) {
        *self.expiration.lock().unwrap() = t;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn answer(&self, req: &Request<Incoming>) -> (StatusCode, String) {
        let mode = *self.mode.lock().unwrap();
        let path = req.uri().path();
        if req.method() == Method::PUT && path == "/latest/api/token" {
            return self.token(req, mode);
        }
        if req.method() != Method::GET {
            return (StatusCode::METHOD_NOT_ALLOWED, String::new());
        }
        let token = req
            .headers()
            .get("x-aws-ec2-metadata-token")
            .and_then(|v| v.to_str().ok());
        if !token.is_some_and(|t| self.issued.lock().unwrap().iter().any(|i| i == t)) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return (StatusCode::UNAUTHORIZED, String::new());
        }
        match (path.strip_prefix(ROLES_PATH), mode) {
            (Some(""), Mode::NoRole) => (StatusCode::NOT_FOUND, String::new()),
            (Some(""), _) => (StatusCode::OK, format!("{ROLE}\n")),
            (Some(ROLE), _) => self.credentials(mode),
            _ => (StatusCode::NOT_FOUND, String::new()),
        }
    }

    fn token(&self, req: &Request<Incoming>, mode: Mode) -> (StatusCode, String) {
        let ttl = req
            .headers()
            .get("x-aws-ec2-metadata-token-ttl-seconds")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok());
        if !ttl.is_some_and(|t| (1..=21600).contains(&t)) {
            return (StatusCode::BAD_REQUEST, String::new());
        }
        let n = self.token_puts.fetch_add(1, Ordering::SeqCst) + 1;
        match mode {
            Mode::TokenForbidden => (StatusCode::FORBIDDEN, String::new()),
            Mode::EmptyToken => (StatusCode::OK, String::new()),
            _ => {
                let t = format!("{IMDS_TOKEN_MARK}-{n}-AQAEAAAAAAAAAAAAAAAAAAAAAAAAAA==");
                self.issued.lock().unwrap().push(t.clone());
                (StatusCode::OK, t)
            }
        }
    }

    fn credentials(&self, mode: Mode) -> (StatusCode, String) {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let exp = self.expiration.lock().unwrap().format(&Rfc3339).unwrap();
        let code = if mode == Mode::Failure {
            "Failure"
        } else {
            "Success"
        };
        let doc = format!(
            r#"{{
  "Code" : "{code}",
  "LastUpdated" : "2024-05-01T10:00:00Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "ASIAFAKE{n:012}",
  "SecretAccessKey" : "fake/{SECRET_MARK}+{n}",
  "Token" : "fake/{TOKEN_MARK}+{n}==",
  "Expiration" : "{exp}"
}}"#
        );
        match mode {
            Mode::BadJson => (StatusCode::OK, doc[..doc.len() / 2].to_owned()),
            Mode::Huge => (StatusCode::OK, format!("{doc}{}", " ".repeat(70 * 1024))),
            _ => (StatusCode::OK, doc),
        }
    }
}

/// Starts the fake on a loopback port; returns it and its `http://` URL.
async fn fake_imds() -> (Arc<Fake>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let fake = Arc::new(Fake {
        mode: Mutex::new(Mode::Normal),
        expiration: Mutex::new(OffsetDateTime::now_utc() + Duration::from_secs(3600)),
        issued: Mutex::new(Vec::new()),
        token_puts: AtomicUsize::new(0),
        fetches: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
    });
    let state = fake.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let state = state.clone();
                    async move {
                        if *state.mode.lock().unwrap() == Mode::Hang {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                        }
                        let (status, body) = state.answer(&req);
                        let mut resp = Response::new(Full::new(Bytes::from(body)));
                        *resp.status_mut() = status;
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (fake, url)
}

fn kms_config(url: &str) -> KmsConfig {
    let env: HashMap<String, String> = [
        (
            "KMS_KEY_ID",
            "arn:aws:kms:eu-central-1:111122223333:key/abc",
        ),
        ("KMS_REGION", "eu-central-1"),
        ("AWS_CREDENTIALS", "imds"),
        ("AWS_IMDS_ENDPOINT", url),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    KeysConfig::from_source(&env).unwrap().kms.unwrap()
}

fn provider(url: &str) -> ImdsProvider {
    ImdsProvider::new(ImdsEndpoint::parse(url).unwrap())
}

fn assert_no_secret(text: &str) {
    for mark in [SECRET_MARK, TOKEN_MARK, IMDS_TOKEN_MARK] {
        assert!(!text.contains(mark), "{mark} leaked: {text}");
    }
}

#[tokio::test]
async fn fetches_caches_and_refreshes_before_expiry() {
    let (fake, url) = fake_imds().await;
    let kms = kms_config(&url);
    let t0 = OffsetDateTime::now_utc();
    let first_expiry = t0 + Duration::from_secs(3600);
    fake.expire_at(first_expiry);

    let a = kms.access_at(t0).await.unwrap();
    assert_eq!(a.access_key_id, "ASIAFAKE000000000001");
    assert_eq!(a.secret_access_key, format!("fake/{SECRET_MARK}+1"));
    assert_eq!(a.session_token, Some(format!("fake/{TOKEN_MARK}+1==")));
    assert_eq!(
        (a.region.as_str(), a.endpoint.as_str()),
        ("eu-central-1", "kms.eu-central-1.amazonaws.com")
    );
    assert_eq!(fake.fetches(), 1);

    // Cached while more than 5 minutes remain, also through a clone.
    let b = kms
        .clone()
        .access_at(t0 + Duration::from_secs(54 * 60))
        .await
        .unwrap();
    assert_eq!(b.access_key_id, a.access_key_id);
    assert_eq!(fake.fetches(), 1);

    // Within 5 minutes of the expiry: fetched again, new credentials.
    fake.expire_at(t0 + Duration::from_secs(2 * 3600));
    let c = kms
        .access_at(t0 + Duration::from_secs(56 * 60))
        .await
        .unwrap();
    assert_eq!(c.access_key_id, "ASIAFAKE000000000002");
    assert_eq!(c.secret_access_key, format!("fake/{SECRET_MARK}+2"));
    assert_eq!(fake.fetches(), 2);
    // One IMDSv2 token per refresh; no request went without one.
    assert_eq!(fake.token_puts.load(Ordering::SeqCst), 2);
    assert_eq!(fake.refused.load(Ordering::SeqCst), 0);

    // Nothing secret in Debug output of anything holding the credentials.
    assert_no_secret(&format!("{kms:?} {a:?} {c:?}"));
}

#[tokio::test]
async fn a_failed_refresh_keeps_cached_credentials_only_while_valid() {
    let (fake, url) = fake_imds().await;
    let p = provider(&url);
    let t0 = OffsetDateTime::now_utc();
    fake.expire_at(t0 + Duration::from_secs(3600));
    let first = p.credentials_at(t0).await.unwrap();

    fake.set_mode(Mode::NoRole);
    let stale = t0 + Duration::from_secs(57 * 60);
    let again = p.credentials_at(stale).await.unwrap();
    assert_eq!(again.access_key_id, first.access_key_id);
    assert_eq!(
        fake.token_puts.load(Ordering::SeqCst),
        2,
        "a refresh was tried"
    );

    let too_late = t0 + Duration::from_secs(59 * 60 + 30);
    assert_eq!(
        p.credentials_at(too_late).await.unwrap_err(),
        CredentialsError::NoRole
    );
}

/// Sends a raw GET; returns the status code.
async fn raw_get(url: &str, path: &str, token: Option<&str>) -> u16 {
    let mut s = TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    let header = token.map_or(String::new(), |t| {
        format!("x-aws-ec2-metadata-token: {t}\r\n")
    });
    let req = format!("GET {path} HTTP/1.1\r\nhost: imds\r\n{header}connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let line = String::from_utf8_lossy(&buf);
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_missing_or_bad_token_is_refused() {
    let (fake, url) = fake_imds().await;
    // The fake enforces IMDSv2: without an issued token, metadata is refused
    // (so the fetches that succeed elsewhere prove the client sends it).
    assert_eq!(raw_get(&url, ROLES_PATH, None).await, 401);
    assert_eq!(raw_get(&url, ROLES_PATH, Some("made-up")).await, 401);
    let role = format!("{ROLES_PATH}{ROLE}");
    assert_eq!(raw_get(&url, &role, None).await, 401);
    assert_eq!(fake.fetches(), 0);

    // A token refused or missing at the source stops the fetch, clearly.
    fake.set_mode(Mode::TokenForbidden);
    let e = provider(&url)
        .credentials_at(OffsetDateTime::now_utc())
        .await;
    let e = e.unwrap_err().to_string();
    assert!(e.contains("token request") && e.contains("403"), "{e}");
    fake.set_mode(Mode::EmptyToken);
    let e = provider(&url)
        .credentials_at(OffsetDateTime::now_utc())
        .await;
    let e = e.unwrap_err().to_string();
    assert!(e.contains("token request") && e.contains("empty"), "{e}");
    assert_eq!(fake.refused.load(Ordering::SeqCst), 3, "no GET was tried");
}

#[tokio::test]
async fn errors_are_clear_and_hold_no_secret() {
    let (fake, url) = fake_imds().await;
    let now = OffsetDateTime::now_utc();
    for (mode, expect) in [
        (Mode::NoRole, "no IAM role is attached"),
        (Mode::BadJson, "not the expected JSON document"),
        (Mode::Huge, "over 64 KiB"),
        (Mode::Failure, "Code is not Success"),
    ] {
        fake.set_mode(mode);
        let e = provider(&url).credentials_at(now).await.unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(text.contains(expect), "{mode:?}: {text}");
        assert_no_secret(&text);
    }

    fake.set_mode(Mode::Normal);
    fake.expire_at(now + Duration::from_secs(30));
    let e = provider(&url).credentials_at(now).await.unwrap_err();
    assert_eq!(e, CredentialsError::Expired);
    assert!(e.to_string().contains("expire"), "{e}");

    fake.set_mode(Mode::Hang);
    let started = std::time::Instant::now();
    let e = provider(&url).credentials_at(now).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let e = e.to_string();
    assert!(
        e.contains("token request") && e.contains("timed out"),
        "{e}"
    );

    // Nothing listening: the endpoint is named.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = kms_config(&dead).access().await.unwrap_err().to_string();
    assert!(e.contains("unreachable") && e.contains(&dead), "{e}");
}
