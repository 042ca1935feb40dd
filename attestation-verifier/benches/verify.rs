//! `verify` on a real AWS Nitro document (02, production, 4.6 KiB):
//! COSE parse, payload schema, 4-certificate P-384 chain, ES384 signature;
//! the same with a warm `VerifierCache`; and `verify_result` on a complete
//! signed answer (dev chain, ES256 aggregate, 7-leaf log).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};
use strongroom_verifier::{
    Policy, TrustRoot, VerifierCache, inspect_unverified, verify, verify_cached, verify_result,
};

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
    let cache = VerifierCache::default();
    assert!(verify_cached(&doc, &root, now, &policy, &cache).is_ok());
    let mut group = c.benchmark_group("attestation");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_real_nitro_document", |b| {
        b.iter(|| verify(black_box(&doc), &root, now, &policy).unwrap())
    });
    group.bench_function("verify_cached_warm_real_nitro_document", |b| {
        b.iter(|| verify_cached(black_box(&doc), &root, now, &policy, &cache).unwrap())
    });
    group.bench_function("inspect_unverified", |b| {
        b.iter(|| inspect_unverified(black_box(&doc)).unwrap())
    });
    group.finish();
}

fn bench_result(c: &mut Criterion) {
    let f = common::result_fixture::ResultFixture::default();
    let answer = f.answer();
    let (root, policy) = (f.root(), f.policy());
    assert!(verify_result(&answer, &root, &policy).is_ok());
    let mut group = c.benchmark_group("result");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_result_dev_chain", |b| {
        b.iter(|| verify_result(black_box(&answer), &root, &policy).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_verify, bench_result);
criterion_main!(benches);
