//! Path walking relative to directory descriptors. Every component is opened
//! with `O_NOFOLLOW`, so a folder swapped for a symlink after a check makes
//! the walk fail instead of leading root somewhere else.

use crate::error::{Error, Result};
use crate::output::lossless;
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag, AT_FDCWD};
use nix::sys::stat::{fstatat, mkdirat, FileStat, Mode};
use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

pub fn shown(p: &Path) -> String {
    lossless(p.as_os_str().as_bytes())
}

fn errno(what: &Path, e: Errno) -> Error {
    Error::io(shown(what), std::io::Error::from(e))
}

/// Opens a directory entry `name` under `dir` without following a link.
pub fn open_dir_at(dir: &OwnedFd, name: &OsStr) -> std::result::Result<OwnedFd, Errno> {
    openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Opens an absolute folder one component at a time, never following a
/// link. With `create`, missing folders are made (0755, as root would).
pub fn open_dir(abs: &Path, create: bool) -> Result<OwnedFd> {
    if !abs.is_absolute() {
        return Err(Error::invalid(format!(
            "{}: not an absolute path",
            shown(abs)
        )));
    }
    let mut fd = openat(
        AT_FDCWD,
        "/",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| errno(Path::new("/"), e))?;
    let mut so_far = PathBuf::from("/");
    for c in abs.components() {
        let Component::Normal(name) = c else {
            if matches!(c, Component::ParentDir) {
                return Err(Error::invalid(format!("{}: `..` in a path", shown(abs))));
            }
            continue;
        };
        so_far.push(name);
        let next = match open_dir_at(&fd, name) {
            Err(Errno::ENOENT) if create => {
                match mkdirat(&fd, name, Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(errno(&so_far, e)),
                }
                open_dir_at(&fd, name)
            }
            r => r,
        };
        fd = next.map_err(|e| match e {
            Errno::ELOOP | Errno::ENOTDIR => Error::invalid(format!(
                "{}: is not a folder any more (a link or a file was put in its place); nothing done",
                shown(&so_far)
            )),
            e => errno(&so_far, e),
        })?;
    }
    Ok(fd)
}

pub fn lstat_at(dir: &OwnedFd, name: &OsStr) -> std::result::Result<FileStat, Errno> {
    fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

pub fn lstat(p: &Path) -> std::result::Result<FileStat, Errno> {
    fstatat(AT_FDCWD, p, AtFlags::AT_SYMLINK_NOFOLLOW)
}

pub fn kind(st: &FileStat) -> u32 {
    st.st_mode & libc::S_IFMT
}

pub fn kind_name(st: &FileStat) -> &'static str {
    match kind(st) {
        libc::S_IFREG => "file",
        libc::S_IFDIR => "folder",
        libc::S_IFLNK => "symlink",
        libc::S_IFIFO => "fifo",
        libc::S_IFSOCK => "socket",
        libc::S_IFCHR => "character device",
        libc::S_IFBLK => "block device",
        _ => "special file",
    }
}

/// The absolute form of `path` with its folders resolved, the last
/// component kept as it is (a final link is moved as a link). Links on the
/// way are followed only when root owns them (`/bin` → `usr/bin`); a link
/// someone else planted could point the check at one file and the removal
/// at another.
pub fn canonical_parent(path: &Path) -> Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::io("current folder", e))?
            .join(path)
    };
    let name = abs
        .file_name()
        .filter(|n| *n != OsStr::new(".."))
        .ok_or_else(|| Error::invalid(format!("{}: names no file", shown(path))))?
        .to_os_string();
    let parent = abs.parent().unwrap_or(Path::new("/"));
    Ok(resolve_dirs(parent)?.join(name))
}

fn parts(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn resolve_dirs(dir: &Path) -> Result<PathBuf> {
    let mut todo: Vec<OsString> = parts(dir).into_iter().rev().collect();
    let mut out = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            out.pop();
            continue;
        }
        let next = out.join(&name);
        let st = lstat(&next).map_err(|e| errno(&next, e))?;
        if kind(&st) != libc::S_IFLNK {
            out = next;
            continue;
        }
        links += 1;
        if links > 40 {
            return Err(Error::invalid(format!("{}: too many links", shown(dir))));
        }
        if st.st_uid != 0 {
            return Err(Error::invalid(format!(
                "{}: the path goes through a link owned by uid {} (not root); give the real path",
                shown(&next),
                st.st_uid
            )));
        }
        let target = std::fs::read_link(&next).map_err(|e| Error::io(shown(&next), e))?;
        if target.is_absolute() {
            out = PathBuf::from("/");
        }
        todo.extend(parts(&target).into_iter().rev());
    }
    Ok(out)
}

/// Undoes [`lossless`]: `\xNN` back to the byte. Paths reach scripts in
/// that form when they are not UTF-8.
pub fn unescape_lossless(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut changed = false;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            if let Some(v) = b
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                // lossless only escapes bytes that are not valid UTF-8.
                if v >= 0x80 {
                    out.push(v);
                    i += 4;
                    changed = true;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    changed.then_some(out)
}

/// A path argument from a script as the bytes it names. A name shown as
/// `bad\xffname` may be that literal text or the invalid byte; when both
/// exist it is ambiguous and refused, so a decoy cannot stand in for it.
pub fn path_arg(s: &str) -> Result<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let literal = PathBuf::from(s);
    let Some(bytes) = unescape_lossless(s) else {
        return Ok(literal);
    };
    let decoded = PathBuf::from(OsString::from_vec(bytes));
    match (lstat(&literal).is_ok(), lstat(&decoded).is_ok()) {
        (true, true) => Err(Error::invalid(format!(
            "{s:?} names two files (one with the characters \\x.., one with those bytes); \
             rename one of them first"
        ))),
        (true, false) => Ok(literal),
        _ => Ok(decoded),
    }
}
