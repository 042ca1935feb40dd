//! The real enclave binary against hostile peers on its RPC socket: a
//! 0xFFFFFFFF length prefix or random bytes end only that connection, while a
//! well-formed client on another connection keeps being served.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "dev-simulator")]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use strongroom_protocol::client::{ClientConfig, RpcClient};
use strongroom_protocol::codec::{decode, encode};
use strongroom_protocol::frame::{read_frame, split_frame, write_frame};
use strongroom_protocol::messages::{
    ClientHello, Phase, RequestBody, Response, ResponseBody, ServerHello,
};
use strongroom_protocol::transport::Address;
use strongroom_protocol::{ErrorCode, RpcError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

const BIN: &str = env!("CARGO_BIN_EXE_strongroom-enclave");

// A child killed and reaped when dropped.
use strongroom_testkit::process::Guard;

async fn healthy(client: &RpcClient) -> bool {
    matches!(
        client.call(RequestBody::Health).await,
        // Booting is enough: nothing here needs a key ring.
        Ok(ResponseBody::Health(h)) if h.phase == Phase::Booting
    )
}

async fn handshake(path: &std::path::Path) -> UnixStream {
    let mut s = UnixStream::connect(path).await.unwrap();
    let hello = ClientHello {
        versions: vec![strongroom_protocol::messages::PROTOCOL_VERSION],
        agent: "hostile".into(),
    };
    write_frame(&mut s, &encode(&hello).unwrap(), 1 << 20)
        .await
        .unwrap();
    let reply: ServerHello = decode(&read_frame(&mut s, 1 << 20).await.unwrap()).unwrap();
    assert!(matches!(reply, ServerHello::Accept { .. }));
    s
}

/// Reads until the enclave closes the connection (a reset counts as closed).
async fn until_closed(s: &mut UnixStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("the enclave kept a hostile connection open");
    if let Err(e) = read {
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    }
    buf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_lose_only_their_own_connection() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("enclave.sock");
    let addr = format!("unix://{}", sock.display());
    let child = Command::new(BIN)
        .args(["--listen", &addr, "--dev-simulator"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _child = Guard(child);
    let good = RpcClient::new(addr.parse::<Address>().unwrap(), ClientConfig::default());
    let started = Instant::now();
    while !healthy(&good).await {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "enclave did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 1. A length prefix of 0xFFFFFFFF after the handshake: a typed error, then closed.
    let mut evil = handshake(&sock).await;
    evil.write_all(&[0xFF, 0xFF, 0xFF, 0xFF]).await.unwrap();
    let answer = until_closed(&mut evil).await;
    let (body, _) = split_frame(&answer, 1 << 20).unwrap().unwrap();
    let resp: Response = decode(body).unwrap();
    assert_eq!(
        resp.body,
        ResponseBody::Error(RpcError::new(ErrorCode::FrameTooLarge))
    );
    assert!(healthy(&good).await, "the good client lost service");

    // 2. Random bytes instead of a hello.
    let mut evil = UnixStream::connect(&sock).await.unwrap();
    let noise: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let _ = evil.write_all(&noise).await;
    until_closed(&mut evil).await;
    assert!(healthy(&good).await, "the good client lost service");

    // 3. A well-framed message that is not CBOR, after the handshake.
    let mut evil = handshake(&sock).await;
    write_frame(&mut evil, b"\xff\xfe garbage", 1 << 20)
        .await
        .unwrap();
    let answer = until_closed(&mut evil).await;
    let (body, _) = split_frame(&answer, 1 << 20).unwrap().unwrap();
    let resp: Response = decode(body).unwrap();
    assert_eq!(
        resp.body,
        ResponseBody::Error(RpcError::new(ErrorCode::MalformedRequest))
    );

    // The good client, on the connection it opened before all this, still works,
    // and so does a brand-new one.
    assert!(healthy(&good).await);
    let fresh = RpcClient::new(addr.parse::<Address>().unwrap(), ClientConfig::default());
    assert!(healthy(&fresh).await);
}
