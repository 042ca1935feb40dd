//! `GET /r/{id}`, `GET /r?account=` and `/verify/` against real processes:
//! unpublished results are not public, a published one is served as a bundle
//! that the verifier accepts, immutable and readable from any origin.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod public;

use public::TwoResults;
use strongroom_verifier::{PcrSet, Policy, ResultBundle, TrustRoot, verify_bundle};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_published_results_are_public_and_their_bundles_verify() {
    let t = TwoResults::start().await;
    let c = t.stack.client();
    let (id, other) = (t.id(1), t.id(0));
    let account = t.answers[1]["aggregates"]["account"]
        .as_str()
        .expect("account")
        .to_owned();

    // Nothing is public before an explicit publish.
    for path in [format!("/r/{id}"), format!("/r/{other}")] {
        let r = c.get(&path).await.expect("answered");
        assert_eq!(
            (r.status, r.code()),
            (404, "result_not_found".into()),
            "{path}"
        );
    }
    let list = c
        .get(&format!("/r?account={account}"))
        .await
        .expect("answered");
    assert_eq!(list.status, 200);
    assert_eq!(list.json()["results"], serde_json::json!([]));

    // The serving role cannot publish: no UPDATE on aggregates (V13); and it
    // sees no unpublished row without a tenant.
    let db = t.stack.db.client().await;
    db.batch_execute("SET ROLE app_service").await.unwrap();
    let denied = db
        .execute("UPDATE aggregates SET published = true", &[])
        .await
        .unwrap_err();
    assert!(
        format!("{denied:?}").contains("permission denied"),
        "{denied:?}"
    );
    let seen = db
        .query_one("SELECT count(*) FROM aggregates", &[])
        .await
        .unwrap();
    assert_eq!(seen.get::<_, i64>(0), 0);
    db.batch_execute("RESET ROLE").await.unwrap();

    t.publish(1).await;
    let seen = {
        db.batch_execute("SET ROLE app_service").await.unwrap();
        let n: i64 = db
            .query_one("SELECT count(*) FROM aggregates", &[])
            .await
            .unwrap()
            .get(0);
        db.batch_execute("RESET ROLE").await.unwrap();
        n
    };
    assert_eq!(
        seen, 1,
        "only the published row is visible without a tenant"
    );
    let r = c.get(&format!("/r/{id}")).await.expect("answered");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let bundle = ResultBundle::parse(&r.body).expect("a bundle");
    assert_eq!(bundle.id, id);
    assert_eq!(bundle.log.leaf_index, 1);
    assert_eq!(bundle.log.inclusion_proof.len(), 1);
    bundle.check_envelope().expect("format and id");
    let root =
        TrustRoot::dev_from_pem(&std::fs::read_to_string(&t.stack.enclave.root_pem).unwrap())
            .expect("dev root");
    let pcrs = std::fs::read(t.stack.dir.path().join("pcrs.json")).expect("pcrs.json");
    let policy = Policy::default().allow_pcrs(PcrSet::from_json("pcrs.json", &pcrs).unwrap());
    // B1–B3: the served bundle verifies, its owner's consent included.
    assert_eq!(bundle.format, "strongroom/result-bundle/v2");
    assert!(bundle.publish_authorization.is_some());
    verify_bundle(&bundle, &root, &policy).expect("the served bundle verifies");
    let mut unconsented = bundle.clone();
    unconsented.publish_authorization = None;
    assert_eq!(
        verify_bundle(&unconsented, &root, &policy)
            .unwrap_err()
            .code(),
        "publish_consent",
        "a private v2 result without its owner's consent"
    );
    // The same bytes every time, even after the log grew: immutable.
    let third = c.aggregates(&t.session).await.expect("answered");
    assert_eq!(third.status, 200);
    let again = c
        .get(&format!("/r/{}", id.to_uppercase()))
        .await
        .expect("answered");
    assert_eq!(again.body, r.body);

    // The other result stays private (flagged one by one above); the third,
    // logged after the owner's consent was stored, is public at once: the
    // consent covers the credential's later results. The account lists both.
    let r = c.get(&format!("/r/{other}")).await.expect("answered");
    assert_eq!(r.status, 404);
    let third_id = {
        use base64::Engine as _;
        let cose = base64::engine::general_purpose::STANDARD
            .decode(third.json()["aggregates_signed"].as_str().unwrap())
            .unwrap();
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(cose))
    };
    assert_eq!(c.get(&format!("/r/{third_id}")).await.unwrap().status, 200);
    let list = c
        .get(&format!("/r?account={account}"))
        .await
        .expect("answered");
    assert_eq!(list.json()["results"], serde_json::json!([id, third_id]));
    for bad in ["/r/zz", "/r/", "/r?account=nothex", "/r"] {
        let r = c.get(bad).await.expect("answered");
        assert!(matches!(r.status, 400 | 404), "{bad}: {}", r.status);
    }

    // The page, its pinned measurements and (dev) root, with its own CSP.
    let page = c.get("/verify/").await.expect("answered");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("'wasm-unsafe-eval'")
    );
    let served = c.get("/verify/pcrs.json").await.expect("answered");
    assert_eq!(served.body, pcrs);
    let wasm = c
        .get("/verify/strongroom_verifier_bg.wasm")
        .await
        .expect("answered");
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(&wasm.body[..4], b"\0asm");
    let single = c
        .get("/verify/strongroom-verify.html")
        .await
        .expect("answered");
    assert_eq!(single.status, 200);
    assert!(String::from_utf8_lossy(&single.body).contains("id=\"wasm-base64\""));
    let r = c.get("/verify").await.expect("answered");
    assert_eq!((r.status, r.header("location")), (308, Some("/verify/")));
}
