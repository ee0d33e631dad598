//! Reads of files on FUSE and network file systems, in a forked child:
//! the one kind of stuck read a thread cannot contain (see the parent
//! module), since a process cannot finish exiting while one of its threads
//! waits uninterruptibly on a FUSE daemon.

use super::{timed_out, token, CancelToken, MAX_STUCK};
use std::cell::RefCell;
use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// File systems whose reads may never end: a daemon in user space serves
/// them, or a server over the network.
fn remote_type(t: &[u8]) -> bool {
    const REMOTE: &[&[u8]] = &[
        b"fuse",
        b"fuseblk",
        b"nfs",
        b"nfs4",
        b"cifs",
        b"smb3",
        b"smbfs",
        b"9p",
        b"ceph",
        b"glusterfs",
        b"afs",
        b"davfs",
        b"ncpfs",
        b"lustre",
        b"gfs2",
        b"ocfs2",
    ];
    REMOTE.contains(&t) || t.starts_with(b"fuse.")
}

/// Every mount as this thread sees it (its own mount namespace): mount
/// point (unescaped) and file-system type. Read from procfs, which never
/// blocks; empty when it cannot be read.
pub(crate) fn mount_table() -> Vec<(std::path::PathBuf, Vec<u8>)> {
    use std::io::Read;
    use std::os::unix::ffi::OsStringExt;
    let mut text = Vec::new();
    let read = std::fs::File::open("/proc/thread-self/mountinfo")
        .and_then(|f| f.take(16 << 20).read_to_end(&mut text));
    if read.is_err() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for line in text.split(|&c| c == b'\n') {
        let fields: Vec<&[u8]> = line.split(|&c| c == b' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == b"-") else {
            continue;
        };
        let (Some(mnt), Some(fstype)) = (fields.get(4), fields.get(sep + 1)) else {
            continue;
        };
        let mnt = std::ffi::OsString::from_vec(unescape_octal(mnt));
        out.push((std::path::PathBuf::from(mnt), fstype.to_vec()));
    }
    out
}

/// Mount points of such file systems, as this thread sees them.
fn remote_mounts() -> Vec<std::path::PathBuf> {
    mount_table()
        .into_iter()
        .filter(|(_, t)| remote_type(t))
        .map(|(m, _)| m)
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
pub(crate) fn unescape_octal(m: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(m.len());
    let mut i = 0;
    while i < m.len() {
        let oct = m
            .get(i + 1..i + 4)
            .and_then(|o| std::str::from_utf8(o).ok())
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match (m[i], oct) {
            (b'\\', Some(v)) => {
                out.push(v);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Whether opening `path` would reach a FUSE or network file system. The
/// path is resolved a component at a time (links followed, at most 40), and
/// each step is compared with the mount table *before* it is looked at, so
/// the check itself never waits on such a file system.
pub fn on_remote_fs(path: &Path) -> bool {
    use std::ffi::OsString;
    use std::path::{Component, PathBuf};
    let mounts = REMOTE_MOUNTS.with(|c| {
        let mut c = c.borrow_mut();
        // A second is short next to a hunt, long next to thousands of reads.
        if c.0
            .is_none_or(|t: Instant| t.elapsed() > Duration::from_secs(1))
        {
            *c = (Some(Instant::now()), remote_mounts());
        }
        c.1.clone()
    });
    if mounts.is_empty() {
        return false;
    }
    let under = |p: &Path| mounts.iter().any(|m| p.starts_with(m));
    let mut cur = if path.is_absolute() {
        PathBuf::from("/")
    } else {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
    };
    if under(&cur) {
        return true;
    }
    let mut todo: Vec<OsString> = path
        .components()
        .rev()
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        match Path::new(&c).components().next() {
            Some(Component::RootDir) => {
                cur = PathBuf::from("/");
                continue;
            }
            Some(Component::ParentDir) => {
                cur.pop();
                continue;
            }
            Some(Component::Normal(_)) => {}
            _ => continue,
        }
        let next = cur.join(&c);
        if under(&next) {
            return true;
        }
        match std::fs::symlink_metadata(&next) {
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                let Ok(to) = std::fs::read_link(&next) else {
                    return false;
                };
                if hops > 40 {
                    return false; // the open fails with ELOOP
                }
                todo.extend(to.components().rev().map(|c| c.as_os_str().to_os_string()));
            }
            _ => cur = next,
        }
    }
    false
}

thread_local! {
    static REMOTE_MOUNTS: RefCell<(Option<Instant>, Vec<std::path::PathBuf>)> =
        const { RefCell::new((None, Vec::new())) };
}

/// Children left stuck in a read, reaped once they finish.
static ORPHANS: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

/// Exit code of the child for "not a regular file".
const NOT_REGULAR: i32 = 250;

/// What a child read: the file's size, where reading started, the bytes.
#[derive(Debug)]
pub struct ChildRead {
    pub size: u64,
    pub start: u64,
    pub bytes: Vec<u8>,
}

/// Reads at most `limit` bytes of `path` (the last ones, from a multiple of
/// `record`, when `record` is not 0 and the file is larger) in a forked
/// child, opened non-blocking and only if regular. Gives up as [`run`]
/// does; a child that does not answer is killed and left behind.
pub fn read_in_child(
    path: &Path,
    limit: u64,
    record: u64,
    cancel: Option<&CancelToken>,
    timeout: Duration,
) -> io::Result<ChildRead> {
    use std::os::unix::ffi::OsStrExt;
    let cancel = token(cancel);
    if cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
        return Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "cancelled; not read",
        ));
    }
    reap_orphans();
    let orphans = ORPHANS.lock().map(|o| o.len()).unwrap_or(0);
    if orphans >= MAX_STUCK {
        return Err(io::Error::other(format!(
            "not read: {orphans} earlier reads are still stuck in the file system"
        )));
    }
    let cpath = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
    let mut buf = vec![0u8; 64 << 10];
    let mut fds = [0; 2];
    // SAFETY: a two-element array for pipe2.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let (rfd, wfd) = (fds[0], fds[1]);
    // SAFETY: the child only makes async-signal-safe system calls on memory
    // allocated before the fork, then `_exit`s (see `child`).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: as above.
        unsafe { child(&cpath, limit, record, wfd, &mut buf) }
    }
    // SAFETY: our own descriptor.
    unsafe { libc::close(wfd) };
    if pid < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: our own descriptor.
        unsafe { libc::close(rfd) };
        return Err(e);
    }
    let out = collect(pid, rfd, &mut buf, cancel.as_ref(), timeout);
    // SAFETY: our own descriptor.
    unsafe { libc::close(rfd) };
    let data = match out {
        Ok(d) => d,
        Err(e) => {
            // SAFETY: signals our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            if let Ok(mut o) = ORPHANS.lock() {
                o.push(pid);
            }
            return Err(e);
        }
    };
    let mut status = 0;
    // SAFETY: our own child, which closed its pipe: it is exiting.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    match code {
        0 if data.len() >= 16 => Ok(ChildRead {
            size: u64::from_le_bytes(data[..8].try_into().unwrap_or_default()),
            start: u64::from_le_bytes(data[8..16].try_into().unwrap_or_default()),
            bytes: data[16..].to_vec(),
        }),
        NOT_REGULAR => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is not a regular file (not read)",
        )),
        c if c > 0 => Err(io::Error::from_raw_os_error(c)),
        _ => Err(io::Error::other("the reading process failed")),
    }
}

/// The child's side: open, check, read, write down the pipe, exit.
///
/// # Safety
/// Called right after `fork` in a multi-threaded process: only system calls,
/// no allocation, no lock, no panic.
unsafe fn child(path: &std::ffi::CStr, limit: u64, record: u64, wfd: i32, buf: &mut [u8]) -> ! {
    let errno = || unsafe { *libc::__errno_location() };
    let put = |mut b: &[u8]| {
        while !b.is_empty() {
            let n = unsafe { libc::write(wfd, b.as_ptr().cast(), b.len()) };
            if n < 0 {
                if errno() == libc::EINTR {
                    continue;
                }
                unsafe { libc::_exit(libc::EPIPE) }
            }
            b = &b[n as usize..];
        }
    };
    // Only the pipe stays open: a stuck child holding hound's stdout would
    // keep `hound ... | tee log` (or a test harness) waiting for its end.
    let w = wfd as u32;
    let below = w == 0 || libc::syscall(libc::SYS_close_range, 0u32, w - 1, 0u32) == 0;
    let above = libc::syscall(libc::SYS_close_range, w + 1, u32::MAX, 0u32) == 0;
    if !(below && above) {
        for fd in (0..4096).filter(|&fd| fd != wfd) {
            libc::close(fd);
        }
    }
    let fd = libc::open(
        path.as_ptr(),
        libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC,
    );
    if fd < 0 {
        libc::_exit(errno());
    }
    let mut st: libc::stat = std::mem::zeroed();
    if libc::fstat(fd, &mut st) != 0 {
        libc::_exit(errno());
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        libc::_exit(NOT_REGULAR);
    }
    let size = st.st_size.max(0) as u64;
    let mut start = 0u64;
    if record > 0 && size > limit {
        start = (size - limit).div_ceil(record).saturating_mul(record);
        if libc::lseek(fd, start as libc::off_t, libc::SEEK_SET) < 0 {
            libc::_exit(errno());
        }
    }
    put(&size.to_le_bytes());
    put(&start.to_le_bytes());
    let mut left = limit;
    while left > 0 {
        let want = (buf.len() as u64).min(left) as usize;
        let n = libc::read(fd, buf.as_mut_ptr().cast(), want);
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            libc::_exit(errno());
        }
        if n == 0 {
            break;
        }
        put(&buf[..n as usize]);
        left -= n as u64;
    }
    libc::_exit(0)
}

/// Reads the child's pipe to its end, unless the time runs out or the run
/// is cancelled first.
fn collect(
    _pid: libc::pid_t,
    rfd: i32,
    buf: &mut [u8],
    cancel: Option<&CancelToken>,
    timeout: Duration,
) -> io::Result<Vec<u8>> {
    let start = Instant::now();
    let mut out = Vec::new();
    loop {
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "cancelled; not read",
            ));
        }
        if start.elapsed() >= timeout {
            return Err(timed_out(timeout));
        }
        let mut p = libc::pollfd {
            fd: rfd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, 25) } <= 0 {
            continue;
        }
        // SAFETY: reads into our own buffer.
        let n = unsafe { libc::read(rfd, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return Ok(out),
            n if n < 0 => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            n => out.extend_from_slice(&buf[..n as usize]),
        }
    }
}

fn reap_orphans() {
    if let Ok(mut o) = ORPHANS.lock() {
        // SAFETY: our own children; WNOHANG never waits.
        o.retain(|&pid| unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) } == 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::fs::bounded::SOURCE_TIMEOUT;

    #[test]
    fn a_child_reads_heads_and_tails_and_refuses_fifos() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, b"0123456789").unwrap();
        let r = read_in_child(&f, 4, 0, None, SOURCE_TIMEOUT).unwrap();
        assert_eq!((r.size, r.start, r.bytes.as_slice()), (10, 0, &b"0123"[..]));
        let r = read_in_child(&f, 4, 3, None, SOURCE_TIMEOUT).unwrap();
        assert_eq!((r.start, r.bytes.as_slice()), (6, &b"6789"[..]));
        let fifo = d.path().join("p");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let e = read_in_child(&fifo, 4, 0, None, SOURCE_TIMEOUT).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = read_in_child(&d.path().join("none"), 4, 0, None, SOURCE_TIMEOUT).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(!on_remote_fs(&f));
    }
}
