//! Linux places intruders use that the older checks did not read: package
//! integrity (dpkg), dynamic-linker hijacks, rootkit cross-views, set-uid
//! files and file capabilities, shell history. Plain Rust over a `root`
//! (`/` live, or a mounted image), returning serde records.

pub mod dpkg;
pub mod history;
pub mod preload;
pub mod rootkit;
pub mod suid;

use crate::error::{Error, Result};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Reads a system file an attacker may have planted: no FIFO or device
/// (opened non-blocking, refused unless regular), at most `cap` bytes.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| Error::io(path.display(), e))?;
    let meta = f.metadata().map_err(|e| Error::io(path.display(), e))?;
    if !meta.is_file() {
        return Err(Error::invalid(format!(
            "{}: not a regular file, not read",
            path.display()
        )));
    }
    let mut buf = Vec::new();
    f.take(cap)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path.display(), e))?;
    Ok(buf)
}

/// `read_capped` as text (lossless for invalid UTF-8), or `None` when the
/// file is missing; other failures go to `warn`.
pub fn read_text(path: &Path, cap: u64, warn: &mut dyn FnMut(&str)) -> Option<String> {
    match read_capped(path, cap) {
        Ok(b) => Some(crate::output::lossless(&b)),
        Err(e) if e.kind == crate::ErrorKind::NotFound => None,
        Err(e) => {
            warn(&e.message);
            None
        }
    }
}
