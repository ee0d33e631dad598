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
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Reads a system file an attacker may have planted: no FIFO or device
/// (opened non-blocking, refused unless regular), at most `cap` bytes, given
/// up when the file system does not answer (`fs::read::read_system`).
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    crate::host::fs::read::read_system(path, cap, &mut |_| {})
        .map_err(|e| Error::io(crate::text::lossless(path.as_os_str().as_bytes()), e))
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
