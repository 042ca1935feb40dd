//! The real client and server over a real unix socket: handshake, pipelining,
//! timeouts, and a server that survives hostile peers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use strongroom_protocol::client::{CallError, ClientConfig, RpcClient};
use strongroom_protocol::codec::{decode, encode};
use strongroom_protocol::frame::{read_frame, write_frame};
use strongroom_protocol::messages::*;
use strongroom_protocol::server::{Handler, ServerConfig, serve};
use strongroom_protocol::transport::{Address, Listener};
use strongroom_protocol::{ErrorCode, RpcError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers health at once, and Forget after sleeping the number of ms in the id.
struct TestHandler;

impl Handler for TestHandler {
    async fn handle(&self, request: RequestBody) -> ResponseBody {
        match request {
            RequestBody::Health => ResponseBody::Health(HealthInfo {
                phase: Phase::Ready,
                version: "test".into(),
                simulator: true,
            }),
            RequestBody::Forget(f) => {
                let ms: u64 = f.session_id.parse().unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                ResponseBody::Forgotten(Forgotten {
                    session_id: f.session_id,
                    was_cached: false,
                })
            }
            _ => ResponseBody::Error(RpcError::new(ErrorCode::NotImplemented)),
        }
    }
}

struct Server {
    addr: Address,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn start(config: ServerConfig) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Unix(dir.path().join("rpc.sock"));
    let listener = Listener::bind(&addr).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, Arc::new(TestHandler), config, async move {
        let _ = stopped.await;
    }));
    Server {
        addr,
        _dir: dir,
        stop: Some(stop),
    }
}

fn client(addr: &Address) -> RpcClient {
    RpcClient::new(addr.clone(), ClientConfig::default())
}

async fn raw_connect(addr: &Address) -> tokio::net::UnixStream {
    let Address::Unix(path) = addr else {
        unreachable!()
    };
    tokio::net::UnixStream::connect(path).await.unwrap()
}

async fn raw_handshake(addr: &Address) -> tokio::net::UnixStream {
    let mut s = raw_connect(addr).await;
    let hello = ClientHello {
        versions: vec![PROTOCOL_VERSION],
        agent: "raw".into(),
    };
    write_frame(&mut s, &encode(&hello).unwrap(), 1 << 20)
        .await
        .unwrap();
    let reply: ServerHello = decode(&read_frame(&mut s, 1 << 20).await.unwrap()).unwrap();
    assert!(matches!(
        reply,
        ServerHello::Accept {
            version: PROTOCOL_VERSION,
            ..
        }
    ));
    s
}

/// Reads until the server closes; returns what arrived.
async fn read_to_close(s: &mut tokio::net::UnixStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .expect("server did not close the connection");
    // A reset (the server closed with our bytes unread) is a close too.
    if let Err(e) = read {
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    }
    buf
}

#[tokio::test]
async fn health_round_trip() {
    let server = start(ServerConfig::default());
    let got = client(&server.addr)
        .call(RequestBody::Health)
        .await
        .unwrap();
    assert!(matches!(
        got,
        ResponseBody::Health(HealthInfo {
            phase: Phase::Ready,
            ..
        })
    ));
}

#[tokio::test]
async fn remote_errors_are_typed() {
    let server = start(ServerConfig::default());
    let err = client(&server.addr)
        .call(RequestBody::KeyRingStatus)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CallError::Remote(RpcError {
            code: ErrorCode::NotImplemented,
            ..
        })
    ));
}

#[tokio::test]
async fn responses_overtake_and_ids_match_them() {
    let server = start(ServerConfig::default());
    let c = Arc::new(client(&server.addr));
    let slow = {
        let c = c.clone();
        tokio::spawn(async move {
            c.call(RequestBody::Forget(ForgetRequest {
                session_id: "300".into(),
            }))
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    let fast = c
        .call(RequestBody::Forget(ForgetRequest {
            session_id: "1".into(),
        }))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "fast call waited for the slow one"
    );
    assert!(matches!(fast, ResponseBody::Forgotten(f) if f.session_id == "1"));
    let slow = slow.await.unwrap().unwrap();
    assert!(matches!(slow, ResponseBody::Forgotten(f) if f.session_id == "300"));
}

#[tokio::test]
async fn call_timeout_is_enforced() {
    let server = start(ServerConfig::default());
    let config = ClientConfig {
        call_timeout: Duration::from_millis(100),
        ..ClientConfig::default()
    };
    let c = RpcClient::new(server.addr.clone(), config);
    let err = c
        .call(RequestBody::Forget(ForgetRequest {
            session_id: "2000".into(),
        }))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Timeout));
    // The connection is still usable afterwards.
    assert!(c.call(RequestBody::Health).await.is_ok());
}

#[tokio::test]
async fn huge_length_prefix_closes_only_that_connection() {
    let server = start(ServerConfig::default());
    let good = client(&server.addr);
    good.call(RequestBody::Health).await.unwrap();
    let mut evil = raw_handshake(&server.addr).await;
    evil.write_all(&[0xFF, 0xFF, 0xFF, 0xFF]).await.unwrap();
    let answer = read_to_close(&mut evil).await;
    let (body, _) = strongroom_protocol::frame::split_frame(&answer, 1 << 20)
        .unwrap()
        .unwrap();
    let resp: Response = decode(body).unwrap();
    assert_eq!(resp.id, 0);
    assert!(matches!(
        resp.body,
        ResponseBody::Error(RpcError {
            code: ErrorCode::FrameTooLarge,
            ..
        })
    ));
    // The well-formed client, on its own connection opened before, is still served.
    good.call(RequestBody::Health).await.unwrap();
    // And a new one too.
    client(&server.addr)
        .call(RequestBody::Health)
        .await
        .unwrap();
}

#[tokio::test]
async fn garbage_closes_only_that_connection() {
    let server = start(ServerConfig::default());
    let good = client(&server.addr);
    good.call(RequestBody::Health).await.unwrap();
    // Garbage before the handshake.
    let mut evil = raw_connect(&server.addr).await;
    evil.write_all(b"\x00\x00\x00\x08GET / HT").await.unwrap();
    let answer = read_to_close(&mut evil).await;
    let (body, _) = strongroom_protocol::frame::split_frame(&answer, 1 << 20)
        .unwrap()
        .unwrap();
    assert!(matches!(
        decode::<ServerHello>(body).unwrap(),
        ServerHello::Reject(_)
    ));
    // Garbage after the handshake: a valid frame holding invalid CBOR.
    let mut evil = raw_handshake(&server.addr).await;
    write_frame(&mut evil, &[0xFF, 0x00, 0x13, 0x37], 1 << 20)
        .await
        .unwrap();
    let answer = read_to_close(&mut evil).await;
    let (body, _) = strongroom_protocol::frame::split_frame(&answer, 1 << 20)
        .unwrap()
        .unwrap();
    let resp: Response = decode(body).unwrap();
    assert!(matches!(
        resp.body,
        ResponseBody::Error(RpcError {
            code: ErrorCode::MalformedRequest,
            ..
        })
    ));
    // Random bytes with no framing at all.
    let mut evil = raw_connect(&server.addr).await;
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let _ = evil.write_all(&noise).await;
    let _ = read_to_close(&mut evil).await;
    good.call(RequestBody::Health).await.unwrap();
}

#[tokio::test]
async fn version_mismatch_is_refused_with_a_code() {
    // 99: a future version; 1: the version before the key-ring operations.
    for versions in [vec![99], vec![1]] {
        version_refused(versions).await;
    }
}

async fn version_refused(versions: Vec<u32>) {
    let server = start(ServerConfig::default());
    let mut s = raw_connect(&server.addr).await;
    let hello = ClientHello {
        versions,
        agent: "future".into(),
    };
    write_frame(&mut s, &encode(&hello).unwrap(), 1 << 20)
        .await
        .unwrap();
    let reply: ServerHello = decode(&read_frame(&mut s, 1 << 20).await.unwrap()).unwrap();
    assert_eq!(
        reply,
        ServerHello::Reject(RpcError::new(ErrorCode::UnsupportedVersion))
    );
}

#[tokio::test]
async fn silent_peer_is_dropped_after_the_handshake_timeout() {
    let config = ServerConfig {
        handshake_timeout: Duration::from_millis(100),
        ..ServerConfig::default()
    };
    let server = start(config);
    let mut s = raw_connect(&server.addr).await;
    let buf = read_to_close(&mut s).await;
    assert!(buf.is_empty());
}

#[tokio::test]
async fn client_recovers_when_the_server_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Unix(dir.path().join("late.sock"));
    let config = ClientConfig {
        min_backoff: Duration::from_millis(10),
        ..ClientConfig::default()
    };
    let c = RpcClient::new(addr.clone(), config);
    assert!(matches!(
        c.call(RequestBody::Health).await,
        Err(CallError::Unavailable)
    ));
    let listener = Listener::bind(&addr).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(
        listener,
        Arc::new(TestHandler),
        ServerConfig::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut ok = false;
    for _ in 0..50 {
        if c.call(RequestBody::Health).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "client never reconnected");
    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test]
async fn oversized_request_is_refused_client_side() {
    let server = start(ServerConfig::default());
    let config = ClientConfig {
        max_frame_len: 64,
        ..ClientConfig::default()
    };
    let c = RpcClient::new(server.addr.clone(), config);
    let big = RequestBody::Forget(ForgetRequest {
        session_id: "9".repeat(100),
    });
    assert!(matches!(c.call(big).await, Err(CallError::Protocol(_))));
}
