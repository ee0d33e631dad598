//! A parallel directory walk for `fs::find`.
//!
//! Worker threads share a stack of directories still to read; each reads a
//! whole directory with `getdents64` into its own buffer, offers every entry
//! to the caller's `keep` as borrowed bytes (no allocation per entry: a walk
//! over 100,000 names that keeps 10,000 builds 10,000 paths), and pushes the
//! subdirectories back. The type comes from the directory listing
//! (`d_type`), so a walk that filters on names and types never stats; when
//! `keep` needs the metadata, [`Ent::stat`] stats relative to the open
//! directory (`fstatat(dirfd, name)`), not by re-resolving the full path.
//!
//! Symlinks are listed, never followed: a link to `/` or a loop planted by
//! an attacker cannot take the walk out of the tree. Directories below the
//! root are opened with `O_NOFOLLOW`, so one swapped for a link between the
//! listing and the open is refused, not followed.

use crate::output::lossless;
use crate::runtime::CancelToken;
use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

pub struct Walk {
    /// Entries deeper than this are not listed (1: the root's children).
    pub max_depth: usize,
    /// Stay on the root's file system (`find -xdev`).
    pub same_fs: bool,
    /// Stop after this many kept entries.
    pub limit: usize,
    pub threads: usize,
}

/// What the walk gives back: kept items (in no particular order), the
/// problems met on the way, and whether it stopped at the limit.
pub struct Outcome<T> {
    pub items: Vec<T>,
    pub warnings: Vec<String>,
    pub hit_limit: bool,
}

/// An `lstat` result: the fields `fs::find` filters on and reports.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub mode: u32,
    pub size: u64,
    pub uid: u32,
    pub gid: u32,
    pub dev: u64,
    pub mtime: i64,
    pub ctime: i64,
    pub atime: i64,
}

impl Stat {
    pub fn from_metadata(md: &std::fs::Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt;
        Stat {
            mode: md.mode(),
            size: md.len(),
            uid: md.uid(),
            gid: md.gid(),
            dev: md.dev(),
            mtime: md.mtime(),
            ctime: md.ctime(),
            atime: md.atime(),
        }
    }

    fn from_libc(st: &libc::stat) -> Stat {
        Stat {
            mode: st.st_mode,
            size: st.st_size as u64,
            uid: st.st_uid,
            gid: st.st_gid,
            dev: st.st_dev,
            mtime: st.st_mtime,
            ctime: st.st_ctime,
            atime: st.st_atime,
        }
    }

    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }

    /// The `type` field (`file`, `dir`, `symlink`, ...).
    pub fn kind(&self) -> &'static str {
        kind_of_mode(self.mode)
    }
}

fn kind_of_mode(mode: u32) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFLNK => "symlink",
        libc::S_IFDIR => "dir",
        libc::S_IFREG => "file",
        libc::S_IFIFO => "fifo",
        libc::S_IFSOCK => "socket",
        libc::S_IFBLK => "block",
        libc::S_IFCHR => "char",
        _ => "unknown",
    }
}

fn kind_of_dtype(t: u8) -> Option<&'static str> {
    Some(match t {
        libc::DT_LNK => "symlink",
        libc::DT_DIR => "dir",
        libc::DT_REG => "file",
        libc::DT_FIFO => "fifo",
        libc::DT_SOCK => "socket",
        libc::DT_BLK => "block",
        libc::DT_CHR => "char",
        _ => return None, // DT_UNKNOWN: the file system does not say
    })
}

/// `lstat` of `name` relative to the open directory `dirfd`.
fn stat_at(dirfd: RawFd, name: &CStr) -> io::Result<Stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `name` is NUL-terminated, `st` is writable; fstatat fills
    // it completely when it returns 0.
    let r = unsafe {
        libc::fstatat(
            dirfd,
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: initialised by the successful fstatat above.
    Ok(Stat::from_libc(unsafe { &*st.as_ptr() }))
}

/// One directory entry, borrowed from the listing buffer.
pub struct Ent<'a> {
    dir: &'a Path,
    dirfd: RawFd,
    name: &'a CStr,
    /// The entry's type (`file`, `dir`, `symlink`, ...).
    pub kind: &'static str,
    stat: Option<Stat>,
}

impl Ent<'_> {
    /// The entry's name, as the directory stores it.
    pub fn name(&self) -> &[u8] {
        self.name.to_bytes()
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(OsStr::from_bytes(self.name()))
    }

    /// `lstat`, relative to the open directory (no path resolution).
    pub fn stat(&self) -> io::Result<Stat> {
        match self.stat {
            Some(s) => Ok(s),
            None => stat_at(self.dirfd, self.name),
        }
    }
}

struct Shared {
    /// Directories still to read, and how many workers are reading one.
    state: Mutex<(Vec<(PathBuf, usize)>, usize)>,
    wake: Condvar,
    stop: AtomicBool,
    kept: AtomicUsize,
}

/// Threads for a walk: one per core, and at least four, since a walk over
/// a cold cache waits on the disk and more reads in flight keep it busy;
/// at most eight (directory reads contend on the file system's locks).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(4, 8)
}

/// Walks below `root` (not `root` itself). `keep(entry)` returns
/// `Ok(Some(item))` to keep an entry, `Ok(None)` to pass over it and
/// `Err(text)` for a warning (a stat that failed). The items come back
/// sorted by `order`: each worker sorts its share while the others still
/// do theirs, and one merge of those runs follows.
pub fn walk<T, K, O>(root: &Path, w: &Walk, cancel: &CancelToken, order: O, keep: K) -> Outcome<T>
where
    T: Send,
    K: Fn(&Ent) -> Result<Option<T>, String> + Sync,
    O: Fn(&T, &T) -> std::cmp::Ordering + Sync,
{
    let root_dev = if w.same_fs {
        std::fs::metadata(root)
            .map(|m| {
                use std::os::unix::fs::MetadataExt;
                m.dev()
            })
            .ok()
    } else {
        None
    };
    let shared = Shared {
        state: Mutex::new((vec![(root.to_path_buf(), 0)], 0)),
        wake: Condvar::new(),
        stop: AtomicBool::new(false),
        kept: AtomicUsize::new(0),
    };
    let threads = w.threads.max(1);
    let work = || {
        let (mut items, warns) = worker(&shared, w, root, root_dev, cancel, &keep);
        items.sort_unstable_by(&order);
        (items, warns)
    };
    let mut parts: Vec<(Vec<T>, Vec<String>)> = Vec::with_capacity(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        parts.push(work());
        for h in handles {
            match h.join() {
                Ok(p) => parts.push(p),
                Err(_) => parts.push((Vec::new(), vec!["a walker thread panicked".into()])),
            }
        }
    });
    let mut items = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum());
    let mut warnings = Vec::new();
    for (i, wn) in parts {
        items.extend(i);
        warnings.extend(wn);
    }
    // Sorted runs, one per worker: the stable sort finds and merges them.
    items.sort_by(&order);
    let hit_limit = items.len() >= w.limit;
    items.truncate(w.limit);
    Outcome {
        items,
        warnings,
        hit_limit,
    }
}

fn worker<T, K>(
    sh: &Shared,
    w: &Walk,
    root: &Path,
    root_dev: Option<u64>,
    cancel: &CancelToken,
    keep: &K,
) -> (Vec<T>, Vec<String>)
where
    K: Fn(&Ent) -> Result<Option<T>, String>,
{
    let mut out = Vec::new();
    let mut warns = Vec::new();
    let mut subdirs: Vec<(PathBuf, usize)> = Vec::new();
    // u64s: getdents64 records are 8-byte aligned in an aligned buffer.
    let mut buf = vec![0u64; 4096];
    loop {
        // Take a directory, or wait until another worker pushes some; when
        // none is queued and none is being read, the walk is over.
        let (dir, depth) = {
            let Ok(mut st) = sh.state.lock() else {
                break;
            };
            loop {
                if sh.stop.load(Ordering::Relaxed) {
                    st.0.clear();
                }
                if let Some(d) = st.0.pop() {
                    st.1 += 1;
                    break d;
                }
                if st.1 == 0 {
                    sh.wake.notify_all();
                    return (out, warns);
                }
                st = match sh.wake.wait(st) {
                    Ok(s) => s,
                    Err(_) => return (out, warns),
                };
            }
        };
        if cancel.is_cancelled() {
            sh.stop.store(true, Ordering::Relaxed);
        }
        let mut r = Reader {
            sh,
            w,
            root_dev,
            keep,
            out: &mut out,
            warns: &mut warns,
            subdirs: &mut subdirs,
        };
        if let Err(e) = r.read_one(&dir, dir == root, depth, &mut buf) {
            warns.push(format!(
                "cannot read {}: {e}",
                lossless(dir.as_os_str().as_bytes())
            ));
        }
        if let Ok(mut st) = sh.state.lock() {
            st.1 -= 1;
            let more = !subdirs.is_empty();
            st.0.append(&mut subdirs);
            // New work for the idle, or the end of the walk for all of them.
            if more || st.1 == 0 {
                sh.wake.notify_all();
            }
        }
    }
    (out, warns)
}

struct Reader<'a, T, K> {
    sh: &'a Shared,
    w: &'a Walk,
    root_dev: Option<u64>,
    keep: &'a K,
    out: &'a mut Vec<T>,
    warns: &'a mut Vec<String>,
    subdirs: &'a mut Vec<(PathBuf, usize)>,
}

impl<T, K> Reader<'_, T, K>
where
    K: Fn(&Ent) -> Result<Option<T>, String>,
{
    /// Lists one directory; an error is one to open or read it.
    fn read_one(
        &mut self,
        dir: &Path,
        is_root: bool,
        depth: usize,
        buf: &mut [u64],
    ) -> io::Result<()> {
        let c = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
        // The root may be a link the caller named; nothing below it is followed.
        let nofollow = if is_root { 0 } else { libc::O_NOFOLLOW };
        // SAFETY: plain open(2) of a NUL-terminated path; checked below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | nofollow,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let depth = depth + 1;
        let bytes = std::mem::size_of_val(buf);
        loop {
            // SAFETY: the buffer is writable for `bytes` bytes; the kernel
            // writes whole records and returns how many bytes it wrote.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    fd.as_raw_fd(),
                    buf.as_mut_ptr(),
                    bytes,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if n == 0 {
                return Ok(());
            }
            // SAFETY: the first n bytes were written by the kernel above.
            let data = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) };
            if !self.entries(dir, fd.as_raw_fd(), depth, data) {
                return Ok(());
            }
        }
    }

    /// Offers the records of one getdents64 batch; false when the walk stops.
    fn entries(&mut self, dir: &Path, dirfd: RawFd, depth: usize, data: &[u8]) -> bool {
        // struct linux_dirent64: d_ino u64, d_off i64, d_reclen u16,
        // d_type u8, d_name NUL-terminated.
        let mut off = 0;
        while off + 19 < data.len() {
            let reclen = u16::from_ne_bytes([data[off + 16], data[off + 17]]) as usize;
            if reclen == 0 || off + reclen > data.len() {
                break;
            }
            let dtype = data[off + 18];
            let rec = &data[off + 19..off + reclen];
            off += reclen;
            let Ok(name) = CStr::from_bytes_until_nul(rec) else {
                continue;
            };
            let nb = name.to_bytes();
            if nb == b"." || nb == b".." {
                continue;
            }
            if self.sh.stop.load(Ordering::Relaxed) {
                return false;
            }
            let mut ent = Ent {
                dir,
                dirfd,
                name,
                kind: "unknown",
                stat: None,
            };
            ent.kind = match kind_of_dtype(dtype) {
                Some(k) => k,
                None => match stat_at(dirfd, name) {
                    Ok(s) => {
                        ent.stat = Some(s);
                        s.kind()
                    }
                    Err(e) => {
                        self.warns.push(format!(
                            "cannot stat {}: {e}",
                            lossless(ent.path().as_os_str().as_bytes())
                        ));
                        continue;
                    }
                },
            };
            match (self.keep)(&ent) {
                Ok(Some(item)) => {
                    self.out.push(item);
                    if self.sh.kept.fetch_add(1, Ordering::Relaxed) + 1 >= self.w.limit {
                        self.sh.stop.store(true, Ordering::Relaxed);
                        return false;
                    }
                }
                Ok(None) => {}
                Err(msg) => self.warns.push(msg),
            }
            if ent.kind == "dir" && depth < self.w.max_depth {
                if let Some(dev) = self.root_dev {
                    match ent.stat() {
                        Ok(s) if s.dev != dev => continue,
                        Ok(_) => {}
                        Err(e) => {
                            self.warns.push(format!(
                                "cannot stat {}: {e}",
                                lossless(ent.path().as_os_str().as_bytes())
                            ));
                            continue;
                        }
                    }
                }
                self.subdirs.push((ent.path(), depth));
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_entry_of_a_big_directory_once() {
        // More names than one getdents64 batch holds.
        let d = tempfile::tempdir().unwrap();
        for i in 0..3000 {
            std::fs::write(
                d.path().join(format!("a-rather-long-file-name-{i:05}")),
                b"",
            )
            .unwrap();
        }
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/x"), b"").unwrap();
        let w = Walk {
            max_depth: 8,
            same_fs: true,
            limit: usize::MAX,
            threads: 3,
        };
        let got = walk(d.path(), &w, &CancelToken::new(), Ord::cmp, |e| {
            Ok(Some((e.path(), e.kind)))
        });
        assert!(got.warnings.is_empty(), "{:?}", got.warnings);
        let v = got.items;
        assert!(v.windows(2).all(|p| p[0] < p[1]), "sorted, no duplicates");
        assert_eq!(v.len(), 3002);
        assert!(v.contains(&(d.path().join("sub"), "dir")));
        assert!(v.contains(&(d.path().join("sub/x"), "file")));
    }
}
