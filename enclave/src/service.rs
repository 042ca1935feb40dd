//! Glue between the RPC server and the I/O-free [`Enclave`]: every request
//! but one is processed on the blocking pool (HPKE, ECDSA and the NSM ioctl
//! are CPU-bound or blocking), never on the async reactor. The exception is
//! `ComputeAggregates`, whose exchange fetch is async I/O; see
//! [`crate::results`] for how it is split.

use std::future::Future;
use std::sync::Arc;

use strongroom_protocol::messages::{Phase, RequestBody, ResponseBody};
use strongroom_protocol::server::Handler;
use strongroom_protocol::{ErrorCode, RpcError};

use crate::exchange::Exchange;
use crate::exchange::binance::Binance;
use crate::results::compute_aggregates;
use crate::state::{Enclave, EnclaveError};

/// The [`Handler`] the enclave binary serves. `exchange` is `None` when no
/// egress proxy is configured: aggregates are then refused.
#[derive(Debug)]
pub struct EnclaveService<E = Binance> {
    enclave: Arc<Enclave>,
    exchange: Option<Arc<E>>,
}

impl<E> Clone for EnclaveService<E> {
    fn clone(&self) -> Self {
        Self {
            enclave: self.enclave.clone(),
            exchange: self.exchange.clone(),
        }
    }
}

impl EnclaveService<Binance> {
    /// Serves `enclave` without exchange access.
    pub fn new(enclave: Arc<Enclave>) -> Self {
        Self {
            enclave,
            exchange: None,
        }
    }
}

impl<E: Exchange + 'static> EnclaveService<E> {
    /// Serves `enclave`, fetching histories through `exchange`.
    pub fn with_exchange(enclave: Arc<Enclave>, exchange: Option<Arc<E>>) -> Self {
        Self { enclave, exchange }
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
        async move {
            match request {
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
