//! The real NSM: `aws-nitro-enclaves-nsm-api`'s ioctl driver on `/dev/nsm`.

use std::path::Path;

use aws_nitro_enclaves_nsm_api::api::{Request, Response};
use aws_nitro_enclaves_nsm_api::driver;
use serde_bytes::ByteBuf;
use zeroize::Zeroizing;

use super::{MAX_RANDOM_LEN, NSM_DEVICE_PATH, Nsm, NsmError, check_fields};

/// An open `/dev/nsm`. The descriptor is closed on drop.
#[derive(Debug)]
pub struct DeviceNsm {
    fd: i32,
}

impl DeviceNsm {
    /// Opens the device; [`NsmError::Unavailable`] when it does not exist.
    pub fn open() -> Result<Self, NsmError> {
        if !device_present() {
            return Err(NsmError::Unavailable);
        }
        let fd = driver::nsm_init();
        if fd < 0 {
            return Err(NsmError::Unavailable);
        }
        Ok(Self { fd })
    }

    fn call(&self, request: Request) -> Response {
        driver::nsm_process_request(self.fd, request)
    }
}

/// Whether `/dev/nsm` exists on this machine.
pub fn device_present() -> bool {
    Path::new(NSM_DEVICE_PATH).exists()
}

impl Drop for DeviceNsm {
    fn drop(&mut self) {
        driver::nsm_exit(self.fd);
    }
}

fn unexpected(response: Response) -> NsmError {
    match response {
        Response::Error(code) => NsmError::Device(format!("{code:?}")),
        _ => NsmError::Device("unexpected response".to_owned()),
    }
}

impl Nsm for DeviceNsm {
    fn attest(
        &self,
        public_key: Option<&[u8]>,
        user_data: Option<&[u8]>,
        nonce: Option<&[u8]>,
    ) -> Result<Vec<u8>, NsmError> {
        check_fields([public_key, user_data, nonce])?;
        let request = Request::Attestation {
            public_key: public_key.map(ByteBuf::from),
            user_data: user_data.map(ByteBuf::from),
            nonce: nonce.map(ByteBuf::from),
        };
        match self.call(request) {
            Response::Attestation { document } => Ok(document),
            other => Err(unexpected(other)),
        }
    }

    fn random(&self, n: usize) -> Result<Zeroizing<Vec<u8>>, NsmError> {
        if n > MAX_RANDOM_LEN {
            return Err(NsmError::InputTooLarge);
        }
        let mut out = Zeroizing::new(Vec::with_capacity(n));
        while out.len() < n {
            match self.call(Request::GetRandom) {
                Response::GetRandom { random } if !random.is_empty() => {
                    let random = Zeroizing::new(random);
                    let take = (n - out.len()).min(random.len());
                    out.extend_from_slice(&random[..take]);
                }
                other => return Err(unexpected(other)),
            }
        }
        Ok(out)
    }

    fn describe_pcr(&self, index: u16) -> Result<Vec<u8>, NsmError> {
        match self.call(Request::DescribePCR { index }) {
            Response::DescribePCR { data, .. } => Ok(data),
            other => Err(unexpected(other)),
        }
    }

    fn is_simulator(&self) -> bool {
        false
    }
}
