//! The verification page in a real browser (headless Chromium, Debian's
//! `chromium`; `STRONGROOM_CHROMIUM` names another binary): a published
//! result opened at `/verify/#/r/{id}` on the real host reads "verified"; the
//! same page, its files copied from the host and served from another origin
//! (as anyone may host it), fails closed on a flipped byte of the signed
//! result, a changed figure, a wrong pcrs.json, a bad inclusion proof, and a
//! verification time past the certificates' notAfter. Screenshots go to
//! `target/browser-screenshots/`; the cold verification time (page load to
//! verdict) is printed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod public;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use public::TwoResults;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1100,1700",
    // Long enough for the fetches, the WebAssembly and the verification;
    // Chromium returns as soon as the page is idle.
    "--virtual-time-budget=30000",
];

fn chromium() -> String {
    std::env::var("STRONGROOM_CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

/// One cold run of Chromium (fresh profile) with `mode` (`--dump-dom` or
/// `--screenshot=PATH`); returns stdout and the wall time.
fn run_chromium(mode: &str, url: &str) -> (String, Duration) {
    let profile = tempfile::tempdir().expect("profile dir");
    let t0 = Instant::now();
    let out = Command::new(chromium())
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(mode)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (scripts/lib.sh installs Debian's chromium)",
                chromium()
            )
        });
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        t0.elapsed(),
    )
}

/// `data-*` attribute of `<body>` in a dumped DOM.
fn body_attr(dom: &str, name: &str) -> Option<String> {
    let body = &dom[dom.find("<body")?..];
    let tag = &body[..body.find('>')?];
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(
        tag[start..][..tag[start..].find('"')?]
            .replace("&quot;", "\"")
            .replace("&amp;", "&"),
    )
}

struct Outcome {
    verification: String,
    reason: String,
    root: String,
    wall: Duration,
}

fn open(url: &str, shot: &str) -> Outcome {
    let (dom, wall) = run_chromium("--dump-dom", url);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    run_chromium(&format!("--screenshot={}", dir.join(shot).display()), url);
    Outcome {
        verification: body_attr(&dom, "data-verification").unwrap_or_default(),
        reason: body_attr(&dom, "data-reason").unwrap_or_default(),
        root: body_attr(&dom, "data-root").unwrap_or_default(),
        wall,
    }
}

/// Cold verification time in real time (Chromium's virtual time, used
/// above, stops the page's clock): `scripts/checks/verify-page-bench`.
fn bench(url: &str) {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/checks/verify-page-bench");
    let out = Command::new(script)
        .args([url, "--chromium", &chromium(), "--runs"])
        .arg(std::env::var("STRONGROOM_BENCH_RUNS").unwrap_or_else(|_| "3".into()))
        .output()
        .expect("verify-page-bench");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("[bench] {}", text.trim().replace('\n', "\n[bench] "));
}

/// The page's files as the host serves them, plus test inputs, under a
/// static server of another origin (`python3 -m http.server`).
struct Elsewhere {
    dir: tempfile::TempDir,
    child: Child,
    base: String,
}

impl Drop for Elsewhere {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve_elsewhere(t: &TwoResults) -> Elsewhere {
    let dir = tempfile::tempdir().expect("dir");
    let c = t.stack.client();
    for name in [
        "index.html",
        "verify.css",
        "verify.js",
        "strongroom_verifier.js",
        "strongroom_verifier_bg.wasm",
        "dev-root.pem",
        "pcrs.json",
    ] {
        let r = c.get(&format!("/verify/{name}")).await.expect("answered");
        assert_eq!(r.status, 200, "/verify/{name}");
        std::fs::write(dir.path().join(name), &r.body).expect("write");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
            "--directory",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 http.server");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Elsewhere { dir, child, base }
}

fn write_json(dir: &Path, name: &str, v: &Value) {
    std::fs::write(dir.join(name), v.to_string()).expect("write");
}

/// Flips one byte in the middle of the signed COSE bytes and renames the
/// bundle after them (so the deeper checks, not the id, refuse it).
fn flip_signed_byte(bundle: &Value) -> Value {
    let mut b = bundle.clone();
    let mut cose = STANDARD.decode(b["cose"].as_str().unwrap()).unwrap();
    let i = cose.len() / 2;
    cose[i] ^= 0x01;
    b["id"] = hex::encode(Sha256::digest(&cose)).into();
    b["cose"] = STANDARD.encode(&cose).into();
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_verifies_in_chromium_and_fails_closed() {
    let t = TwoResults::start().await;
    t.publish(1).await;
    let id = t.id(1);
    let host = format!("http://{}", t.stack.host.addr);

    // 1. The real host: /verify/#/r/{id}, pcrs.json and the dev root it was configured with.
    let ok = open(&format!("{host}/verify/#/r/{id}"), "verified.png");
    assert_eq!(ok.verification, "verified", "reason: {}", ok.reason);
    assert_eq!(ok.root, "dev", "the simulator's root is shown as such");
    // The host serves the tlog-policy it trusts (VERIFY_TLOG_POLICY): the
    // bundle's tlog-proof is checked under it, the log key coming from the
    // attestation.
    let (dom, _) = run_chromium("--dump-dom", &format!("{host}/verify/#/r/{id}"));
    assert!(
        dom.contains(r#"data-step="witnesses" data-status="passed""#),
        "the witnessed-log step passed"
    );
    eprintln!("[browser] whole Chromium run, cold: {:?}", ok.wall);
    bench(&format!("{host}/verify/#/r/{id}"));

    // 2. Hosted elsewhere, with inputs that must fail.
    let site = serve_elsewhere(&t).await;
    let bundle: Value = serde_json::from_slice(
        &t.stack
            .client()
            .get(&format!("/r/{id}"))
            .await
            .expect("answered")
            .body,
    )
    .expect("json");
    let d = site.dir.path();
    write_json(d, "good.json", &bundle);
    write_json(d, "flipped.json", &flip_signed_byte(&bundle));
    let mut figure = bundle.clone();
    let totals = figure["payload"]["totals"].as_object_mut().unwrap();
    let quote = totals.keys().next().unwrap().clone();
    totals[&quote]["trade_count"] =
        Value::from(totals[&quote]["trade_count"].as_u64().unwrap() + 1);
    write_json(d, "figure.json", &figure);
    let mut proof = bundle.clone();
    let mut h = STANDARD
        .decode(proof["log"]["inclusion_proof"][0].as_str().unwrap())
        .unwrap();
    h[0] ^= 0x80;
    proof["log"]["inclusion_proof"][0] = STANDARD.encode(h).into();
    write_json(d, "proof.json", &proof);
    write_json(
        d,
        "other-pcrs.json",
        &serde_json::json!({"PCR0": "11".repeat(48)}),
    );
    // Witnesses the user trusts that never cosigned this log.
    let (_, _, stranger) = strongroom_testkit::witness::keygen(d, 9);
    std::fs::write(
        d.join("other-tlog-policy"),
        format!("witness X {stranger}\nquorum X\n"),
    )
    .unwrap();
    let ten_years = 1000 * 86_400 * 3650
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();

    let page = format!("{}/index.html", site.base);
    let good = open(
        &format!("{page}#bundle=good.json"),
        "elsewhere-verified.png",
    );
    assert_eq!(good.verification, "verified", "reason: {}", good.reason);
    let cases = [
        (
            "bundle=flipped.json".to_owned(),
            "failed-flipped-byte.png",
            "result_nonce_mismatch",
        ),
        (
            "bundle=figure.json".to_owned(),
            "failed-changed-figure.png",
            "aggregates_mismatch",
        ),
        (
            "bundle=good.json&pcrs=other-pcrs.json".to_owned(),
            "failed-wrong-pcrs.png",
            "pcrs_not_allowed",
        ),
        (
            "bundle=proof.json".to_owned(),
            "failed-inclusion-proof.png",
            "inclusion_proof",
        ),
        (
            format!("bundle=good.json&at={ten_years}"),
            "failed-expired-chain.png",
            "certificate_expired",
        ),
        (
            "bundle=good.json&tlog=other-tlog-policy".to_owned(),
            "failed-witnesses.png",
            "tlog_proof_refused",
        ),
        (
            "bundle=missing.json".to_owned(),
            "failed-missing-bundle.png",
            "answered 404",
        ),
    ];
    // The chart of a daily series (payload v2 `returns.daily`; no signed v2
    // payload exists yet, so the page's chart() is drawn by a harness).
    let daily: Vec<Value> = (0..60)
        .map(|d| {
            let equity = 10_000.0 * (1.0 + 0.002 * f64::from(d)) * (1.0 + 0.05 * (f64::from(d) / 6.0).sin());
            serde_json::json!({"date": format!("2026-10-{:02}", d % 30 + 1), "equity": format!("{equity:.2}")})
        })
        .collect();
    std::fs::write(
        d.join("chart.html"),
        format!(
            "<!doctype html><html><head><link rel=\"stylesheet\" href=\"verify.css\"></head>\
             <body><h2>Equity and drawdown</h2><div id=\"c\"></div><script type=\"module\">\
             import {{ chart }} from \"./verify.js\";\
             document.getElementById(\"c\").append(chart({}));\
             document.body.dataset.chart = document.querySelectorAll(\"#c polyline, #c polygon\").length;\
             </script></body></html>",
            Value::from(daily)
        ),
    )
    .unwrap();
    let (dom, _) = run_chromium("--dump-dom", &format!("{}/chart.html", site.base));
    assert_eq!(
        body_attr(&dom, "data-chart").as_deref(),
        Some("2"),
        "equity line and drawdown area"
    );
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
    run_chromium(
        &format!("--screenshot={}", shots.join("chart.png").display()),
        &format!("{}/chart.html", site.base),
    );

    // The page as one file, opened from disk: its inline WebAssembly loads.
    let single = t
        .stack
        .client()
        .get("/verify/strongroom-verify.html")
        .await
        .expect("answered");
    let file = d.join("strongroom-verify.html");
    std::fs::write(&file, &single.body).unwrap();
    let (dom, _) = run_chromium("--dump-dom", &format!("file://{}", file.display()));
    assert!(
        dom.contains(r#"<span id="version">0.1.0</span>"#),
        "inline verifier did not load"
    );
    assert_eq!(
        body_attr(&dom, "data-verification").as_deref(),
        Some("pending")
    );

    for (hash, shot, code) in cases {
        let o = open(&format!("{page}#{hash}"), shot);
        assert_eq!(o.verification, "failed", "{hash}: fails closed");
        assert!(
            o.reason.contains(code),
            "{hash}: reason {:?} should name {code}",
            o.reason
        );
    }
}
