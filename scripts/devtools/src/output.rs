//! Writing the tools' output files (CA PEMs, generated fixtures).

use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` so that a reader never sees half a file: a
/// temporary file beside it, then a rename. A path that exists and is not a
/// regular file (`/dev/null`, `/dev/stdout`, a FIFO) is written in place:
/// renaming over it would replace the device node with a plain file (as
/// root, `--generate-fixture /dev/null` once broke `/dev/null` for every
/// process on the machine).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file());
    if special {
        std::fs::write(path, bytes)?;
    } else {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)?;
    }
    std::path::absolute(path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::FileTypeExt as _;

    #[test]
    fn regular_files_are_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.pem");
        std::fs::write(&p, "old").unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert!(!dir.path().join("out.tmp").exists());
    }

    #[test]
    fn a_fifo_is_written_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        let kind = std::fs::metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "the FIFO is still a FIFO");
    }
}
