//! Length-prefixed frames: a u32 big-endian length `N` (1 ≤ N ≤ max), then `N` bytes.
//!
//! The length is checked against the maximum *before* any buffer is allocated, so a
//! hostile peer announcing 4 GiB costs us four bytes of reading, not four gigabytes.

#[cfg(feature = "io")]
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Default largest frame body: 64 MiB (protocol 5: an account's sealed
/// history travels in one request). The buffer grows as bytes arrive, so a
/// peer that announces a large frame and sends nothing costs little.
pub const DEFAULT_MAX_FRAME_LEN: usize = 64 << 20;

/// Size of the length prefix.
pub const LENGTH_PREFIX_LEN: usize = 4;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The peer announced a body larger than the configured maximum.
    #[error("frame of {announced} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Length the peer announced.
        announced: u64,
        /// Configured maximum.
        max: usize,
    },
    /// A zero-length frame: never valid.
    #[error("empty frame")]
    Empty,
    /// The peer closed the connection cleanly between frames.
    #[error("connection closed")]
    Closed,
    /// Any I/O failure, including a connection closed in the middle of a frame.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Checks an announced length against `max` without allocating.
pub fn check_len(announced: u32, max: usize) -> Result<usize, FrameError> {
    let len = announced as usize;
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if len > max {
        return Err(FrameError::TooLarge {
            announced: u64::from(announced),
            max,
        });
    }
    Ok(len)
}

/// Reads one frame body. A clean end of stream before the first prefix byte is
/// [`FrameError::Closed`]; anything cut short later is an I/O error.
#[cfg(feature = "io")]
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> Result<Vec<u8>, FrameError> {
    let mut prefix = [0u8; LENGTH_PREFIX_LEN];
    let first = reader.read(&mut prefix[..1]).await?;
    if first == 0 {
        return Err(FrameError::Closed);
    }
    reader.read_exact(&mut prefix[1..]).await?;
    let len = check_len(u32::from_be_bytes(prefix), max)?;
    // Grow with the bytes that arrive (at most 1 MiB reserved up front).
    let mut body = Vec::with_capacity(len.min(1 << 20));
    let got = reader.take(len as u64).read_to_end(&mut body).await?;
    if got != len {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    }
    Ok(body)
}

/// Writes one frame (prefix and body in a single buffer, so a frame is never
/// interleaved with another writer's bytes) and flushes.
#[cfg(feature = "io")]
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    body: &[u8],
    max: usize,
) -> Result<(), FrameError> {
    let buf = encode_frame(body, max)?;
    writer.write_all(&buf).await?;
    writer.flush().await?;
    Ok(())
}

/// Encodes `body` as a complete frame.
pub fn encode_frame(body: &[u8], max: usize) -> Result<Vec<u8>, FrameError> {
    let announced = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge {
        announced: body.len() as u64,
        max,
    })?;
    check_len(announced, max)?;
    let mut buf = Vec::with_capacity(LENGTH_PREFIX_LEN + body.len());
    buf.extend_from_slice(&announced.to_be_bytes());
    buf.extend_from_slice(body);
    Ok(buf)
}

/// A frame body and the bytes after it.
pub type Split<'a> = (&'a [u8], &'a [u8]);

/// Splits one complete frame off the front of `bytes` (I/O-free decoder, used by
/// the fuzz target). Returns the body and the remaining bytes, or `Ok(None)` when
/// more bytes are needed.
pub fn split_frame(bytes: &[u8], max: usize) -> Result<Option<Split<'_>>, FrameError> {
    let Some(prefix) = bytes.get(..LENGTH_PREFIX_LEN) else {
        return Ok(None);
    };
    let mut p = [0u8; LENGTH_PREFIX_LEN];
    p.copy_from_slice(prefix);
    let len = check_len(u32::from_be_bytes(p), max)?;
    let rest = &bytes[LENGTH_PREFIX_LEN..];
    if rest.len() < len {
        return Ok(None);
    }
    Ok(Some(rest.split_at(len)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn round_trip_at_the_limit_and_refuses_one_over() {
        let max = 16;
        let body = vec![7u8; max];
        let frame = encode_frame(&body, max).unwrap();
        let mut r = &frame[..];
        assert_eq!(read_frame(&mut r, max).await.unwrap(), body);
        assert!(matches!(
            encode_frame(&vec![0u8; max + 1], max),
            Err(FrameError::TooLarge { .. })
        ));
        let mut over = ((max + 1) as u32).to_be_bytes().to_vec();
        over.extend(vec![0u8; max + 1]);
        let mut r = &over[..];
        assert!(matches!(
            read_frame(&mut r, max).await,
            Err(FrameError::TooLarge { announced: 17, .. })
        ));
    }

    #[tokio::test]
    async fn huge_prefix_is_refused_before_allocating() {
        let mut r = &[0xFF, 0xFF, 0xFF, 0xFF][..];
        let err = read_frame(&mut r, DEFAULT_MAX_FRAME_LEN).await.unwrap_err();
        assert!(
            matches!(err, FrameError::TooLarge { announced, .. } if announced == u32::MAX as u64)
        );
    }

    #[tokio::test]
    async fn empty_frame_and_eof_are_distinct() {
        let mut r = &[0, 0, 0, 0][..];
        assert!(matches!(
            read_frame(&mut r, 8).await,
            Err(FrameError::Empty)
        ));
        let mut r = &[][..];
        assert!(matches!(
            read_frame(&mut r, 8).await,
            Err(FrameError::Closed)
        ));
        let mut r = &[0, 0, 0, 5, 1, 2][..];
        assert!(matches!(
            read_frame(&mut r, 8).await,
            Err(FrameError::Io(_))
        ));
    }

    #[test]
    fn split_frame_needs_whole_frame() {
        assert!(split_frame(&[0, 0], 8).unwrap().is_none());
        assert!(split_frame(&[0, 0, 0, 2, 1], 8).unwrap().is_none());
        let (body, rest) = split_frame(&[0, 0, 0, 2, 1, 2, 3], 8).unwrap().unwrap();
        assert_eq!((body, rest), (&[1u8, 2][..], &[3u8][..]));
    }
}
