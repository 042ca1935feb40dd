//! A strict reader for the BER subset AWS KMS emits in
//! `CiphertextForRecipient`: single-byte tags, minimal definite lengths of
//! at most three length bytes, and indefinite lengths (closed by an
//! end-of-contents `00 00`) on constructed elements only. Nothing generic:
//! the caller walks a fixed schema, so nesting depth is bounded by the code,
//! never by the input.

/// The walk hit something outside the accepted subset or schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BerError;

/// Tag bit marking a constructed encoding.
pub(crate) const CONSTRUCTED: u8 = 0x20;

/// A position inside one element's contents.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// `Some(end)` for definite contents; `None` for indefinite (ends at EOC).
    end: Option<usize>,
    /// Hard bound: no byte at or past it belongs to this element.
    limit: usize,
}

impl<'a> Reader<'a> {
    /// A reader over a whole input (one top-level element expected).
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            end: Some(data.len()),
            limit: data.len(),
        }
    }

    fn byte(&mut self) -> Result<u8, BerError> {
        let bound = self.end.unwrap_or(self.limit);
        if self.pos >= bound {
            return Err(BerError);
        }
        let b = self.data[self.pos];
        self.pos += 1;
        Ok(b)
    }

    /// Reads a tag and length; `None` length means indefinite.
    fn header(&mut self) -> Result<(u8, Option<usize>), BerError> {
        let tag = self.byte()?;
        if tag & 0x1f == 0x1f || tag == 0 {
            return Err(BerError); // multi-byte tags and EOC are not elements here
        }
        let first = self.byte()?;
        let len = match first {
            0x80 if tag & CONSTRUCTED != 0 => return Ok((tag, None)),
            0x00..=0x7f => usize::from(first),
            0x81..=0x83 => {
                let mut len = 0usize;
                for _ in 0..(first & 0x7f) {
                    len = (len << 8) | usize::from(self.byte()?);
                }
                // Minimal long form only (as DER): 0x81 for 128..=255, etc.
                let min = match first {
                    0x81 => 0x80,
                    0x82 => 0x100,
                    _ => 0x1_0000,
                };
                if len < min {
                    return Err(BerError);
                }
                len
            }
            _ => return Err(BerError),
        };
        let bound = self.end.unwrap_or(self.limit);
        if len > bound.saturating_sub(self.pos) {
            return Err(BerError);
        }
        Ok((tag, Some(len)))
    }

    /// The tag of the next element without consuming it, if any remains.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        if self.at_end() {
            return None;
        }
        self.data.get(self.pos).copied()
    }

    /// True when the contents are exhausted (definite) or an EOC follows.
    pub(crate) fn at_end(&self) -> bool {
        match self.end {
            Some(end) => self.pos == end,
            None => {
                self.pos + 2 <= self.limit
                    && self.data.get(self.pos..self.pos + 2) == Some(&[0, 0][..])
            }
        }
    }

    /// Enters the constructed element `tag` (definite or indefinite). The
    /// parent stays put until [`Reader::close`] is called with the child.
    pub(crate) fn enter(&mut self, tag: u8) -> Result<Reader<'a>, BerError> {
        let (got, len) = self.header()?;
        if got != tag || tag & CONSTRUCTED == 0 {
            return Err(BerError);
        }
        let limit = self.end.unwrap_or(self.limit);
        Ok(Reader {
            data: self.data,
            pos: self.pos,
            end: len.map(|l| self.pos + l),
            limit,
        })
    }

    /// Checks `child` was read completely and moves past it.
    pub(crate) fn close(&mut self, child: Reader<'a>) -> Result<(), BerError> {
        if !child.at_end() {
            return Err(BerError);
        }
        self.pos = match child.end {
            Some(end) => end,
            None => child.pos + 2,
        };
        Ok(())
    }

    /// Reads a primitive element `tag` with a definite length; its contents.
    pub(crate) fn primitive(&mut self, tag: u8) -> Result<&'a [u8], BerError> {
        let (got, len) = self.header()?;
        let len = len.ok_or(BerError)?;
        if got != tag || tag & CONSTRUCTED != 0 {
            return Err(BerError);
        }
        let out = &self.data[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    /// Reads any element whose encoding must equal `expected` byte for byte
    /// (fixed algorithm identifiers).
    pub(crate) fn exact(&mut self, expected: &[&[u8]]) -> Result<(), BerError> {
        let rest = &self.data[self.pos..self.end.unwrap_or(self.limit)];
        let hit = expected
            .iter()
            .find(|e| rest.starts_with(e))
            .ok_or(BerError)?;
        self.pos += hit.len();
        Ok(())
    }

    /// True once the whole top-level input has been consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.end == Some(self.pos)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_strict() {
        // Non-minimal long forms, 4-byte lengths, indefinite primitives refused.
        for bad in [
            &[0x04, 0x81, 0x05, 1, 2, 3, 4, 5][..],
            &[0x04, 0x84, 0, 0, 0, 1, 0],
            &[0x04, 0x80, 1, 0, 0],
            &[0x04, 0x05, 1, 2],
            &[0x1f, 0x01, 0x00],
        ] {
            assert_eq!(
                Reader::new(bad).primitive(0x04),
                Err(BerError),
                "{bad:02x?}"
            );
        }
        let mut r = Reader::new(&[0x04, 0x02, 7, 8]);
        assert_eq!(r.primitive(0x04), Ok(&[7u8, 8][..]));
        assert!(r.is_empty());
    }

    #[test]
    fn indefinite_needs_eoc_within_parent() {
        let ok = [0x30, 0x80, 0x04, 0x01, 9, 0, 0];
        let mut r = Reader::new(&ok);
        let mut c = r.enter(0x30).unwrap();
        assert_eq!(c.primitive(0x04), Ok(&[9u8][..]));
        r.close(c).unwrap();
        assert!(r.is_empty());
        // Missing EOC, and an EOC lying outside a definite parent.
        let mut r = Reader::new(&[0x30, 0x80, 0x04, 0x01, 9]);
        let mut c = r.enter(0x30).unwrap();
        c.primitive(0x04).unwrap();
        assert_eq!(r.close(c), Err(BerError));
        let data = [0x31, 0x05, 0x30, 0x80, 0x04, 0x01, 9, 0, 0];
        let mut r = Reader::new(&data);
        let mut set = r.enter(0x31).unwrap();
        let mut c = set.enter(0x30).unwrap();
        c.primitive(0x04).unwrap();
        assert!(!c.at_end());
    }
}
