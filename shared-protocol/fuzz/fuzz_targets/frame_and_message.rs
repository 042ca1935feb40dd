//! Feeds arbitrary bytes to the frame splitter and to every message decoder.
//! Nothing may panic; whatever decodes must re-encode and decode to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_protocol::codec::{decode, encode};
use strongroom_protocol::frame::split_frame;
use strongroom_protocol::messages::{ClientHello, Request, Response, ServerHello};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((body, tail))) = split_frame(rest, 1 << 20) {
        check::<Request>(body);
        check::<Response>(body);
        rest = tail;
    }
    check::<Request>(data);
    check::<Response>(data);
    check::<ClientHello>(data);
    check::<ServerHello>(data);
});

fn check<T>(bytes: &[u8])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if let Ok(msg) = decode::<T>(bytes) {
        let again = encode(&msg).expect("a decoded message re-encodes");
        assert_eq!(decode::<T>(&again).expect("re-decodes"), msg);
    }
}
