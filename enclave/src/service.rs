//! Glue between the RPC server and the core: the [`Handler`] the binary
//! serves calls the core's one [`handle`] (phase gating and dispatch) with
//! this crate's ports — the exchange and KMS clients over egress, and
//! tokio's blocking pool for CPU-bound work (HPKE open, ECDSA, RSA, the NSM
//! ioctl), so no request body runs on the async workers.

use std::future::Future;
use std::sync::Arc;

use strongroom_enclave_core::exchange::Exchange;
use strongroom_enclave_core::handle::{Ports, handle};
use strongroom_enclave_core::state::{Enclave, EnclaveError};
use strongroom_protocol::messages::{RequestBody, ResponseBody};
use strongroom_protocol::server::Handler;

use crate::exchange::Binance;
use crate::kms::KmsClient;

/// The [`Handler`] the enclave binary serves. `exchange` is `None` when no
/// egress proxy is configured: aggregates are then refused; `kms` likewise
/// (KMS boot paths then answer `kms_failed`).
#[derive(Debug)]
pub struct EnclaveService<E = Binance> {
    ports: Arc<TokioPorts<E>>,
}

impl<E> Clone for EnclaveService<E> {
    fn clone(&self) -> Self {
        Self {
            ports: self.ports.clone(),
        }
    }
}

/// The binary's ports: egress clients and tokio's blocking pool.
#[derive(Debug)]
struct TokioPorts<E> {
    enclave: Arc<Enclave>,
    exchange: Option<Arc<E>>,
    kms: Option<Arc<KmsClient>>,
}

impl EnclaveService<Binance> {
    /// Serves `enclave` without exchange or KMS access.
    pub fn new(enclave: Arc<Enclave>) -> Self {
        Self::with_exchange(enclave, None)
    }
}

impl<E: Exchange + 'static> EnclaveService<E> {
    /// Serves `enclave`, fetching histories through `exchange`.
    pub fn with_exchange(enclave: Arc<Enclave>, exchange: Option<Arc<E>>) -> Self {
        Self {
            ports: Arc::new(TokioPorts {
                enclave,
                exchange,
                kms: None,
            }),
        }
    }

    /// Reaches KMS through `kms` for the KMS boot paths.
    pub fn with_kms(self, kms: Option<Arc<KmsClient>>) -> Self {
        let ports = TokioPorts {
            enclave: self.ports.enclave.clone(),
            exchange: self.ports.exchange.clone(),
            kms,
        };
        Self {
            ports: Arc::new(ports),
        }
    }

    /// The enclave behind the service.
    pub fn enclave(&self) -> &Arc<Enclave> {
        &self.ports.enclave
    }
}

impl<E: Exchange + 'static> Handler for EnclaveService<E> {
    fn handle(&self, request: RequestBody) -> impl Future<Output = ResponseBody> + Send {
        let ports = self.ports.clone();
        async move { handle(ports.as_ref(), request).await }
    }
}

impl<E: Exchange> Ports for TokioPorts<E> {
    type Exchange = E;
    type Kms = KmsClient;

    fn enclave(&self) -> &Enclave {
        &self.enclave
    }

    fn exchange(&self) -> Option<&E> {
        self.exchange.as_deref()
    }

    fn kms(&self) -> Option<&KmsClient> {
        self.kms.as_deref()
    }

    fn blocking<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Enclave) -> R + Send + 'static,
    ) -> impl Future<Output = Result<R, EnclaveError>> + Send {
        let enclave = self.enclave.clone();
        let task = tokio::task::spawn_blocking(move || work(&enclave));
        async move {
            task.await
                .map_err(|_| EnclaveError::Internal("blocking task failed".to_owned()))
        }
    }
}
