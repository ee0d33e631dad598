//! Socket inode → owning processes, in one pass over /proc/*/fd.
//!
//! Only the descriptor links are read (readlinkat relative to each fd
//! directory, so the kernel does not resolve `/proc/PID/fd/N` from the root
//! every time); no process record is built. That is the same work `ss -p`
//! and `lsof` do, with less path handling.

use crate::error::{Error, Result};
use crate::runtime::CancelToken;
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;

/// Owners by socket inode, and how many processes could not be read
/// (permission denied: other users' processes when not root).
pub struct Owners {
    pub by_inode: HashMap<u64, Vec<i32>>,
    pub denied: usize,
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &[u8]) -> Option<u64> {
    let rest = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(rest).ok()?.parse().ok()
}

/// Descriptors read per thread at least: below this, threads cost more
/// than they save.
const PER_THREAD: usize = 512;

pub fn owners(cancel: &CancelToken) -> Result<Owners> {
    // First the listings (cheap: one getdents per process), then the links
    // (one readlinkat per descriptor: the real cost), split across threads
    // by descriptor, not by process, since one process may hold thousands.
    let mut dirs: Vec<(i32, std::fs::File)> = Vec::new();
    let mut fds: Vec<(u32, u32)> = Vec::new();
    let mut denied = 0;
    let procs = std::fs::read_dir("/proc").map_err(|e| Error::io("/proc", e))?;
    for (i, e) in procs.flatten().enumerate() {
        if i % 64 == 0 {
            cancel.check()?;
        }
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let path = format!("/proc/{pid}/fd");
        // One descriptor of the directory for readlinkat, one listing of it.
        let (dir, list) =
            match std::fs::File::open(&path).and_then(|d| Ok((d, std::fs::read_dir(&path)?))) {
                Ok(x) => x,
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    denied += 1;
                    continue;
                }
                Err(_) => continue, // exited meanwhile
            };
        let d = dirs.len() as u32;
        fds.extend(list.flatten().filter_map(|fd| {
            let n: u32 = std::str::from_utf8(fd.file_name().as_bytes())
                .ok()?
                .parse()
                .ok()?;
            Some((d, n))
        }));
        dirs.push((pid, dir));
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
        for &(d, n) in part {
            let (pid, dir) = &dirs[d as usize];
            let name = format!("{n}\0");
            // SAFETY: `dir` stays open while `dirs` lives; `name` ends in
            // NUL; buf is writable for buf.len() bytes.
            let len = unsafe {
                libc::readlinkat(
                    dir.as_raw_fd(),
                    name.as_ptr().cast(),
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
    }
}
