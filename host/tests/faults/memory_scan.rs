//! Scenario 6: The no-plaintext proof, extended, with its control: the host's memory,
//! logs, answers and pg_dump never hold the planted secret; the same scanner
//! finds it when a careless client hands it over in clear.

use std::time::Duration;

use serde_json::json;

use crate::common;
use crate::scan::{memscan, save};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_on_the_host_side_and_the_scanner_can_fail() {
    bounded(async {
        let secret = planted("secret");
        let api_key = planted("key");
        // The mock exchange knows the planted credential (a copy of the demo
        // fixture), so the whole flow runs with it.
        let fixtures = tempfile::tempdir().unwrap();
        let fixture = fixtures.path().join("planted.json");
        let demo =
            std::fs::read_to_string(common::workspace_root().join("scripts/fixtures/demo.json"))
                .unwrap();
        assert!(demo.contains(DEMO_SECRET) && demo.contains(DEMO_KEY));
        std::fs::write(
            &fixture,
            demo.replace(DEMO_SECRET, &secret)
                .replace(DEMO_KEY, &api_key),
        )
        .unwrap();
        // The control submission seals a secret the exchange does not know:
        // the key check at submit is off (SUBMIT_CHECK_KEY=0), the scan is
        // about what the host process holds.
        let s = Stack::start(StackOpts {
            fixture: Some(fixture),
            host_env: vec![("SUBMIT_CHECK_KEY".into(), "0".into())],
            ..StackOpts::default()
        })
        .await;
        let c = s.client();
        let out = tempfile::tempdir().unwrap();
        let mut answers = Vec::new();
        let mut keep = |name: &str, r: &common::Reply| {
            let mut bytes = format!("HTTP {}\r\n", r.status).into_bytes();
            for (k, v) in &r.headers {
                bytes.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
            }
            bytes.extend_from_slice(b"\r\n");
            bytes.extend_from_slice(&r.body);
            answers.push(save(
                out.path(),
                &format!("{}-{name}.http", answers.len()),
                &bytes,
            ));
        };

        // The full flow: quote, submit, aggregates twice, revoke, after revoke.
        let q = c.quote().await.unwrap();
        assert_eq!(q.status, 200);
        keep("quote", &q);
        let quote = q.json();
        let r = c
            .submit(&submission(&quote, &api_key, &secret, "main"))
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", body_text(&r));
        keep("submit", &r);
        let session = r.json()["session_id"].as_str().unwrap().to_owned();
        let r = c.aggregates(&session).await.unwrap();
        assert_demo_figures(&r, "planted credential");
        keep("aggregates", &r);
        let r = c
            .post(
                "/enclave/request_aggregates",
                &json!({"session_id": session, "symbols": ["ETHUSDT"]}).to_string(),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", body_text(&r));
        keep("aggregates-eth", &r);
        for path in ["/transparency/head", "/transparency/inclusion?leaf_index=0"] {
            let r = c.get_auth(path).await.unwrap();
            keep("transparency", &r);
        }
        let r = c.get("/metrics").await.unwrap();
        keep("metrics", &r);
        let dump_before = save(
            out.path(),
            "pg_dump-before-revoke.sql",
            common::real::pg_dump(s.db.url()).as_bytes(),
        );
        let mem_before = memscan(&[s.host_pid()], &[], &[&secret, &api_key]);
        let r = c.revoke(&session).await.unwrap();
        assert_eq!(r.status, 200, "{}", body_text(&r));
        keep("revoke", &r);
        let r = c.aggregates(&session).await.unwrap();
        assert_eq!(r.status, 410, "{}", body_text(&r));
        keep("after-revoke", &r);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let dump_after = save(
            out.path(),
            "pg_dump-after-revoke.sql",
            common::real::pg_dump(s.db.url()).as_bytes(),
        );

        // Every host-side source: both dumps, every log (host, enclave, the
        // PostgreSQL server's), every answer, and the host's memory.
        let mut files = vec![dump_before.clone(), dump_after];
        files.extend(s.log_files());
        let pg_log = common::workspace_root().join("target/strongroom-dev/pg/postgres.log");
        if std::env::var("DATABASE_URL").is_err() && pg_log.exists() {
            files.push(pg_log);
        }
        files.extend(answers.iter().cloned());
        let scan = memscan(&[s.host_pid()], &files, &[&secret, &api_key]);
        assert!(
            std::fs::read_to_string(&dump_before)
                .unwrap()
                .contains(&session),
            "the dump holds the session (it is a real dump)"
        );
        let host_bytes = scan.process_bytes[&s.host_pid().to_string()];
        assert!(
            host_bytes > 4 << 20,
            "too little host memory read: {host_bytes}"
        );
        assert!(
            mem_before.hits.is_empty(),
            "secret in host memory before revoke: {:?}",
            mem_before.hits
        );
        assert!(
            scan.hits.is_empty(),
            "secret found on the host side: {:?}",
            scan.hits
        );
        eprintln!(
            "no-plaintext: {} bytes scanned ({} of host memory, {} files), 0 hits",
            scan.bytes_scanned,
            host_bytes,
            files.len()
        );

        // CONTROL: hand the very same secret to the host in clear, as a
        // careless client would: in a header, in a JSON field, base64 in a
        // body, and as a session label it stores. The same scanner finds it
        // in the host's memory, the answers' files and pg_dump.
        let b64 = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            secret.as_bytes(),
        );
        for _ in 0..5 {
            let r = c
                .post_with(
                    "/enclave/revoke",
                    &json!({"session_id": secret}).to_string(),
                    &[("x-control", &secret)],
                )
                .await
                .unwrap();
            assert_eq!(r.status, 400);
            let body = json!({"key_id": "k", "ephemeral_pub": b64, "ciphertext": b64, "tag": b64,
                "metadata": {"exchange": "binance", "label": "x", "ttl": 60}});
            let _ = c.submit(&body.to_string()).await.unwrap();
        }
        let r = c
            .submit(&submission(
                &quote,
                &api_key,
                "control-not-the-secret",
                &secret,
            ))
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", body_text(&r));
        let control_answer = save(out.path(), "control.http", secret.as_bytes());
        let control_dump = save(
            out.path(),
            "pg_dump-control.sql",
            common::real::pg_dump(s.db.url()).as_bytes(),
        );
        let control = memscan(
            &[s.host_pid()],
            &[control_answer.clone(), control_dump.clone()],
            &[&secret],
        );
        let in_memory = control.hits_in(&format!("pid {}", s.host_pid()));
        assert!(
            !in_memory.is_empty(),
            "CONTROL: the scanner did not find the planted secret in host memory: {}",
            control.raw
        );
        assert!(
            !control.hits_in(control_dump.to_str().unwrap()).is_empty(),
            "CONTROL: pg_dump"
        );
        assert!(
            !control.hits_in(control_answer.to_str().unwrap()).is_empty(),
            "CONTROL: file"
        );
        eprintln!(
            "control: found in host memory as {:?}, {} hits",
            control.forms(),
            in_memory.len()
        );
    })
    .await;
}
