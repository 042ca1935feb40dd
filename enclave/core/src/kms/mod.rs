//! Sealing the key ring with AWS KMS (DESIGN.md "Keys"): pure, I/O-free
//! building blocks, the calls over the [`client::KmsTransport`] port (the
//! binary crate sends them over HTTPS through egress) and the two boot
//! paths (`boot`).
//!
//! - [`cms`]: open a KMS `CiphertextForRecipient` (CMS EnvelopedData, BER as
//!   KMS emits it) with the enclave's ephemeral [`cms::RecipientKey`]
//!   (RSA-2048, RSAES-OAEP-SHA-256, AES-256-CBC content).
//! - [`sigv4`]: AWS Signature Version 4 for the host-supplied
//!   [`sigv4::Credentials`].
//! - [`request`]: signed `TrentService.GenerateDataKey` / `TrentService.Decrypt`
//!   requests carrying `Recipient = {RSAES_OAEP_SHA_256, attestation}`, and
//!   strict parsing of their answers.
//!
//! - [`client`]: the KMS allowlist, the encryption context, and the two
//!   calls (sign, send through the [`client::KmsTransport`] port, parse).
//! - [`pin`]: the one KMS key ARN the image may use (`--kms-key-arn`, measured);
//!   the host's request and every KMS answer must name it.
//! - `boot`: `NewKeyRing` with KMS (`GenerateDataKey`) and `UnsealKeyRing`
//!   (`Decrypt`), encryption context `{"strongroom:ring_id": hex(ring_id)}`.
//!
//! The flow: generate a [`cms::RecipientKey`]; ask
//! the NSM for a document with `public_key` = [`cms::RecipientKey::public_key_der`];
//! send `GenerateDataKey` (first boot) or `Decrypt` (stored blob) through the
//! egress path; open `CiphertextForRecipient` here. KMS checks the document's
//! measurements against the key policy (`infra/kms-key-policy.md`); the host
//! relaying the request only ever sees ciphertext.
//!
//! # Dependencies added to the trusted base, and why
//!
//! | crate | why |
//! |---|---|
//! | `rsa` 0.10 (`std`, `encoding`; no `getrandom`, no PKCS#1 v1.5) | KMS wraps Recipient answers with RSAES-OAEP-SHA-256 only; RustCrypto's RSA, the 0.10 line with the Marvin-attack fixes; decryption is blinded with NSM randomness. `encoding` gives the SPKI DER for the attestation document. Pulls `crypto-primes`, `pkcs1`, `pkcs8` (same RustCrypto family, der 0.8). |
//! | `aes` 0.9, `cbc` 0.2 | KMS encrypts the content AES-256-CBC; `aes` was already in the image (through `aes-gcm`). |
//! | `base64` | the JSON wire format of KMS |
//!
//! Not added: the `cms` crate (0.3 pre-release; its `der` decoder refuses
//! the indefinite lengths KMS emits, RustCrypto/formats#779) — replaced by a
//! ~200-line strict walker of exactly this structure (`ber`, private);
//! and `aws-sigv4` (it drags in `aws-smithy-http`, `-types`,
//! `-runtime-api`, `-async`, `aws-credential-types`, `base64-simd`/`vsimd`,
//! `bytes-utils`: ~15 crates of an HTTP SDK stack for ~150 lines of HMAC
//! over headers) — replaced by [`sigv4`], tested on AWS's test-suite
//! vectors.

mod ber;
pub(crate) mod boot;
pub mod client;
pub mod cms;
pub mod pin;
pub mod request;
mod rng;
pub mod sigv4;
