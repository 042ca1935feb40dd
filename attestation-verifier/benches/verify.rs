//! `verify` on a real AWS Nitro document (02, production, 4.6 KiB):
//! COSE parse, payload schema, 4-certificate P-384 chain, ES384 signature.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};
use strongroom_verifier::{Policy, TrustRoot, inspect_unverified, verify};

fn bench_verify(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/nitro/02_evervault_2022-10-13_prod_i-020b6af9246d90e92.cbor"
    );
    let doc = std::fs::read(path).unwrap();
    let now = UNIX_EPOCH + Duration::from_millis(inspect_unverified(&doc).unwrap().timestamp_ms);
    let root = TrustRoot::aws_nitro_g1();
    let policy = Policy::default();
    assert!(verify(&doc, &root, now, &policy).is_ok());
    let mut group = c.benchmark_group("attestation");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_real_nitro_document", |b| {
        b.iter(|| verify(black_box(&doc), &root, now, &policy).unwrap())
    });
    group.bench_function("inspect_unverified", |b| {
        b.iter(|| inspect_unverified(black_box(&doc)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
