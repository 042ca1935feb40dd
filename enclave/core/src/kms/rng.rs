//! Randomness for RSA key generation and blinding, drawn from the NSM (the
//! enclave's one entropy source) through the `rand_core` traits `rsa` takes.

use rsa::rand_core::{TryCryptoRng, TryRng};

use crate::nsm::{Nsm, NsmError};

/// Largest request made of the NSM at once (the real device serves at most
/// 256 bytes per `GetRandom`).
const NSM_CHUNK: usize = 256;

/// A `TryCryptoRng` over [`Nsm::random`].
pub(crate) struct NsmRng<'a>(pub(crate) &'a dyn Nsm);

impl TryRng for NsmRng<'_> {
    type Error = NsmError;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(NSM_CHUNK) {
            let bytes = self.0.random(chunk.len())?;
            if bytes.len() != chunk.len() {
                return Err(NsmError::Device("short random read".to_owned()));
            }
            chunk.copy_from_slice(&bytes);
        }
        Ok(())
    }
}

impl TryCryptoRng for NsmRng<'_> {}
