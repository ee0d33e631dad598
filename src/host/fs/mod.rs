//! Host layer for `fs::`: walking, stat, reading, grepping and hashing files.
//!
//! Everything here reads; nothing changes the file system. Paths that are not
//! UTF-8 are reported losslessly (`\xNN` for each invalid byte), so a name an
//! attacker chose cannot hide from a script or drive a terminal.

pub mod bounded;
pub mod find;
pub mod read;
mod walk;

pub use find::{find, find_found, glob, temp_files, Filter, Found, TEMP_DIRS};
pub use read::{grep, hash, head, read, tail, tail_stats, GrepMatch, GrepOpts, TailStats};
pub use walk::Stat;

use crate::error::{Error, Result};
use crate::text::lossless;
use serde::Serialize;
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// One file system entry, as `fs::find`, `fs::glob` and `fs::stat` return it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub path: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub size: u64,
    /// Permission bits in octal, with the setuid/setgid/sticky digit: `"4755"`.
    pub mode: String,
    pub uid: u32,
    pub user: Option<String>,
    pub gid: u32,
    pub mtime: String,
    pub ctime: String,
    pub atime: String,
    pub executable: bool,
    pub setuid: bool,
    pub setgid: bool,
    pub link_target: Option<String>,
}

/// The `type` field for a file type.
pub fn type_name(ft: std::fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_file() {
        "file"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_char_device() {
        "char"
    } else {
        "unknown"
    }
}

/// Seconds since the epoch as ISO 8601 UTC (`2024-05-01T12:00:00Z`).
pub fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// uid → user name, read once from `<root>/etc/passwd`, then from NSS for
/// uids it does not list (LDAP users). Misses are cached too, so a walk over
/// 100k files owned by an unknown uid costs one lookup.
pub struct Names {
    root: std::path::PathBuf,
    by_uid: Option<HashMap<u32, Option<String>>>,
}

impl Names {
    pub fn new(root: &Path) -> Self {
        Names {
            root: root.to_path_buf(),
            by_uid: None,
        }
    }

    fn load(&mut self) -> &mut HashMap<u32, Option<String>> {
        let root = self.root.clone();
        self.by_uid.get_or_insert_with(|| {
            let mut m = HashMap::new();
            if let Ok(text) = std::fs::read(root.join("etc/passwd")) {
                for line in text.split(|&b| b == b'\n') {
                    let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
                    if f.len() >= 3 {
                        if let Ok(uid) = lossless(f[2]).parse::<u32>() {
                            m.entry(uid).or_insert_with(|| Some(lossless(f[0])));
                        }
                    }
                }
            }
            m
        })
    }

    pub fn user(&mut self, uid: u32) -> Option<String> {
        let use_nss = self.root == Path::new("/");
        let m = self.load();
        if let Some(n) = m.get(&uid) {
            return n.clone();
        }
        let n = if use_nss {
            nix::unistd::User::from_uid(uid.into())
                .ok()
                .flatten()
                .map(|u| u.name)
        } else {
            None
        };
        m.insert(uid, n.clone());
        n
    }

    /// A user name or a numeric uid, as given to the `owner` filter.
    pub fn uid_of(&mut self, owner: &str) -> Option<u32> {
        if let Ok(uid) = owner.parse::<u32>() {
            return Some(uid);
        }
        let m = self.load();
        if let Some((uid, _)) = m.iter().find(|(_, n)| n.as_deref() == Some(owner)) {
            return Some(*uid);
        }
        nix::unistd::User::from_name(owner)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw())
    }
}

/// Builds an [`Entry`] from an `lstat` result.
pub fn entry(path: &Path, md: &Stat, names: &mut Names) -> Entry {
    let mode = md.mode;
    let link_target = if md.is_symlink() {
        std::fs::read_link(path)
            .ok()
            .map(|t| lossless(t.as_os_str().as_bytes()))
    } else {
        None
    };
    Entry {
        path: lossless(path.as_os_str().as_bytes()),
        name: path
            .file_name()
            .map(|n| lossless(n.as_bytes()))
            .unwrap_or_else(|| lossless(path.as_os_str().as_bytes())),
        kind: md.kind(),
        size: md.size,
        mode: format!("{:04o}", mode & 0o7777),
        uid: md.uid,
        user: names.user(md.uid),
        gid: md.gid,
        mtime: iso(md.mtime),
        ctime: iso(md.ctime),
        atime: iso(md.atime),
        executable: md.is_file() && mode & 0o111 != 0,
        setuid: mode & 0o4000 != 0,
        setgid: mode & 0o2000 != 0,
        link_target,
    }
}

/// A path from a script. Paths hound reports keep invalid UTF-8 bytes as
/// `\xNN`; when such a path does not exist literally, the escapes are decoded
/// back to bytes, so `fs::hash(e.path)` works on an entry `fs::find` returned.
pub fn script_path(s: &str) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let literal = std::path::PathBuf::from(s);
    if !s.contains("\\x") || std::fs::symlink_metadata(&literal).is_ok() {
        return literal;
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 2..i + 4])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    std::path::PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// `fs::stat`: the entry for one path, without following a final symlink.
pub fn stat(path: &Path) -> Result<Entry> {
    let md = std::fs::symlink_metadata(path)
        .map_err(|e| Error::io(lossless(path.as_os_str().as_bytes()), e))?;
    Ok(entry(
        path,
        &Stat::from_metadata(&md),
        &mut Names::new(Path::new("/")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_reports_mode_type_and_missing_paths() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        std::fs::write(&f, b"abc").unwrap();
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
        let e = stat(&f).unwrap();
        assert_eq!(e.kind, "file");
        assert_eq!(e.mode, "4755");
        assert!(e.setuid && e.executable);
        assert_eq!(e.size, 3);
        assert!(e.mtime.ends_with('Z'));
        let odd = d.path().join(std::ffi::OsStr::from_bytes(b"a\xffb"));
        std::fs::write(&odd, b"").unwrap();
        let shown = stat(&odd).unwrap().path;
        assert!(shown.ends_with("a\\xffb"));
        assert_eq!(script_path(&shown), odd);
        let err = stat(&d.path().join("nope")).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::NotFound);
        assert!(err.message.contains("nope"));
    }
}
