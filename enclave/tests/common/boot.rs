//! Boot like the host does: the enclave starts in phase `booting` with no
//! key ring; `NewKeyRing` (no KMS) makes one and answers it sealed.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use strongroom_protocol::client::RpcClient;
use strongroom_protocol::messages::{
    NewKeyRingRequest, Phase, RequestBody, ResponseBody, SealedKeyRing,
};

/// The phase the enclave reports, if it answers health at all.
pub async fn phase(client: &RpcClient) -> Option<Phase> {
    match client.call(RequestBody::Health).await {
        Ok(ResponseBody::Health(h)) => Some(h.phase),
        _ => None,
    }
}

/// `NewKeyRing{kms: None}` on a booting enclave; the sealed ring (version 1).
pub async fn new_key_ring(client: &RpcClient) -> SealedKeyRing {
    let answer = client
        .call(RequestBody::NewKeyRing(NewKeyRingRequest { kms: None }))
        .await
        .unwrap();
    let ResponseBody::KeyRingSealed(sealed) = answer else {
        panic!("NewKeyRing answered {answer:?}");
    };
    assert_eq!(sealed.ring_version, 1);
    assert_eq!(phase(client).await, Some(Phase::Ready));
    sealed
}
