//! `fs::yara`: the walk of `fs::find` (no symlink followed, same filters),
//! with the reading and scanning spread over a few threads: on a tree of
//! small files the time goes into open/read, which the kernel serves in
//! parallel.

use super::{blank, convert, params, path_text, Bounds, Match, Rules};
use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::host::fs::{Filter, Names};
use boreal::scanner::ScanError;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

/// Warnings shown one by one before the rest are only counted.
const MAX_WARNINGS: usize = 20;

enum Out {
    Matches(Vec<Match>),
    Warn(String),
}

struct Warns<'a> {
    sink: &'a mut dyn FnMut(&str),
    n: usize,
}

impl Warns<'_> {
    fn push(&mut self, msg: &str) {
        self.n += 1;
        if self.n <= MAX_WARNINGS {
            (self.sink)(msg);
        }
    }
    fn finish(&mut self) {
        if self.n > MAX_WARNINGS {
            (self.sink)(&format!(
                "{} more warnings not shown",
                self.n - MAX_WARNINGS
            ));
        }
    }
}

/// The predicates of `fs::find` that need the file's metadata.
fn keep(f: &Filter, owner: Option<u32>, md: &std::fs::Metadata) -> bool {
    let mode = md.mode();
    f.min_size.is_none_or(|m| md.len() >= m)
        && f.max_size.is_none_or(|m| md.len() <= m)
        && f.modified_since.is_none_or(|t| md.mtime() >= t)
        && f.executable.is_none_or(|x| (mode & 0o111 != 0) == x)
        && owner.is_none_or(|u| md.uid() == u)
        && f.setuid.is_none_or(|s| (mode & 0o4000 != 0) == s)
}

/// Kernel pseudo-files a walk from above leaves out: /proc and /sys, and
/// /dev but for /dev/shm (a favourite drop folder). Reading them scans
/// nothing an attacker wrote, and some reads block or cost. Named as the
/// target itself, they are scanned.
fn pseudo(p: &Path) -> bool {
    p == Path::new("/proc")
        || p == Path::new("/sys")
        || (p.parent() == Some(Path::new("/dev")) && p != Path::new("/dev/shm"))
}

/// Expands the target: a file, a folder (walked), or a glob of either.
fn roots(target: &Path) -> Result<Vec<PathBuf>> {
    let s = target.to_string_lossy();
    if s.contains(['*', '?', '[']) && !target.exists() {
        let g = glob::glob(&s).map_err(|e| Error::invalid(format!("{s:?} is not a glob: {e}")))?;
        return Ok(g.filter_map(|p| p.ok()).collect());
    }
    std::fs::symlink_metadata(target).map_err(|e| Error::io(path_text(target), e))?;
    Ok(vec![target.to_path_buf()])
}

/// Sends the files to scan, in walk order. Returns how many were sent.
#[allow(clippy::too_many_arguments)]
fn walk(
    roots: &[PathBuf],
    f: &Filter,
    owner: Option<u32>,
    b: &Bounds,
    start: Instant,
    cancel: &CancelToken,
    tx: &mpsc::SyncSender<(PathBuf, u64)>,
    warns: &mut dyn FnMut(String),
) -> Result<usize> {
    let mut sent = 0usize;
    let limit = f.limit.unwrap_or(usize::MAX);
    for root in roots {
        let walker = walkdir::WalkDir::new(root)
            .follow_links(false)
            .max_depth(f.max_depth.max(1))
            .same_file_system(f.same_fs);
        let walker = walker
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !pseudo(e.path()));
        for (i, item) in walker.enumerate() {
            if i % 256 == 0 {
                cancel.check()?;
                if b.total.is_some_and(|t| start.elapsed() > t) {
                    warns(format!(
                        "stopped at the total time bound ({} s): files after {sent} were not scanned",
                        b.total.map_or(0, |t| t.as_secs())
                    ));
                    return Ok(sent);
                }
            }
            let de = match item {
                Ok(de) => de,
                Err(e) => {
                    let p = e.path().map(path_text).unwrap_or_default();
                    let why = e
                        .io_error()
                        .map_or_else(|| e.to_string(), |io| io.to_string());
                    warns(format!("cannot read {p}: {why}"));
                    continue;
                }
            };
            if !de.file_type().is_file() {
                continue;
            }
            // A file given by name is scanned whatever its name; a walk filters.
            if de.depth() > 0 {
                let name = de.file_name().to_string_lossy();
                if f.hidden.is_some_and(|h| name.starts_with('.') != h)
                    || f.name.as_ref().is_some_and(|p| !p.matches(&name))
                    || f.path
                        .as_ref()
                        .is_some_and(|p| !p.matches(&de.path().to_string_lossy()))
                {
                    continue;
                }
            }
            let md = match de.metadata() {
                Ok(md) => md,
                Err(e) => {
                    warns(format!("cannot stat {}: {e}", path_text(de.path())));
                    continue;
                }
            };
            if !keep(f, owner, &md) {
                continue;
            }
            if md.len() > b.max_file_size {
                warns(format!(
                    "{}: skipped, {} bytes is over the max_file_size bound of {}",
                    path_text(de.path()),
                    md.len(),
                    b.max_file_size
                ));
                continue;
            }
            if sent >= limit {
                warns(format!("stopped at the limit of {limit} files"));
                return Ok(sent);
            }
            if tx.send((de.into_path(), md.len())).is_err() {
                return Ok(sent);
            }
            sent += 1;
        }
    }
    Ok(sent)
}

fn scan_one(rules: &Rules, b: &Bounds, path: &Path, size: u64, buf: &mut Vec<u8>) -> Out {
    let name = path_text(path);
    buf.clear();
    let read = std::fs::File::open(path).and_then(|f| {
        // The size is re-checked while reading: the file may have grown.
        f.take(b.max_file_size + 1).read_to_end(buf)
    });
    if let Err(e) = read {
        return Out::Warn(format!("cannot read {name}: {e}"));
    }
    if buf.len() as u64 > b.max_file_size {
        return Out::Warn(format!(
            "{name}: skipped, it grew past the max_file_size bound of {} (was {size})",
            b.max_file_size
        ));
    }
    let mut base = blank("file");
    base.path = Some(name.clone());
    match rules.scanner.scan_mem(buf) {
        Ok(r) => Out::Matches(convert(&rules.scanner, r, base)),
        Err((ScanError::Timeout, r)) => {
            let m = convert(&rules.scanner, r, base);
            Out::Warn(format!(
                "{name}: scan stopped at the per-file timeout ({} ms); {} rule(s) matched before it",
                b.timeout.map_or(0, |t| t.as_millis()),
                m.len()
            ))
        }
        Err((e, _)) => Out::Warn(format!("{name}: {e}")),
    }
}

/// Scans the files under `target` (a file, a folder or a glob) that pass
/// the filter. Matches come sorted by path, then rule.
pub fn scan_files(
    rules: &Rules,
    target: &Path,
    f: &Filter,
    b: &Bounds,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Match>> {
    let start = Instant::now();
    let roots = roots(target)?;
    let owner = match &f.owner {
        Some(o) => Some(Names::new(Path::new("/")).uid_of(o).ok_or_else(|| {
            Error::invalid(format!("option \"owner\": no user named {o:?}"))
                .with_hint("give a user name from /etc/passwd or a numeric uid")
        })?),
        None => None,
    };
    let mut rules_scanner = rules.scanner.clone();
    rules_scanner.set_scan_params(params(b.timeout));
    let rules = &Rules {
        scanner: rules_scanner,
        files: Vec::new(),
        count: rules.count,
        memory_unfit: Vec::new(),
        warnings: Vec::new(),
    };
    let (tx, rx) = mpsc::sync_channel::<(PathBuf, u64)>(1024);
    let rx = std::sync::Mutex::new(rx);
    let (otx, orx) = mpsc::channel::<Out>();
    let mut warns = Warns { sink: warn, n: 0 };
    let mut out = Vec::new();
    let walked = std::thread::scope(|s| {
        for _ in 0..b.threads.max(1) {
            let otx = otx.clone();
            let rx = &rx;
            s.spawn(move || {
                let mut buf = Vec::new();
                loop {
                    let next = rx.lock().ok().and_then(|r| r.recv().ok());
                    let Some((path, size)) = next else { break };
                    if cancel.is_cancelled() || b.total.is_some_and(|t| start.elapsed() > t) {
                        continue; // drain: the walker reports the bound
                    }
                    let o = scan_one(rules, b, &path, size, &mut buf);
                    if matches!(&o, Out::Matches(m) if m.is_empty()) {
                        continue;
                    }
                    if otx.send(o).is_err() {
                        break;
                    }
                }
            });
        }
        drop(otx);
        let mut pending = Vec::new();
        let r = walk(&roots, f, owner, b, start, cancel, &tx, &mut |w| {
            pending.push(w)
        });
        drop(tx);
        for w in pending {
            warns.push(&w);
        }
        for o in orx.iter() {
            match o {
                Out::Matches(m) => out.extend(m),
                Out::Warn(w) => warns.push(&w),
            }
        }
        r
    });
    warns.finish();
    walked?;
    cancel.check()?;
    out.sort_by(|a, b| (&a.path, &a.rule).cmp(&(&b.path, &b.rule)));
    Ok(out)
}
