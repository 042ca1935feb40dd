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

/// Answers health at once, and Forget after sleeping the number of ms in the
/// session id (`"<ms>"` or `"<ms>-<tag>"`); a Forget whose work is dropped
/// before it ends records its session id in [`ABANDONED`].
struct TestHandler;

static ABANDONED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Records its session id in [`ABANDONED`] when dropped armed.
struct Abandoned(Option<String>);

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(id) = self.0.take() {
            ABANDONED.lock().unwrap().push(id);
        }
    }
}

fn abandoned(id: &str) -> bool {
    ABANDONED.lock().unwrap().iter().any(|a| a == id)
}

impl Handler for TestHandler {
    async fn handle(&self, request: RequestBody) -> ResponseBody {
        match request {
            RequestBody::Health => ResponseBody::Health(HealthInfo {
                phase: Phase::Ready,
                version: "test".into(),
                simulator: true,
            }),
            RequestBody::Forget(f) => {
                let ms: u64 = f.session_id.split('-').next().unwrap().parse().unwrap_or(0);
                let mut guard = Abandoned(Some(f.session_id.clone()));
                tokio::time::sleep(Duration::from_millis(ms)).await;
                guard.0 = None;
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

/// Within `limit`, whether the server dropped the work of session `id`.
async fn dropped_within(id: &str, limit: Duration) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if abandoned(id) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn a_timed_out_or_abandoned_call_is_cancelled_on_the_server() {
    let server = start(ServerConfig::default());
    let config = ClientConfig {
        call_timeout: Duration::from_millis(100),
        ..ClientConfig::default()
    };
    let c = RpcClient::new(server.addr.clone(), config);
    // Timed out: the client sends `cancel`, the server drops the work long
    // before it would have ended (10 s).
    let forget = |id: &str| {
        RequestBody::Forget(ForgetRequest {
            session_id: id.into(),
        })
    };
    let err = c.call(forget("10000-timeout")).await.unwrap_err();
    assert!(matches!(err, CallError::Timeout));
    assert!(dropped_within("10000-timeout", Duration::from_secs(2)).await);
    // The caller drops the call (a host request cut short): the same.
    let c = client(&server.addr);
    let gave_up = tokio::time::timeout(Duration::from_millis(100), c.call(forget("10000-dropped")));
    assert!(gave_up.await.is_err());
    assert!(dropped_within("10000-dropped", Duration::from_secs(2)).await);
    // A call that completes is never cancelled, and the connection goes on.
    assert!(c.call(forget("50-kept")).await.is_ok());
    assert!(!dropped_within("50-kept", Duration::from_millis(300)).await);
    assert!(c.call(RequestBody::Health).await.is_ok());
}

#[tokio::test]
async fn a_cancel_names_whether_the_request_was_running() {
    let server = start(ServerConfig::default());
    let mut s = raw_handshake(&server.addr).await;
    let send = |id: u64, body: RequestBody| encode(&Request { id, body }).unwrap();
    let slow = RequestBody::Forget(ForgetRequest {
        session_id: "10000-raw".into(),
    });
    write_frame(&mut s, &send(7, slow), 1 << 20).await.unwrap();
    // A health answer after it: by then the slow request's task has run
    // (spawned first), so its work exists to be dropped.
    write_frame(&mut s, &send(1, RequestBody::Health), 1 << 20)
        .await
        .unwrap();
    let answer: Response = decode(&read_frame(&mut s, 1 << 20).await.unwrap()).unwrap();
    assert_eq!(answer.id, 1);
    let cancel = |id| RequestBody::Cancel(CancelRequest { id });
    write_frame(&mut s, &send(8, cancel(7)), 1 << 20)
        .await
        .unwrap();
    let answer: Response = decode(&read_frame(&mut s, 1 << 20).await.unwrap()).unwrap();
    assert_eq!(answer.id, 8);
    assert_eq!(
        answer.body,
        ResponseBody::Cancelled(Cancelled {
            id: 7,
            running: true
        })
    );
    assert!(dropped_within("10000-raw", Duration::from_secs(2)).await);
    // Unknown (or already ended) ids: nothing to drop.
    write_frame(&mut s, &send(9, cancel(7)), 1 << 20)
        .await
        .unwrap();
    let answer: Response = decode(&read_frame(&mut s, 1 << 20).await.unwrap()).unwrap();
    assert_eq!(
        answer.body,
        ResponseBody::Cancelled(Cancelled {
            id: 7,
            running: false
        })
    );
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
