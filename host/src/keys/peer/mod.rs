//! The key-sync listener (`PEER_LISTEN`): other instances' hosts relay their
//! enclave's sync messages to ours. Plain HTTP/1.1; nothing that crosses it is
//! secret (single-use challenges, attestation documents, HPKE ciphertext to an
//! attested key), but it is the one place where outsiders reach the enclave's
//! sync operations, so: a connection limit, head and request timeouts, 64 KiB
//! bodies, strict JSON, and a per-address rate limit. Bind it to the private
//! network only.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /v1/keysync/challenge` | none or `{}` | `{"nonce": b64 32 bytes}` |
//! | `POST /v1/keysync/export` | `{"document": b64}` | `{"document", "enc", "ciphertext"}` (b64) |
//!
//! Two halves: [`listener`] answers other instances, [`client`] asks them.

pub mod client;
pub mod listener;

/// Largest request or answer body on the key-sync routes.
pub const MAX_PEER_BODY_LEN: usize = 64 * 1024;
/// Largest attestation document relayed (decoded).
pub const MAX_DOCUMENT_LEN: usize = 16 * 1024;
/// Largest HPKE-sealed ring relayed (decoded).
pub const MAX_SYNC_CIPHERTEXT_LEN: usize = 32 * 1024;
/// Longest `PEER_URL`.
pub const MAX_PEER_URL_LEN: usize = 512;
