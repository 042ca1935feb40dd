//! A deterministic cpio "newc" (SVR4, no CRC) writer, the format the Linux
//! kernel unpacks as an initramfs.
//!
//! Nothing about the machine or the moment leaks into the archive: entries
//! are written in byte order of their paths (so a parent directory always
//! precedes its contents), inode numbers count up from 1 in that order, owner
//! and group are 0, every mtime is the archive's fixed mtime (0 by default),
//! and modes are whatever the caller states, never what a file on disk has.

use std::collections::BTreeMap;

use crate::error::ImageError;

/// Longest path accepted inside an archive (bytes, without the NUL).
pub const MAX_PATH_BYTES: usize = 1024;
/// Largest single file accepted (newc stores sizes as 32 bits; we stay far below).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// Most entries in one archive.
pub const MAX_ENTRIES: usize = 4096;

const MAGIC: &[u8; 6] = b"070701";
const TRAILER: &str = "TRAILER!!!";
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFCHR: u32 = 0o020_000;
const PERM_MASK: u32 = 0o7777;

/// What an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Dir,
    File(Vec<u8>),
    CharDev { major: u32, minor: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    perm: u32,
    kind: Kind,
}

/// An archive under construction. Entries are keyed by path, so the order of
/// `add_*` calls never matters.
#[derive(Clone, Debug, Default)]
pub struct Archive {
    entries: BTreeMap<String, Entry>,
    mtime: u32,
}

impl Archive {
    /// An empty archive whose entries all carry `mtime` (seconds since the epoch).
    pub fn new(mtime: u32) -> Self {
        Self {
            entries: BTreeMap::new(),
            mtime,
        }
    }

    /// Adds a directory. Adding the same directory twice is harmless.
    pub fn add_dir(&mut self, path: &str, perm: u32) -> Result<(), ImageError> {
        let path = check_path(path)?;
        self.add_parents(path)?;
        match self.entries.get(path) {
            Some(e) if e.kind == Kind::Dir && e.perm == perm & PERM_MASK => Ok(()),
            Some(_) => Err(ImageError::DuplicatePath(path.to_owned())),
            None => self.insert(path, perm, Kind::Dir),
        }
    }

    /// Adds a regular file; missing parent directories are added with mode 0755.
    pub fn add_file(&mut self, path: &str, perm: u32, data: Vec<u8>) -> Result<(), ImageError> {
        let path = check_path(path)?;
        if data.len() as u64 > MAX_FILE_BYTES {
            return Err(ImageError::TooLarge {
                what: path.to_owned(),
                size: data.len() as u64,
                limit: MAX_FILE_BYTES,
            });
        }
        self.add_parents(path)?;
        self.insert(path, perm, Kind::File(data))
    }

    /// Adds a character device node (e.g. `dev/console`, 5:1).
    pub fn add_char_dev(
        &mut self,
        path: &str,
        perm: u32,
        major: u32,
        minor: u32,
    ) -> Result<(), ImageError> {
        let path = check_path(path)?;
        self.add_parents(path)?;
        self.insert(path, perm, Kind::CharDev { major, minor })
    }

    /// Paths in archive order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The archive bytes, including the trailer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (index, (path, entry)) in self.entries.iter().enumerate() {
            // Inode 0 is avoided: some unpackers treat it as "no inode".
            let ino = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let (mode, nlink, data, rdev) = match &entry.kind {
                Kind::Dir => (S_IFDIR | entry.perm, 2, &[][..], (0, 0)),
                Kind::File(data) => (S_IFREG | entry.perm, 1, data.as_slice(), (0, 0)),
                Kind::CharDev { major, minor } => {
                    (S_IFCHR | entry.perm, 1, &[][..], (*major, *minor))
                }
            };
            let header = Header {
                ino,
                mode,
                nlink,
                mtime: self.mtime,
                rdev,
            };
            header.write(&mut out, path, data);
        }
        Header {
            ino: 0,
            mode: 0,
            nlink: 1,
            mtime: 0,
            rdev: (0, 0),
        }
        .write(&mut out, TRAILER, &[]);
        out
    }

    fn add_parents(&mut self, path: &str) -> Result<(), ImageError> {
        let mut end = 0;
        while let Some(pos) = path[end..].find('/') {
            let parent = &path[..end + pos];
            if !self.entries.contains_key(parent) {
                self.insert(parent, 0o755, Kind::Dir)?;
            }
            end += pos + 1;
        }
        Ok(())
    }

    fn insert(&mut self, path: &str, perm: u32, kind: Kind) -> Result<(), ImageError> {
        if self.entries.contains_key(path) {
            return Err(ImageError::DuplicatePath(path.to_owned()));
        }
        if self.entries.len() >= MAX_ENTRIES {
            return Err(ImageError::TooLarge {
                what: "archive entry count".to_owned(),
                size: self.entries.len() as u64 + 1,
                limit: MAX_ENTRIES as u64,
            });
        }
        let perm = perm & PERM_MASK;
        self.entries.insert(path.to_owned(), Entry { perm, kind });
        Ok(())
    }
}

struct Header {
    ino: u32,
    mode: u32,
    nlink: u32,
    mtime: u32,
    rdev: (u32, u32),
}

impl Header {
    fn write(&self, out: &mut Vec<u8>, name: &str, data: &[u8]) {
        // Both lengths were bounded when the entry was added (path <= 1 KiB,
        // data <= 512 MiB), so the conversions cannot saturate.
        let namesize = u32::try_from(name.len() + 1).unwrap_or(u32::MAX);
        let filesize = u32::try_from(data.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(MAGIC);
        let fields = [
            self.ino,
            self.mode,
            0, // uid
            0, // gid
            self.nlink,
            self.mtime,
            filesize,
            0, // devmajor
            0, // devminor
            self.rdev.0,
            self.rdev.1,
            namesize,
            0, // check (unused in newc)
        ];
        for field in fields {
            out.extend_from_slice(format!("{field:08X}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        pad4(out);
        out.extend_from_slice(data);
        pad4(out);
    }
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// Accepts `a/b/c`: relative, no empty, `.` or `..` components, no NUL.
fn check_path(path: &str) -> Result<&str, ImageError> {
    let bad = path.is_empty()
        || path.len() > MAX_PATH_BYTES
        || path.contains('\0')
        || path == TRAILER
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(ImageError::InvalidArchivePath(path.to_owned()));
    }
    Ok(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_is_newc() {
        let mut a = Archive::new(0);
        a.add_file("x", 0o644, b"hi".to_vec()).unwrap();
        let bytes = a.to_bytes();
        assert_eq!(&bytes[..6], b"070701");
        // 6 magic + 13 * 8 hex = 110 header bytes, then "x\0", padded to 112.
        assert_eq!(&bytes[110..112], b"x\0");
        assert_eq!(&bytes[112..114], b"hi");
        assert_eq!(bytes.len() % 4, 0);
        // mode field: regular file 0644.
        assert_eq!(&bytes[14..22], b"000081A4");
    }

    #[test]
    fn order_does_not_depend_on_insertion() {
        let mut a = Archive::new(0);
        a.add_file("b/y", 0o644, vec![1]).unwrap();
        a.add_file("a", 0o755, vec![2]).unwrap();
        let mut b = Archive::new(0);
        b.add_file("a", 0o755, vec![2]).unwrap();
        b.add_file("b/y", 0o644, vec![1]).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        assert_eq!(a.paths().collect::<Vec<_>>(), ["a", "b", "b/y"]);
    }

    #[test]
    fn rejects_bad_paths_and_duplicates() {
        let mut a = Archive::new(0);
        for p in ["", "/abs", "a//b", "../x", "a/./b", "TRAILER!!!"] {
            assert!(a.add_file(p, 0o644, vec![]).is_err(), "{p:?}");
        }
        a.add_file("f", 0o644, vec![]).unwrap();
        assert!(matches!(
            a.add_file("f", 0o644, vec![]),
            Err(ImageError::DuplicatePath(_))
        ));
        assert!(a.add_dir("f", 0o755).is_err());
    }

    #[test]
    fn path_limit_is_exact() {
        let mut a = Archive::new(0);
        assert!(
            a.add_file(&"p".repeat(MAX_PATH_BYTES), 0o644, vec![])
                .is_ok()
        );
        assert!(
            a.add_file(&"q".repeat(MAX_PATH_BYTES + 1), 0o644, vec![])
                .is_err()
        );
    }
}
