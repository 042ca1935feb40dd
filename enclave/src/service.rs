//! Glue between the RPC server and the I/O-free [`Enclave`]: requests are
//! processed on the blocking pool (HPKE, ECDSA and the NSM ioctl are
//! CPU-bound or blocking), never on the async reactor. The exceptions need
//! egress I/O: `ComputeAggregates` (the exchange fetch; see
//! [`crate::results`]) and `NewKeyRing` with KMS and `UnsealKeyRing` (the
//! KMS call; see [`crate::kms::boot`]), which run their CPU-bound steps on
//! the blocking pool themselves.

use std::future::Future;
use std::sync::Arc;

use strongroom_protocol::messages::{Phase, RequestBody, ResponseBody};
use strongroom_protocol::server::Handler;
use strongroom_protocol::{ErrorCode, RpcError};

use crate::exchange::Exchange;
use crate::exchange::binance::Binance;
use crate::kms::boot;
use crate::kms::client::KmsClient;
use crate::results::compute_aggregates;
use crate::state::{Enclave, EnclaveError};

/// The [`Handler`] the enclave binary serves. `exchange` is `None` when no
/// egress proxy is configured: aggregates are then refused; `kms` likewise
/// (KMS boot paths then answer `kms_failed`).
#[derive(Debug)]
pub struct EnclaveService<E = Binance> {
    enclave: Arc<Enclave>,
    exchange: Option<Arc<E>>,
    kms: Option<Arc<KmsClient>>,
}

impl<E> Clone for EnclaveService<E> {
    fn clone(&self) -> Self {
        Self {
            enclave: self.enclave.clone(),
            exchange: self.exchange.clone(),
            kms: self.kms.clone(),
        }
    }
}

impl EnclaveService<Binance> {
    /// Serves `enclave` without exchange or KMS access.
    pub fn new(enclave: Arc<Enclave>) -> Self {
        Self {
            enclave,
            exchange: None,
            kms: None,
        }
    }
}

impl<E: Exchange + 'static> EnclaveService<E> {
    /// Serves `enclave`, fetching histories through `exchange`.
    pub fn with_exchange(enclave: Arc<Enclave>, exchange: Option<Arc<E>>) -> Self {
        Self {
            enclave,
            exchange,
            kms: None,
        }
    }

    /// Reaches KMS through `kms` for the KMS boot paths.
    pub fn with_kms(mut self, kms: Option<Arc<KmsClient>>) -> Self {
        self.kms = kms;
        self
    }

    /// The enclave behind the service.
    pub fn enclave(&self) -> &Arc<Enclave> {
        &self.enclave
    }
}

impl<E: Exchange + 'static> Handler for EnclaveService<E> {
    fn handle(&self, request: RequestBody) -> impl Future<Output = ResponseBody> + Send {
        let enclave = self.enclave.clone();
        let exchange = self.exchange.clone();
        let kms = self.kms.clone();
        async move {
            match request {
                RequestBody::NewKeyRing(req) if req.kms.is_some() => {
                    let Some(access) = req.kms else {
                        return EnclaveError::KmsFailed.into_response();
                    };
                    match boot::new_key_ring(enclave, kms, access).await {
                        Ok(sealed) => ResponseBody::KeyRingSealed(sealed),
                        Err(err) => err.into_response(),
                    }
                }
                RequestBody::UnsealKeyRing(req) => {
                    match boot::unseal_key_ring(enclave, kms, req).await {
                        Ok(info) => ResponseBody::KeyRingStatus(info),
                        Err(err) => err.into_response(),
                    }
                }
                RequestBody::ComputeAggregates(req) => {
                    // Same rule as `state::allowed`: aggregates need the key ring.
                    if enclave.phase() != Phase::Ready {
                        return EnclaveError::NotReady.into_response();
                    }
                    match compute_aggregates(enclave, exchange, req).await {
                        Ok(result) => ResponseBody::Aggregates(result),
                        Err(err) => err.into_response(),
                    }
                }
                other => tokio::task::spawn_blocking(move || enclave.handle(other))
                    .await
                    .unwrap_or_else(|_| ResponseBody::Error(RpcError::new(ErrorCode::Internal))),
            }
        }
    }
}
