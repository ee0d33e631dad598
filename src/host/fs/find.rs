//! `fs::find`, `fs::glob`, `fs::temp_files`: walking a tree with predicates.
//!
//! The walk never follows symlinks below the starting point, so a link to `/`
//! or a link loop planted by an attacker cannot take it out of the tree or
//! round in circles. Predicates that need no `lstat` (name, path, type,
//! hidden) are checked first, so a narrow search over a big tree stats only
//! what it returns.

use super::walk::{self, default_threads, Walk};
use super::{entry, Entry, Names};
use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::text::lossless;
use std::borrow::Cow;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where `fs::temp_files` looks, relative to the root.
pub const TEMP_DIRS: [&str; 3] = ["tmp", "var/tmp", "dev/shm"];

/// Default and upper bound of the walk depth.
pub const DEFAULT_DEPTH: usize = 32;

/// Warnings printed one by one before the rest are only counted, so an
/// unprivileged walk over `/` does not bury the results.
const MAX_WARNINGS: usize = 20;

/// What `fs::find` keeps. Empty fields match everything.
#[derive(Debug, Clone)]
pub struct Filter {
    pub name: Option<glob::Pattern>,
    pub path: Option<glob::Pattern>,
    /// Normalised type names (`file`, `dir`, `symlink`, ...).
    pub types: Vec<&'static str>,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    /// Modified at or after this time (seconds since the epoch).
    pub modified_since: Option<i64>,
    pub executable: Option<bool>,
    /// A user name or a uid.
    pub owner: Option<String>,
    pub setuid: Option<bool>,
    pub hidden: Option<bool>,
    pub limit: Option<usize>,
    pub max_depth: usize,
    /// Stay on the file system of the starting point (`find -xdev`).
    pub same_fs: bool,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            name: None,
            path: None,
            types: Vec::new(),
            min_size: None,
            max_size: None,
            modified_since: None,
            executable: None,
            owner: None,
            setuid: None,
            hidden: None,
            limit: None,
            max_depth: DEFAULT_DEPTH,
            same_fs: false,
        }
    }
}

impl Filter {
    /// A glob for the `name` or `path` option, with the glob error in the message.
    pub fn pattern(option: &str, glob: &str) -> Result<glob::Pattern> {
        glob::Pattern::new(glob)
            .map_err(|e| Error::invalid(format!("option {option:?}: {glob:?} is not a glob: {e}")))
    }

    /// A `type` value: `file`/`f`, `dir`/`d`, `symlink`/`link`/`l`, `fifo`/`p`,
    /// `socket`/`s`, `block`/`b`, `char`/`c`.
    pub fn type_of(t: &str) -> Result<&'static str> {
        Ok(match t {
            "file" | "f" => "file",
            "dir" | "directory" | "d" => "dir",
            "symlink" | "link" | "l" => "symlink",
            "fifo" | "p" => "fifo",
            "socket" | "s" => "socket",
            "block" | "b" => "block",
            "char" | "c" => "char",
            other => {
                return Err(Error::invalid(format!(
                    "option \"type\": {other:?} is not a file type"
                ))
                .with_hint("use file, dir, symlink, fifo, socket, block or char"))
            }
        })
    }
}

/// Collects warnings, printing the first few and counting the rest.
struct Warnings<'a> {
    sink: &'a mut dyn FnMut(&str),
    n: usize,
}

impl Warnings<'_> {
    fn push(&mut self, msg: impl FnOnce() -> String) {
        self.n += 1;
        if self.n <= MAX_WARNINGS {
            (self.sink)(&msg());
        }
    }
    fn finish(self) {
        if self.n > MAX_WARNINGS {
            (self.sink)(&format!(
                "{} more unreadable paths not shown",
                self.n - MAX_WARNINGS
            ));
        }
    }
}

fn os_name(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(lossless(b)),
    }
}

/// One entry a walk kept: its path and type, and its `lstat` when a
/// predicate or the caller needed it.
#[derive(Debug)]
pub struct Found {
    pub path: PathBuf,
    pub kind: &'static str,
    pub md: Option<std::fs::Metadata>,
}

/// `fs::find`: entries below `root` (not `root` itself) that pass `f`,
/// with full records, sorted by path.
pub fn find(
    root: &Path,
    f: &Filter,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Entry>> {
    let mut names = Names::new(Path::new("/"));
    let found = find_found(root, f, true, cancel, warn)?;
    Ok(found
        .into_iter()
        .filter_map(|x| Some(entry(&x.path, x.md.as_ref()?, &mut names)))
        .collect())
}

/// The walk behind `fs::find`, sorted by path. `need_stat`: every kept
/// entry carries its metadata; otherwise only entries a predicate had to
/// stat do (a walk on names and types never stats).
pub fn find_found(
    root: &Path,
    f: &Filter,
    need_stat: bool,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Found>> {
    let mut names = Names::new(Path::new("/"));
    let limit = f.limit.unwrap_or(usize::MAX);
    let mut v = walk_into(root, f, need_stat, limit, &mut names, cancel, warn)?;
    v.sort_unstable_by(|a, b| {
        a.path
            .as_os_str()
            .as_bytes()
            .cmp(b.path.as_os_str().as_bytes())
    });
    Ok(v)
}

fn walk_into(
    root: &Path,
    f: &Filter,
    need_stat: bool,
    limit: usize,
    names: &mut Names,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Found>> {
    std::fs::metadata(root).map_err(|e| Error::io(lossless(root.as_os_str().as_bytes()), e))?;
    let owner = match &f.owner {
        Some(o) => Some(names.uid_of(o).ok_or_else(|| {
            Error::invalid(format!("option \"owner\": no user named {o:?}"))
                .with_hint("give a user name from /etc/passwd or a numeric uid")
        })?),
        None => None,
    };
    let filter_stats = f.min_size.is_some()
        || f.max_size.is_some()
        || f.modified_since.is_some()
        || owner.is_some()
        || f.setuid.is_some();
    let w = Walk {
        max_depth: f.max_depth.max(1),
        same_fs: f.same_fs,
        limit,
        // With a limit, one thread: which entries fill it must not depend
        // on how the threads happened to race.
        threads: if f.limit.is_some() {
            1
        } else {
            default_threads()
        },
    };
    let got = walk::walk(root, &w, cancel, |de, ft, _depth| {
        let kind = super::type_name(ft);
        if !f.types.is_empty() && !f.types.contains(&kind) {
            return Ok(None);
        }
        if f.hidden.is_some() || f.name.is_some() {
            let raw = de.file_name();
            let name = os_name(raw.as_bytes());
            if f.hidden.is_some_and(|h| name.starts_with('.') != h)
                || f.name.as_ref().is_some_and(|p| !p.matches(&name))
            {
                return Ok(None);
            }
        }
        let path = de.path();
        if let Some(p) = &f.path {
            if !p.matches(&os_name(path.as_os_str().as_bytes())) {
                return Ok(None);
            }
        }
        // Only regular files can be executable: other types pass or fail
        // that test on their type alone.
        let md = if need_stat || filter_stats || (f.executable.is_some() && ft.is_file()) {
            match de.metadata() {
                Ok(md) => {
                    if !keep(f, owner, &md) {
                        return Ok(None);
                    }
                    Some(md)
                }
                Err(e) => {
                    let p = lossless(path.as_os_str().as_bytes());
                    return Err(format!("cannot stat {p}: {e}"));
                }
            }
        } else {
            if f.executable == Some(true) {
                return Ok(None);
            }
            None
        };
        Ok(Some(Found { path, kind, md }))
    });
    cancel.check()?;
    let mut warns = Warnings { sink: warn, n: 0 };
    for m in got.warnings {
        warns.push(|| m);
    }
    if got.hit_limit && f.limit.is_some() {
        (warns.sink)(&format!("stopped at the limit of {limit} entries"));
    }
    warns.finish();
    Ok(got.items)
}

fn keep(f: &Filter, owner: Option<u32>, md: &std::fs::Metadata) -> bool {
    let mode = md.mode();
    f.min_size.is_none_or(|m| md.len() >= m)
        && f.max_size.is_none_or(|m| md.len() <= m)
        && f.modified_since.is_none_or(|t| md.mtime() >= t)
        && f.executable
            .is_none_or(|x| (md.is_file() && mode & 0o111 != 0) == x)
        && owner.is_none_or(|u| md.uid() == u)
        && f.setuid.is_none_or(|s| (mode & 0o4000 != 0) == s)
}

/// `fs::temp_files`: `find` over the usual temp directories under `root`,
/// regular files unless the filter names types.
pub fn temp_files(
    root: &Path,
    f: &Filter,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Entry>> {
    let mut f = f.clone();
    if f.types.is_empty() {
        f.types = vec!["file"];
    }
    // User names from the tree's own /etc/passwd (a mounted image's accounts).
    let mut names = Names::new(root);
    let mut out = Vec::new();
    for d in TEMP_DIRS {
        let dir = root.join(d);
        if std::fs::symlink_metadata(&dir).is_err() || f.limit.is_some_and(|l| out.len() >= l) {
            continue;
        }
        // The limit holds across the three directories.
        let left = f.limit.map_or(usize::MAX, |l| l - out.len());
        match walk_into(&dir, &f, true, left, &mut names, cancel, warn) {
            Ok(mut v) => {
                v.sort_unstable_by(|a, b| {
                    a.path
                        .as_os_str()
                        .as_bytes()
                        .cmp(b.path.as_os_str().as_bytes())
                });
                out.extend(
                    v.into_iter()
                        .filter_map(|x| Some(entry(&x.path, x.md.as_ref()?, &mut names))),
                );
            }
            Err(e) if e.is_cancelled() => return Err(e),
            Err(e) => warn(&e.to_string()),
        }
    }
    Ok(out)
}

/// `fs::glob`: the entries whose paths match a shell pattern (`*` also
/// matches names starting with a dot: hidden files are what a hunt wants).
pub fn glob(pattern: &str, cancel: &CancelToken, warn: &mut dyn FnMut(&str)) -> Result<Vec<Entry>> {
    let paths = ::glob::glob(pattern)
        .map_err(|e| Error::invalid(format!("{pattern:?} is not a glob: {e}")))?;
    let mut names = Names::new(Path::new("/"));
    let mut out = Vec::new();
    for (i, p) in paths.enumerate() {
        if i % 256 == 0 {
            cancel.check()?;
        }
        match p {
            Ok(p) => match std::fs::symlink_metadata(&p) {
                Ok(md) => out.push(entry(&p, &md, &mut names)),
                Err(e) => warn(&format!(
                    "cannot stat {}: {e}",
                    lossless(p.as_os_str().as_bytes())
                )),
            },
            Err(e) => warn(&format!(
                "cannot read {}: {}",
                lossless(e.path().as_os_str().as_bytes()),
                e.error()
            )),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(root: &Path, f: &Filter) -> (Vec<Entry>, Vec<String>) {
        let mut w = Vec::new();
        let v = find(root, f, &CancelToken::new(), &mut |m| w.push(m.to_string())).unwrap();
        (v, w)
    }

    #[test]
    fn loops_are_harmless_and_predicates_apply() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        std::fs::write(r.join("a/b/x.sh"), b"#!/bin/sh\n").unwrap();
        std::fs::write(r.join("a/.hid"), b"0123456789").unwrap();
        std::os::unix::fs::symlink(r, r.join("a/b/loop")).unwrap();
        std::os::unix::fs::symlink("/", r.join("a/root")).unwrap();
        std::fs::set_permissions(
            r.join("a/b/x.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let (all, w) = run(r, &Filter::default());
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(all.len(), 6, "{all:?}");
        let l = all.iter().find(|e| e.name == "loop").unwrap();
        assert_eq!(l.kind, "symlink");
        assert_eq!(l.link_target.as_deref(), r.to_str());

        let f = Filter {
            executable: Some(true),
            ..Filter::default()
        };
        let (v, _) = run(r, &f);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].name, "x.sh");

        let f = Filter {
            hidden: Some(true),
            min_size: Some(5),
            ..Filter::default()
        };
        assert_eq!(run(r, &f).0.len(), 1);

        let f = Filter {
            name: Some(Filter::pattern("name", "*.sh").unwrap()),
            types: vec!["file"],
            ..Filter::default()
        };
        assert_eq!(run(r, &f).0.len(), 1);
        let f = Filter {
            max_depth: 1,
            ..Filter::default()
        };
        assert_eq!(run(r, &f).0.len(), 1);
        let f = Filter {
            limit: Some(2),
            ..Filter::default()
        };
        let (v, w) = run(r, &f);
        assert_eq!(v.len(), 2);
        assert!(w[0].contains("limit"));
    }

    #[test]
    fn bad_type_and_owner_are_invalid() {
        assert!(Filter::type_of("blob").is_err());
        let f = Filter {
            owner: Some("no-such-user-xyz".into()),
            ..Filter::default()
        };
        let e = find(Path::new("/tmp"), &f, &CancelToken::new(), &mut |_| {}).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidArgument);
    }
}
