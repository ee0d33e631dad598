//! Socket inode → owning processes, in one pass over /proc/*/fd.
//!
//! Only the descriptor links are read (readlinkat relative to each fd
//! directory, so the kernel does not resolve `/proc/PID/fd/N` from the root
//! every time); no process record is built. That is the same work `ss -p`
//! and `lsof` do, with less path handling.

use crate::error::{Error, Result};
use crate::runtime::CancelToken;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Owners by socket inode, and how many processes could not be read
/// (permission denied: other users' processes when not root).
pub struct Owners {
    pub by_inode: HashMap<u64, Vec<i32>>,
    pub denied: usize,
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &[u8]) -> Option<u64> {
    let rest = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    if rest.is_empty() {
        return None;
    }
    rest.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Descriptors read per thread at least: below this, threads cost more
/// than they save.
const PER_THREAD: usize = 512;

/// The descriptor names of one open `/proc/PID/fd`, NUL-terminated, appended
/// to `names`; their offsets to `fds`. One `getdents64` per 32 KiB of
/// listing, no allocation per descriptor.
fn list_fds(
    dir: &OwnedFd,
    d: u32,
    buf: &mut [u64],
    names: &mut Vec<u8>,
    fds: &mut Vec<(u32, u32)>,
) {
    loop {
        // SAFETY: the buffer is writable for its whole size; the kernel
        // writes whole records and returns how many bytes it wrote.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr(),
                std::mem::size_of_val(buf),
            )
        };
        if n <= 0 {
            return; // done, or the process exited meanwhile
        }
        // SAFETY: the first n bytes were written by the kernel above.
        let data = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) };
        // struct linux_dirent64: d_ino u64, d_off i64, d_reclen u16,
        // d_type u8, d_name NUL-terminated.
        let mut off = 0;
        while off + 19 < data.len() {
            let reclen = u16::from_ne_bytes([data[off + 16], data[off + 17]]) as usize;
            if reclen == 0 || off + reclen > data.len() {
                break;
            }
            let rec = &data[off + 19..off + reclen];
            off += reclen;
            let len = rec.iter().position(|&b| b == 0).unwrap_or(rec.len());
            let name = &rec[..len];
            if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
                continue; // "." and ".."
            }
            fds.push((d, names.len() as u32));
            names.extend_from_slice(name);
            names.push(0);
        }
    }
}

pub fn owners(cancel: &CancelToken) -> Result<Owners> {
    // First the listings (cheap: one open and one getdents per process),
    // then the links (one readlinkat per descriptor: the real cost), split
    // across threads by descriptor, not by process, since one process may
    // hold thousands.
    let mut dirs: Vec<(i32, OwnedFd)> = Vec::new();
    let mut names: Vec<u8> = Vec::new();
    let mut fds: Vec<(u32, u32)> = Vec::new();
    let mut denied = 0;
    // u64s: getdents64 records are 8-byte aligned in an aligned buffer.
    let mut buf = vec![0u64; 4096];
    let procs = std::fs::read_dir("/proc").map_err(|e| Error::io("/proc", e))?;
    for (i, e) in procs.flatten().enumerate() {
        if i % 64 == 0 {
            cancel.check()?;
        }
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let path = format!("/proc/{pid}/fd\0");
        // SAFETY: `path` ends in NUL; the result is checked before it is owned.
        let fd = unsafe {
            libc::open(
                path.as_ptr().cast(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::PermissionDenied {
                denied += 1;
            }
            continue; // else exited meanwhile
        }
        // SAFETY: a fresh descriptor nothing else owns.
        let dir = unsafe { OwnedFd::from_raw_fd(fd) };
        let before = fds.len();
        list_fds(&dir, dirs.len() as u32, &mut buf, &mut names, &mut fds);
        if fds.len() > before {
            dirs.push((pid, dir));
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(2, 4)
        .min(fds.len().div_ceil(PER_THREAD))
        .max(1);
    let chunk = fds.len().div_ceil(threads).max(1);
    let links = |part: &[(u32, u32)]| -> Vec<(u64, i32)> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        for &(d, at) in part {
            let (pid, dir) = &dirs[d as usize];
            // SAFETY: `dir` stays open while `dirs` lives; the name at `at`
            // in `names` ends in NUL; buf is writable for buf.len() bytes.
            let len = unsafe {
                libc::readlinkat(
                    dir.as_raw_fd(),
                    names.as_ptr().add(at as usize).cast(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
            if len > 0 {
                if let Some(inode) = socket_inode(&buf[..len as usize]) {
                    out.push((inode, *pid));
                }
            }
        }
        out
    };
    let mut pairs: Vec<(u64, i32)> = std::thread::scope(|s| {
        let mut parts = fds.chunks(chunk);
        let first = parts.next().unwrap_or(&[]);
        let handles: Vec<_> = parts.map(|p| s.spawn(move || links(p))).collect();
        let mut all = links(first);
        for h in handles {
            all.extend(h.join().unwrap_or_default());
        }
        all
    });
    pairs.sort_unstable();
    pairs.dedup();
    let mut by_inode: HashMap<u64, Vec<i32>> = HashMap::with_capacity(pairs.len());
    for (inode, pid) in pairs {
        by_inode.entry(inode).or_default().push(pid);
    }
    Ok(Owners { by_inode, denied })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_its_own_socket() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let md = nix::sys::stat::fstat(&l).unwrap();
        let o = owners(&CancelToken::new()).unwrap();
        let me = std::process::id() as i32;
        assert!(o.by_inode[&md.st_ino].contains(&me));
        assert_eq!(socket_inode(b"socket:[42]"), Some(42));
        assert_eq!(socket_inode(b"pipe:[42]"), None);
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"socket:[4x]"), None);
        assert_eq!(socket_inode(b"socket:[99999999999999999999]"), None);
        assert_eq!(
            socket_inode(b"socket:[18446744073709551615]"),
            Some(u64::MAX)
        );
    }
}
