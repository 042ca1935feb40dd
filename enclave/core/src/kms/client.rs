//! The KMS calls, without the transport: which endpoint may be reached (the
//! enclave's own allowlist, checked before the host is asked for anything:
//! `kms.<region>.amazonaws.com:443` and `kms-fips.<region>.amazonaws.com:443`
//! for the region the request is signed for, plus the dev double if the
//! binary configured one), the signed request, and strict parsing of the
//! answer. The bytes go through the [`KmsTransport`] port (the binary: HTTPS
//! `POST /` over the egress proxy, TLS terminating in the enclave, bounded
//! by `MAX_RESPONSE_LEN` and time-limited). Errors carry no KMS body text
//! and no credential.

use std::collections::BTreeMap;
use std::future::Future;

use strongroom_protocol::egress;
use strongroom_protocol::messages::KmsAccess;
use zeroize::Zeroizing;

use super::pin::{KmsKeyPin, PinError};
use super::request::{
    DecryptOutput, GenerateDataKeyOutput, KmsEndpoint, KmsError, KmsRequest, Signer, parse_decrypt,
    parse_generate_data_key,
};
use super::sigv4::{AmzDate, Credentials};
use crate::exchange::Endpoint;

/// Encryption-context key binding a data key to its ring.
pub(crate) const CONTEXT_RING_ID: &str = "strongroom:ring_id";
/// Longest region name accepted (`ap-southeast-4`, `us-gov-west-1`, ...).
pub(crate) const MAX_REGION_LEN: usize = 32;

/// Why a KMS call failed. All of it maps to `kms_failed` on the wire; the
/// variant (and a refusal's AWS error type) goes to the enclave log only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KmsClientError {
    /// The endpoint is not on the enclave's KMS allowlist (or is malformed).
    #[error("KMS endpoint not allowed")]
    NotAllowed,
    /// No egress proxy configured.
    #[error("no egress configured for KMS")]
    NoEgress,
    /// The credentials are not acceptable (empty, too long, not printable).
    #[error("invalid KMS credentials")]
    Credentials,
    /// Proxy, TCP, TLS or HTTP failure, or a timeout.
    #[error("KMS unreachable")]
    Unreachable,
    /// KMS refused, or its answer did not parse (see [`KmsError`]).
    #[error("KMS: {0}")]
    Kms(#[from] KmsError),
    /// No pinned key, the host named another key, or KMS answered for one.
    #[error(transparent)]
    Pin(#[from] PinError),
}

/// An allowed destination: where to connect, what to sign for, and whether
/// it is an AWS endpoint (trusted under the image's webpki roots) or the dev
/// double (trusted under its own CA only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsTarget {
    /// Host and port to reach through egress (also the TLS server name).
    pub endpoint: Endpoint,
    /// `Host` header and SigV4 region.
    pub kms: KmsEndpoint,
    /// The configured dev double rather than an AWS endpoint.
    pub dev: bool,
}

/// Port: sends one signed request to an allowed KMS endpoint and returns
/// `(status, body)`, the body at most `MAX_RESPONSE_LEN` bytes.
pub trait KmsTransport: Send + Sync {
    /// DEV ONLY: the KMS double the binary was told to allow, if any.
    fn dev_endpoint(&self) -> Option<&Endpoint>;

    /// The KMS key this image is pinned to (`--kms-key-arn`); `None`: KMS
    /// mode is off and both calls are refused before anything is sent.
    fn pinned_key(&self) -> Option<&KmsKeyPin>;

    /// `POST /` of `request` to `target`.
    fn post(
        &self,
        target: &KmsTarget,
        request: &KmsRequest,
    ) -> impl Future<Output = Result<(u16, Vec<u8>), KmsClientError>> + Send;
}

pub(crate) fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= MAX_REGION_LEN
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Splits `host` or `host:port` (default 443).
pub(crate) fn parse_endpoint(s: &str) -> Option<Endpoint> {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok().filter(|p| *p != 0)?),
        None => (s, 443),
    };
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    (plain && egress::valid_host(host)).then(|| Endpoint {
        host: host.to_ascii_lowercase(),
        port,
    })
}

/// The production names for `region`: only these may be reached in a release.
pub(crate) fn production_endpoints(region: &str) -> [Endpoint; 2] {
    [
        Endpoint {
            host: format!("kms.{region}.amazonaws.com"),
            port: 443,
        },
        Endpoint {
            host: format!("kms-fips.{region}.amazonaws.com"),
            port: 443,
        },
    ]
}

/// Whether `access` names an allowed endpoint: a production one for its
/// region, or exactly the configured dev double.
pub(crate) fn resolve(
    access: &KmsAccess,
    dev: Option<&Endpoint>,
) -> Result<KmsTarget, KmsClientError> {
    if !valid_region(&access.region) {
        return Err(KmsClientError::NotAllowed);
    }
    let endpoint = parse_endpoint(&access.endpoint).ok_or(KmsClientError::NotAllowed)?;
    let is_dev = if production_endpoints(&access.region).contains(&endpoint) {
        false
    } else if dev == Some(&endpoint) {
        true
    } else {
        return Err(KmsClientError::NotAllowed);
    };
    let host = if endpoint.port == 443 {
        endpoint.host.clone()
    } else {
        endpoint.to_string()
    };
    Ok(KmsTarget {
        kms: KmsEndpoint {
            host,
            region: access.region.clone(),
        },
        endpoint,
        dev: is_dev,
    })
}

/// `{"strongroom:ring_id": hex(ring_id)}`.
pub fn encryption_context(ring_id: &[u8]) -> BTreeMap<String, String> {
    BTreeMap::from([(CONTEXT_RING_ID.to_owned(), hex::encode(ring_id))])
}

fn credentials(access: &KmsAccess) -> Result<Credentials, KmsClientError> {
    Credentials::new(
        &access.access_key_id,
        Zeroizing::new(access.secret_access_key.clone()),
        access.session_token.clone().map(Zeroizing::new),
    )
    .map_err(|_| KmsClientError::Credentials)
}

fn amz_date(now_s: u64) -> Result<AmzDate, KmsClientError> {
    let secs = i64::try_from(now_s).map_err(|_| KmsClientError::Credentials)?;
    AmzDate::from_unix(secs).map_err(|_| KmsClientError::Credentials)
}

/// `GenerateDataKey` (AES_256) bound to `ring_id`, answered to the
/// recipient key in `attestation`. `now_s`: the enclave's clock.
pub async fn generate_data_key<T: KmsTransport>(
    transport: &T,
    access: &KmsAccess,
    ring_id: &[u8],
    attestation: &[u8],
    now_s: u64,
) -> Result<GenerateDataKeyOutput, KmsClientError> {
    let context = encryption_context(ring_id);
    let build = |s: &Signer<'_>| s.generate_data_key(&access.key_id, &context, attestation);
    let key_of = |o: &GenerateDataKeyOutput| o.key_id.clone();
    call(
        transport,
        access,
        now_s,
        build,
        parse_generate_data_key,
        key_of,
    )
    .await
}

/// `Decrypt` of `blob` bound to `ring_id`, answered to `attestation`'s key.
pub async fn decrypt<T: KmsTransport>(
    transport: &T,
    access: &KmsAccess,
    ring_id: &[u8],
    blob: &[u8],
    attestation: &[u8],
    now_s: u64,
) -> Result<DecryptOutput, KmsClientError> {
    let context = encryption_context(ring_id);
    let build = |s: &Signer<'_>| s.decrypt(&access.key_id, &context, blob, attestation);
    let key_of = |o: &DecryptOutput| o.key_id.clone();
    call(transport, access, now_s, build, parse_decrypt, key_of).await
}

/// One KMS call: the pin and the allowlist checked before anything is sent,
/// the request signed with the host's credentials, the answer parsed and
/// refused unless it is for the pinned key (`key_of`: its `KeyId`).
async fn call<T: KmsTransport, O>(
    transport: &T,
    access: &KmsAccess,
    now_s: u64,
    build: impl FnOnce(&Signer<'_>) -> Result<KmsRequest, KmsError>,
    parse: fn(u16, &[u8]) -> Result<O, KmsError>,
    key_of: impl FnOnce(&O) -> String,
) -> Result<O, KmsClientError> {
    let pin = transport.pinned_key().ok_or(PinError::NotPinned)?;
    pin.check_request(&access.key_id, &access.region)?;
    let target = resolve(access, transport.dev_endpoint())?;
    let req = {
        let creds = credentials(access)?;
        let date = amz_date(now_s)?;
        build(&Signer {
            endpoint: &target.kms,
            credentials: &creds,
            date: &date,
        })?
    };
    let (status, body) = transport.post(&target, &req).await?;
    let out = parse(status, &body)?;
    pin.check_answer(&key_of(&out))?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn access(region: &str, endpoint: &str) -> KmsAccess {
        KmsAccess {
            region: region.into(),
            endpoint: endpoint.into(),
            key_id: "k".into(),
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: None,
        }
    }

    #[test]
    fn production_allowlist() {
        for ok in [
            "kms.eu-central-1.amazonaws.com",
            "kms.eu-central-1.amazonaws.com:443",
            "kms-fips.eu-central-1.amazonaws.com",
            "KMS.EU-CENTRAL-1.amazonaws.com",
        ] {
            let t = resolve(&access("eu-central-1", ok), None).unwrap();
            assert_eq!(t.kms.host, ok.to_ascii_lowercase().trim_end_matches(":443"));
            assert_eq!(t.endpoint.port, 443);
            assert!(!t.dev);
        }
        for bad in [
            ("eu-central-1", "kms.us-east-1.amazonaws.com"),
            ("eu-central-1", "kms.eu-central-1.amazonaws.com:8443"),
            ("eu-central-1", "kms.eu-central-1.amazonaws.com.evil.com"),
            ("eu-central-1", "evil.com"),
            ("eu-central-1", "127.0.0.1:4443"),
            ("eu-central-1", ""),
            ("eu-central-1", "kms.eu-central-1.amazonaws.com:0"),
            ("eu-central-1/x", "kms.eu-central-1/x.amazonaws.com"),
            ("", "kms..amazonaws.com"),
        ] {
            assert_eq!(
                resolve(&access(bad.0, bad.1), None).err(),
                Some(KmsClientError::NotAllowed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn dev_endpoint_only_when_configured() {
        let a = access("us-east-1", "127.0.0.1:4443");
        assert!(resolve(&a, None).is_err());
        let dev = parse_endpoint("127.0.0.1:4443").unwrap();
        let t = resolve(&a, Some(&dev)).unwrap();
        assert_eq!(t.kms.host, "127.0.0.1:4443");
        assert!(t.dev);
        assert!(resolve(&access("us-east-1", "127.0.0.1:4444"), Some(&dev)).is_err());
        // Production names stay allowed beside the double.
        let prod = resolve(
            &access("us-east-1", "kms.us-east-1.amazonaws.com"),
            Some(&dev),
        );
        assert!(!prod.unwrap().dev);
    }

    /// A transport that counts posts and answers with `answer_key` as KeyId.
    struct Fake {
        pin: Option<KmsKeyPin>,
        answer_key: String,
        posts: std::sync::atomic::AtomicUsize,
    }

    impl KmsTransport for Fake {
        fn dev_endpoint(&self) -> Option<&Endpoint> {
            None
        }

        fn pinned_key(&self) -> Option<&KmsKeyPin> {
            self.pin.as_ref()
        }

        async fn post(
            &self,
            _target: &KmsTarget,
            _request: &KmsRequest,
        ) -> Result<(u16, Vec<u8>), KmsClientError> {
            self.posts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = serde_json::json!({"CiphertextBlob": "AAEC", "CiphertextForRecipient": "AwQF",
                "KeyId": self.answer_key});
            Ok((200, body.to_string().into_bytes()))
        }
    }

    const PINNED: &str = "arn:aws:kms:us-east-1:111122223333:key/ring";
    const ATTACKER: &str = "arn:aws:kms:us-east-1:444455556666:key/mine";

    fn run<F: Future>(f: F) -> F::Output {
        // The fake never waits: one poll completes it.
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the fake transport never waits"),
        }
    }

    fn pinned_access(key_id: &str) -> KmsAccess {
        let mut a = access("us-east-1", "kms.us-east-1.amazonaws.com");
        a.key_id = key_id.into();
        a
    }

    /// The operator names a key of its own account: refused before anything
    /// is sent. KMS answering for another key: refused. No pin: KMS is off.
    #[test]
    fn only_the_pinned_key_is_asked_and_accepted() {
        let fake = |pin: Option<&str>, answer: &str| Fake {
            pin: pin.map(|p| KmsKeyPin::parse(p).unwrap()),
            answer_key: answer.into(),
            posts: Default::default(),
        };
        let posts = |f: &Fake| f.posts.load(std::sync::atomic::Ordering::SeqCst);
        let gdk = |f: &Fake, key: &str| {
            run(generate_data_key(
                f,
                &pinned_access(key),
                &[1; 16],
                b"doc",
                1_700_000_000,
            ))
        };
        let honest = fake(Some(PINNED), PINNED);
        assert_eq!(gdk(&honest, PINNED).unwrap().key_id, PINNED);
        let dec = run(decrypt(
            &honest,
            &pinned_access(PINNED),
            &[1; 16],
            b"b",
            b"d",
            1_700_000_000,
        ));
        assert!(
            dec.is_err(),
            "the fake's answer carries a blob, which Decrypt refuses"
        );
        assert_eq!(posts(&honest), 2);

        let redirected = fake(Some(PINNED), ATTACKER);
        assert_eq!(gdk(&redirected, ATTACKER), Err(PinError::OtherKey.into()));
        let d = run(decrypt(
            &redirected,
            &pinned_access(ATTACKER),
            &[1; 16],
            b"b",
            b"d",
            1,
        ));
        assert_eq!(d, Err(PinError::OtherKey.into()));
        assert_eq!(posts(&redirected), 0, "nothing sent for another key");
        assert_eq!(
            gdk(&redirected, PINNED),
            Err(PinError::AnswerForOtherKey.into())
        );

        let unpinned = fake(None, PINNED);
        assert_eq!(gdk(&unpinned, PINNED), Err(PinError::NotPinned.into()));
        assert_eq!(posts(&unpinned), 0);
    }

    #[test]
    fn context_binds_the_ring_id() {
        let ctx = encryption_context(&[0xab; 16]);
        assert_eq!(ctx.len(), 1);
        assert_eq!(ctx[CONTEXT_RING_ID], "ab".repeat(16));
    }
}
