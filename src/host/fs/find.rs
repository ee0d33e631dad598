//! `fs::find`, `fs::glob`, `fs::temp_files`: walking a tree with predicates.
//!
//! The walk never follows symlinks below the starting point, so a link to `/`
//! or a link loop planted by an attacker cannot take it out of the tree or
//! round in circles. Predicates that need no `lstat` (name, path, type,
//! hidden) are checked first, so a narrow search over a big tree stats only
//! what it returns.

use super::walk::{self, default_threads, Stat, Walk};
use super::{entry, Entry, Names};
use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::text::lossless;
use std::borrow::Cow;
use std::os::unix::ffi::OsStrExt;
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
    /// Boxed: a walk sorts these, and most carry none.
    pub md: Option<Box<Stat>>,
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

/// The walk behind `fs::find`, sorted by path (bytewise, as `sort` in
/// the C locale). `need_stat`: every kept
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
    walk_into(root, f, need_stat, limit, &mut names, cancel, warn)
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
    let name_match = f.name.as_ref().map(NameMatch::new);
    let by_path = |a: &Found, b: &Found| {
        a.path
            .as_os_str()
            .as_bytes()
            .cmp(b.path.as_os_str().as_bytes())
    };
    let got = walk::walk(root, &w, cancel, by_path, |de| {
        let kind = de.kind;
        if !f.types.is_empty() && !f.types.contains(&kind) {
            return Ok(None);
        }
        if f.hidden.is_some_and(|h| de.name().starts_with(b".") != h)
            || name_match.as_ref().is_some_and(|m| !m.matches(de.name()))
        {
            return Ok(None);
        }
        // The path is built only for entries that got this far.
        let path = de.path();
        if let Some(p) = &f.path {
            if !p.matches(&os_name(path.as_os_str().as_bytes())) {
                return Ok(None);
            }
        }
        // Only regular files can be executable: other types pass or fail
        // that test on their type alone.
        let md = if need_stat || filter_stats || (f.executable.is_some() && kind == "file") {
            match de.stat() {
                Ok(md) => {
                    if !keep(f, owner, &md) {
                        return Ok(None);
                    }
                    Some(Box::new(md))
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

fn keep(f: &Filter, owner: Option<u32>, md: &Stat) -> bool {
    let mode = md.mode;
    f.min_size.is_none_or(|m| md.size >= m)
        && f.max_size.is_none_or(|m| md.size <= m)
        && f.modified_since.is_none_or(|t| md.mtime >= t)
        && f.executable
            .is_none_or(|x| (md.is_file() && mode & 0o111 != 0) == x)
        && owner.is_none_or(|u| md.uid == u)
        && f.setuid.is_none_or(|s| (mode & 0o4000 != 0) == s)
}

/// The `name` glob, with the shapes hunts mostly use (`*.log`, `sshd*`,
/// `*miner*`, a plain name) checked on the name's bytes; anything else,
/// and names that are not UTF-8 (matched in their `\xNN` form), go to the
/// glob matcher. With the glob crate's default options `*` matches any
/// text, a leading dot included, so these shapes are exactly its answers.
enum NameMatch<'a> {
    Exact(&'a [u8]),
    Prefix(&'a [u8]),
    Suffix(&'a [u8]),
    Contains(&'a [u8]),
    Glob(&'a glob::Pattern),
}

impl<'a> NameMatch<'a> {
    fn new(p: &'a glob::Pattern) -> Self {
        let s = p.as_str();
        let plain = |t: &str| !t.is_empty() && !t.contains(['*', '?', '[', ']']);
        let star_only = |t: &str| t.bytes().all(|b| b == b'*');
        if plain(s) {
            return NameMatch::Exact(s.as_bytes());
        }
        let lead = s.len() - s.trim_start_matches('*').len();
        let trail = s.len() - s.trim_end_matches('*').len();
        if !star_only(s) {
            let mid = &s[lead..s.len() - trail];
            if plain(mid) {
                return match (lead > 0, trail > 0) {
                    (true, true) => NameMatch::Contains(mid.as_bytes()),
                    (true, false) => NameMatch::Suffix(mid.as_bytes()),
                    (false, true) => NameMatch::Prefix(mid.as_bytes()),
                    (false, false) => NameMatch::Exact(mid.as_bytes()),
                };
            }
        }
        NameMatch::Glob(p)
    }

    fn matches(&self, name: &[u8]) -> bool {
        if let NameMatch::Glob(p) = self {
            return p.matches(&os_name(name));
        }
        // A UTF-8 name is its own text; others are matched as shown.
        if name.is_ascii() || std::str::from_utf8(name).is_ok() {
            self.on_bytes(name)
        } else {
            self.on_bytes(lossless(name).as_bytes())
        }
    }

    fn on_bytes(&self, name: &[u8]) -> bool {
        match self {
            NameMatch::Exact(t) => name == *t,
            NameMatch::Prefix(t) => name.starts_with(t),
            NameMatch::Suffix(t) => name.ends_with(t),
            NameMatch::Contains(t) => name.windows(t.len()).any(|w| w == *t),
            NameMatch::Glob(p) => p.matches(&os_name(name)),
        }
    }
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
            Ok(v) => {
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
                Ok(md) => out.push(entry(&p, &Stat::from_metadata(&md), &mut names)),
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
    fn name_shortcuts_answer_as_the_glob_does() {
        let pats = [
            "*.log", "app*", "*pp 1*", "f1.txt", "*", "**", "?", "*.[lL]og", "é*", "*\\xff", "*ff",
            "a*b", "*.", ".*", "*x*", "x", "",
        ];
        let names: [&[u8]; 14] = [
            b"a.log",
            b".log",
            b"app 12.log",
            b"f1.txt",
            b"F1.TXT",
            b"\xe9t\xc3\xa9",
            "été".as_bytes(),
            b"b\xff",
            b"bff",
            b"ab",
            b"x",
            b"xx.",
            b".hidden",
            b"a.LOG.log",
        ];
        for p in pats {
            let Ok(g) = glob::Pattern::new(p) else {
                continue;
            };
            let m = NameMatch::new(&g);
            for n in names {
                assert_eq!(
                    m.matches(n),
                    g.matches(&os_name(n)),
                    "{p:?} on {:?}",
                    String::from_utf8_lossy(n)
                );
            }
        }
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
