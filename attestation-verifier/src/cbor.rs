//! A minimal, bounded CBOR (RFC 8949) reader for untrusted input.
//!
//! Why not a general CBOR library: the verifier must locate byte strings
//! *as received* (the COSE signature covers them verbatim), must reject
//! duplicate map keys (a parser differential between us and the signer is an
//! attack surface) and must bound memory and recursion before allocating.
//! Indefinite-length arrays and maps are accepted because real NSM output uses
//! them; indefinite-length (chunked) strings are refused because their
//! "bytes as received" would be ambiguous.

use thiserror::Error;

/// Deepest nesting accepted (NSM documents nest 3 levels).
pub const MAX_DEPTH: usize = 8;
/// Most elements accepted in one array or map (NSM documents: 32 PCRs at most).
pub const MAX_CONTAINER_ITEMS: usize = 256;

/// Why a byte string is not acceptable CBOR.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CborError {
    /// The input ends inside an item.
    #[error("truncated CBOR")]
    Truncated,
    /// Bytes follow the single top-level item.
    #[error("trailing bytes after CBOR item")]
    TrailingBytes,
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("CBOR nested too deeply")]
    TooDeep,
    /// An array or map with more than [`MAX_CONTAINER_ITEMS`] elements.
    #[error("CBOR container has too many items")]
    TooManyItems,
    /// A chunked (indefinite-length) byte or text string.
    #[error("indefinite-length strings are not accepted")]
    IndefiniteString,
    /// A text string that is not UTF-8.
    #[error("CBOR text is not valid UTF-8")]
    InvalidUtf8,
    /// The same key twice in one map.
    #[error("duplicate key in CBOR map")]
    DuplicateKey,
    /// Reserved additional-information values 28..30, or a stray break.
    #[error("malformed CBOR header")]
    MalformedHeader,
}

/// One decoded CBOR data item; strings borrow from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    /// Major type 0.
    Uint(u64),
    /// Major type 1: the value is `-1 - n`.
    Nint(u64),
    /// Major type 2, the exact bytes as received.
    Bytes(&'a [u8]),
    /// Major type 3.
    Text(&'a str),
    /// Major type 4.
    Array(Vec<Item<'a>>),
    /// Major type 5, in received order, keys unique.
    Map(Vec<(Item<'a>, Item<'a>)>),
    /// Major type 6.
    Tag(u64, Box<Item<'a>>),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `undefined`, floats and other simple values (never valid in our schemas).
    Other,
}

impl<'a> Item<'a> {
    /// The text if this is a text string.
    pub fn as_text(&self) -> Option<&'a str> {
        match self {
            Item::Text(t) => Some(t),
            _ => None,
        }
    }
    /// The bytes if this is a byte string.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Item::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// Decodes exactly one item from `input`; trailing bytes are an error.
pub fn decode(input: &[u8]) -> Result<Item<'_>, CborError> {
    let mut r = Reader { buf: input, pos: 0 };
    let item = r.item(0)?;
    if r.pos != input.len() {
        return Err(CborError::TrailingBytes);
    }
    Ok(item)
}

enum Arg {
    Value(u64),
    Indefinite,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        let end = self.pos.checked_add(n).ok_or(CborError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(CborError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        Ok(self.take(1)?[0])
    }

    fn peek(&self) -> Result<u8, CborError> {
        self.buf.get(self.pos).copied().ok_or(CborError::Truncated)
    }

    fn header(&mut self) -> Result<(u8, u8, Arg), CborError> {
        let b = self.byte()?;
        let (major, info) = (b >> 5, b & 0x1f);
        let arg = match info {
            0..=23 => Arg::Value(u64::from(info)),
            24 => Arg::Value(u64::from(self.byte()?)),
            25 => Arg::Value(be(self.take(2)?)),
            26 => Arg::Value(be(self.take(4)?)),
            27 => Arg::Value(be(self.take(8)?)),
            31 => Arg::Indefinite,
            _ => return Err(CborError::MalformedHeader),
        };
        Ok((major, info, arg))
    }

    fn item(&mut self, depth: usize) -> Result<Item<'a>, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError::TooDeep);
        }
        let (major, info, arg) = self.header()?;
        match (major, arg) {
            (0, Arg::Value(v)) => Ok(Item::Uint(v)),
            (1, Arg::Value(v)) => Ok(Item::Nint(v)),
            (2, Arg::Value(n)) => Ok(Item::Bytes(self.take(len(n)?)?)),
            (3, Arg::Value(n)) => {
                let raw = self.take(len(n)?)?;
                let s = core::str::from_utf8(raw).map_err(|_| CborError::InvalidUtf8)?;
                Ok(Item::Text(s))
            }
            (2 | 3, Arg::Indefinite) => Err(CborError::IndefiniteString),
            (4, arg) => self.array(arg, depth),
            (5, arg) => self.map(arg, depth),
            (6, Arg::Value(tag)) => Ok(Item::Tag(tag, Box::new(self.item(depth + 1)?))),
            (7, Arg::Value(_)) => Ok(simple(info)),
            _ => Err(CborError::MalformedHeader),
        }
    }

    /// Reads the next element of a container, or `None` at its end.
    fn next_in(
        &mut self,
        arg: &Arg,
        index: usize,
        depth: usize,
    ) -> Result<Option<Item<'a>>, CborError> {
        match arg {
            Arg::Value(n) if (index as u64) >= *n => Ok(None),
            Arg::Indefinite if self.peek()? == 0xff => {
                self.pos += 1;
                Ok(None)
            }
            _ if index >= MAX_CONTAINER_ITEMS => Err(CborError::TooManyItems),
            _ => self.item(depth + 1).map(Some),
        }
    }

    fn array(&mut self, arg: Arg, depth: usize) -> Result<Item<'a>, CborError> {
        let mut out = Vec::with_capacity(self.capacity(&arg, 1)?);
        while let Some(item) = self.next_in(&arg, out.len(), depth)? {
            out.push(item);
        }
        Ok(Item::Array(out))
    }

    fn map(&mut self, arg: Arg, depth: usize) -> Result<Item<'a>, CborError> {
        let mut out: Vec<(Item<'a>, Item<'a>)> = Vec::with_capacity(self.capacity(&arg, 2)?);
        while let Some(key) = self.next_in(&arg, out.len(), depth)? {
            let value = self.item(depth + 1)?;
            if out.iter().any(|(k, _)| *k == key) {
                return Err(CborError::DuplicateKey);
            }
            out.push((key, value));
        }
        Ok(Item::Map(out))
    }

    /// Capacity to pre-allocate: bounded by the item limit and by the bytes
    /// left (each element needs at least one byte), so hostile lengths cannot
    /// make us allocate.
    fn capacity(&self, arg: &Arg, bytes_per_elem: usize) -> Result<usize, CborError> {
        let Arg::Value(n) = arg else { return Ok(0) };
        if *n > MAX_CONTAINER_ITEMS as u64 {
            return Err(CborError::TooManyItems);
        }
        let n = *n as usize;
        if n.saturating_mul(bytes_per_elem) > self.buf.len() - self.pos {
            return Err(CborError::Truncated);
        }
        Ok(n)
    }
}

fn simple(info: u8) -> Item<'static> {
    match info {
        20 => Item::Bool(false),
        21 => Item::Bool(true),
        22 => Item::Null,
        _ => Item::Other,
    }
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

fn len(n: u64) -> Result<usize, CborError> {
    usize::try_from(n).map_err(|_| CborError::Truncated)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn definite_and_indefinite_maps_decode_alike() {
        let definite = [0xa1, 0x61, b'a', 0x01];
        let indefinite = [0xbf, 0x61, b'a', 0x01, 0xff];
        assert_eq!(decode(&definite).unwrap(), decode(&indefinite).unwrap());
    }

    #[test]
    fn rejects_duplicates_trailing_and_chunked_strings() {
        assert_eq!(
            decode(&[0xa2, 0x01, 0x01, 0x01, 0x02]),
            Err(CborError::DuplicateKey)
        );
        assert_eq!(decode(&[0x01, 0x00]), Err(CborError::TrailingBytes));
        assert_eq!(
            decode(&[0x5f, 0x41, 0x00, 0xff]),
            Err(CborError::IndefiniteString)
        );
        assert_eq!(
            decode(&[0x9a, 0xff, 0xff, 0xff, 0xff]),
            Err(CborError::TooManyItems)
        );
        assert_eq!(decode(&[0x98, 0x10, 0x01]), Err(CborError::Truncated));
        assert_eq!(
            decode(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(CborError::Truncated)
        );
        assert_eq!(decode(&[0xff]), Err(CborError::MalformedHeader));
        assert_eq!(decode(&[0x1c]), Err(CborError::MalformedHeader));
    }

    #[test]
    fn depth_limit_holds_at_the_limit_and_one_over() {
        let ok: Vec<u8> = std::iter::repeat_n(0x81, MAX_DEPTH).chain([0x00]).collect();
        assert!(decode(&ok).is_ok());
        let deep: Vec<u8> = std::iter::repeat_n(0x81, MAX_DEPTH + 1)
            .chain([0x00])
            .collect();
        assert_eq!(decode(&deep), Err(CborError::TooDeep));
    }

    #[test]
    fn byte_strings_borrow_the_input_verbatim() {
        let input = [0x43, 1, 2, 3];
        let Item::Bytes(b) = decode(&input).unwrap() else {
            panic!()
        };
        assert_eq!(b.as_ptr(), input[1..].as_ptr());
    }
}
