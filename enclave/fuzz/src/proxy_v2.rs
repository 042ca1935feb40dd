//! strongroom-formats' PROXY protocol v2 header parser, which the host runs
//! on the first bytes of every connection when `PROXY_PROTOCOL=1`. Never
//! panics; a header it accepts names at most [`MAX_PROXY_V2_LEN`] bytes, and
//! an address it reads is re-encoded to the same bytes.

use strongroom_formats::proxy::{
    MAX_PROXY_V2_LEN, PROXY_V2_FIXED_LEN, encode_v2, parse_fixed, source,
};

/// One input: its first 16 bytes as the fixed part, the rest as what follows.
pub fn run(data: &[u8]) {
    let Some((fixed, rest)) = data.split_first_chunk::<PROXY_V2_FIXED_LEN>() else {
        return;
    };
    let Ok(f) = parse_fixed(fixed) else {
        return;
    };
    assert!(f.len <= MAX_PROXY_V2_LEN);
    let Some(rest) = rest.get(..f.len) else {
        return;
    };
    if let Ok(Some(src)) = source(&f, rest) {
        let v4 = f.family == 0x11;
        if v4 && rest.len() == 12 && fixed[12] == 0x21 {
            let dst = std::net::SocketAddr::from((
                [rest[4], rest[5], rest[6], rest[7]],
                u16::from_be_bytes([rest[10], rest[11]]),
            ));
            assert_eq!(
                encode_v2(src, dst),
                data[..PROXY_V2_FIXED_LEN + 12].to_vec()
            );
        }
    }
}

/// Seeds: an IPv4 and an IPv6 header, and a LOCAL one.
pub fn seeds() -> Vec<Vec<u8>> {
    let v4 = encode_v2(
        "203.0.113.7:40000".parse().expect("addr"),
        "10.0.0.1:443".parse().expect("addr"),
    );
    let v6 = encode_v2(
        "[2001:db8::7]:1".parse().expect("addr"),
        "[2001:db8::1]:443".parse().expect("addr"),
    );
    let mut local = v4.clone();
    local[12] = 0x20;
    vec![v4, v6, local]
}
