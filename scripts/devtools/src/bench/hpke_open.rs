//! Ceiling of `submit_key` on the enclave side: HPKE base-mode opens of
//! credential-sized messages on one core, with the same `hpke` crate, suite,
//! `info` and the same receiver steps as the enclave's intake
//! (`setup_receiver` + detached in-place open).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hpke::aead::AeadTag;
use hpke::{Deserializable as _, Kem as _, OpModeR, Serializable as _};
use strongroom_verifier::seal::{Aead, CREDENTIAL_INFO, Kdf, Kem, TAG_LEN};
use strongroom_verifier::{
    CredentialMetadata, CredentialPlaintext, SealRecipient, SubmitKeyBody, seal_credential,
};
use zeroize::Zeroizing;

/// Distinct sealed messages cycled through (so no cache helps).
pub const MESSAGES: usize = 256;

/// A failure of the HPKE measurement.
#[derive(Debug, thiserror::Error)]
#[error("hpke bench: {0}")]
pub struct HpkeBenchError(&'static str);

struct Sealed {
    enc: <Kem as hpke::Kem>::EncappedKey,
    ct: Vec<u8>,
    tag: AeadTag<Aead>,
}

/// Opens per second on the calling thread over `min` of wall time.
pub fn open_rate(min: Duration) -> Result<f64, HpkeBenchError> {
    let (sk, pk) = Kem::derive_keypair(&[7u8; 32]);
    let recipient = SealRecipient::danger_unattested("bench", &pk.to_bytes())
        .map_err(|_| HpkeBenchError("recipient"))?;
    let msgs = (0..MESSAGES)
        .map(|_| sealed(&recipient).and_then(|b| split(&b)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut i = 0usize;
    super::rate(min, || {
        let m = &msgs[i % msgs.len()];
        i += 1;
        let mut ctx =
            hpke::setup_receiver::<Aead, Kdf, Kem>(&OpModeR::Base, &sk, &m.enc, CREDENTIAL_INFO)
                .map_err(|_| HpkeBenchError("setup_receiver"))?;
        let mut buf = Zeroizing::new(m.ct.clone());
        ctx.open_inout_detached(buf.as_mut_slice().into(), b"", &m.tag)
            .map_err(|_| HpkeBenchError("open"))?;
        std::hint::black_box(&buf);
        Ok(())
    })
}

fn sealed(recipient: &SealRecipient) -> Result<SubmitKeyBody, HpkeBenchError> {
    let plain = CredentialPlaintext {
        exchange: "binance".into(),
        api_key: Zeroizing::new("k".repeat(64)),
        api_secret: Zeroizing::new("s".repeat(64)),
        label: "main".into(),
        not_after: 1_900_000_000,
        owner: None,
        policy: Some(strongroom_verifier::seal::Policy::DEFAULT),
    };
    let meta = CredentialMetadata {
        exchange: "binance".into(),
        label: "main".into(),
        ttl: 3600,
    };
    seal_credential(recipient, &plain, &meta).map_err(|_| HpkeBenchError("seal"))
}

fn split(body: &SubmitKeyBody) -> Result<Sealed, HpkeBenchError> {
    let b64 = |s: &str| STANDARD.decode(s).map_err(|_| HpkeBenchError("base64"));
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&b64(&body.ephemeral_pub)?)
        .map_err(|_| HpkeBenchError("enc"))?;
    let tag_bytes = b64(&body.tag)?;
    if tag_bytes.len() != TAG_LEN {
        return Err(HpkeBenchError("tag"));
    }
    let tag = AeadTag::<Aead>::from_bytes(&tag_bytes).map_err(|_| HpkeBenchError("tag"))?;
    Ok(Sealed {
        enc,
        ct: b64(&body.ciphertext)?,
        tag,
    })
}
