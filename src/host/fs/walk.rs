//! A parallel directory walk for `fs::find`.
//!
//! Worker threads share a stack of directories still to read; each reads a
//! whole directory, offers every entry to the caller's `keep`, and pushes
//! the subdirectories back. The type comes from the directory listing
//! (`d_type`), so a walk that filters on names and types never stats; when
//! `keep` needs the metadata, `DirEntry::metadata` stats relative to the open
//! directory (`statx(dirfd, name)`), not by re-resolving the full path.
//!
//! Symlinks are listed, never followed: a link to `/` or a loop planted by
//! an attacker cannot take the walk out of the tree.

use crate::output::lossless;
use crate::runtime::CancelToken;
use std::fs::{DirEntry, FileType};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
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

/// Walks below `root` (not `root` itself). `keep(entry, type, depth)`
/// returns `Ok(Some(item))` to keep an entry, `Ok(None)` to pass over it
/// and `Err(text)` for a warning (a stat that failed).
pub fn walk<T, K>(root: &Path, w: &Walk, cancel: &CancelToken, keep: K) -> Outcome<T>
where
    T: Send,
    K: Fn(&DirEntry, FileType, usize) -> Result<Option<T>, String> + Sync,
{
    let root_dev = if w.same_fs {
        std::fs::metadata(root).map(|m| m.dev()).ok()
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
    let work = || worker(&shared, w, root_dev, cancel, &keep);
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
    let mut items = Vec::new();
    let mut warnings = Vec::new();
    for (i, wn) in parts {
        items.extend(i);
        warnings.extend(wn);
    }
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
    root_dev: Option<u64>,
    cancel: &CancelToken,
    keep: &K,
) -> (Vec<T>, Vec<String>)
where
    K: Fn(&DirEntry, FileType, usize) -> Result<Option<T>, String>,
{
    let mut out = Vec::new();
    let mut warns = Vec::new();
    let mut subdirs: Vec<(PathBuf, usize)> = Vec::new();
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
        read_one(
            sh,
            w,
            root_dev,
            keep,
            &dir,
            depth,
            &mut out,
            &mut warns,
            &mut subdirs,
        );
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

#[allow(clippy::too_many_arguments)]
fn read_one<T, K>(
    sh: &Shared,
    w: &Walk,
    root_dev: Option<u64>,
    keep: &K,
    dir: &Path,
    depth: usize,
    out: &mut Vec<T>,
    warns: &mut Vec<String>,
    subdirs: &mut Vec<(PathBuf, usize)>,
) where
    K: Fn(&DirEntry, FileType, usize) -> Result<Option<T>, String>,
{
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            warns.push(format!(
                "cannot read {}: {e}",
                lossless(dir.as_os_str().as_bytes())
            ));
            return;
        }
    };
    let depth = depth + 1;
    for de in rd {
        if sh.stop.load(Ordering::Relaxed) {
            return;
        }
        let de = match de {
            Ok(de) => de,
            Err(e) => {
                warns.push(format!(
                    "cannot read {}: {e}",
                    lossless(dir.as_os_str().as_bytes())
                ));
                return;
            }
        };
        let ft = match de.file_type() {
            Ok(ft) => ft,
            Err(e) => {
                warns.push(format!(
                    "cannot stat {}: {e}",
                    lossless(de.path().as_os_str().as_bytes())
                ));
                continue;
            }
        };
        match keep(&de, ft, depth) {
            Ok(Some(item)) => {
                out.push(item);
                if sh.kept.fetch_add(1, Ordering::Relaxed) + 1 >= w.limit {
                    sh.stop.store(true, Ordering::Relaxed);
                    return;
                }
            }
            Ok(None) => {}
            Err(msg) => warns.push(msg),
        }
        if ft.is_dir() && depth < w.max_depth {
            if let Some(dev) = root_dev {
                match de.metadata() {
                    Ok(md) if md.dev() != dev => continue,
                    Ok(_) => {}
                    Err(e) => {
                        warns.push(format!(
                            "cannot stat {}: {e}",
                            lossless(de.path().as_os_str().as_bytes())
                        ));
                        continue;
                    }
                }
            }
            subdirs.push((de.path(), depth));
        }
    }
}
