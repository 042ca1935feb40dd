//! Reading the payload of a COSE_Sign1 *without* verifying it. The host only
//! relays signed results; clients verify them. The host reads the payload to
//! answer `aggregates` as JSON and to check that a new tree head carries the
//! root it computed itself.

use serde_cbor::Value;

/// Largest COSE_Sign1 read.
pub const MAX_SIGN1_LEN: usize = 1 << 20;
/// CBOR tag of COSE_Sign1.
const COSE_SIGN1_TAG: u64 = 18;

/// The attached payload of an (untagged or tag-18) COSE_Sign1
/// `[protected bstr, unprotected map, payload bstr, signature bstr]`.
/// None for anything else, trailing bytes included.
pub fn sign1_payload(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() > MAX_SIGN1_LEN {
        return None;
    }
    // serde_cbor drops tags silently, so the one allowed tag is checked here.
    let body = match bytes.first() {
        Some(&b) if b == 0xc0 | COSE_SIGN1_TAG as u8 => &bytes[1..],
        Some(b) if b >> 5 == 6 => return None,
        _ => bytes,
    };
    let Value::Array(mut items) = serde_cbor::from_slice(body).ok()? else {
        return None;
    };
    if items.len() != 4 {
        return None;
    }
    match (items.swap_remove(2), &items[0], &items[1]) {
        (Value::Bytes(payload), Value::Bytes(_), Value::Map(_)) => Some(payload),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_payload_and_refuses_other_shapes() {
        // [h'a10126', {}, h'010203', h'00']
        let ok = hex::decode("8443a10126a0430102034100").unwrap();
        assert_eq!(sign1_payload(&ok), Some(vec![1, 2, 3]));
        let mut tagged = vec![0xd2];
        tagged.extend_from_slice(&ok);
        assert_eq!(sign1_payload(&tagged), Some(vec![1, 2, 3]));
        let mut trailing = ok.clone();
        trailing.push(0);
        assert_eq!(sign1_payload(&trailing), None);
        let mut other_tag = vec![0xd1];
        other_tag.extend_from_slice(&ok);
        assert_eq!(sign1_payload(&other_tag), None);
        // three elements
        assert_eq!(
            sign1_payload(&hex::decode("8343a10126a0420102").unwrap()),
            None
        );
        // detached (nil) payload
        assert_eq!(
            sign1_payload(&hex::decode("8443a10126a0f64100").unwrap()),
            None
        );
    }
}
