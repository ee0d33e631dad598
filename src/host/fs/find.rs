//! `fs::find`, `fs::glob`, `fs::temp_files`: walking a tree with predicates.
//!
//! The walk never follows symlinks below the starting point, so a link to `/`
//! or a link loop planted by an attacker cannot take it out of the tree or
//! round in circles. Predicates that need no `lstat` (name, path, type,
//! hidden) are checked first, so a narrow search over a big tree stats only
//! what it returns.

use super::{entry, Entry, Names};
use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::text::lossless;
use std::borrow::Cow;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

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

/// `fs::find`: entries below `root` (not `root` itself) that pass `f`.
pub fn find(
    root: &Path,
    f: &Filter,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut names = Names::new(Path::new("/"));
    walk_into(root, f, &mut names, cancel, warn, &mut out)?;
    Ok(out)
}

fn walk_into(
    root: &Path,
    f: &Filter,
    names: &mut Names,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
    out: &mut Vec<Entry>,
) -> Result<()> {
    std::fs::metadata(root).map_err(|e| Error::io(lossless(root.as_os_str().as_bytes()), e))?;
    let owner = match &f.owner {
        Some(o) => Some(names.uid_of(o).ok_or_else(|| {
            Error::invalid(format!("option \"owner\": no user named {o:?}"))
                .with_hint("give a user name from /etc/passwd or a numeric uid")
        })?),
        None => None,
    };
    let limit = f.limit.unwrap_or(usize::MAX);
    let mut warns = Warnings { sink: warn, n: 0 };
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .min_depth(1)
        .max_depth(f.max_depth.max(1))
        .same_file_system(f.same_fs);
    for (i, item) in walker.into_iter().enumerate() {
        if i % 256 == 0 {
            cancel.check()?;
        }
        if out.len() >= limit {
            (warns.sink)(&format!("stopped at the limit of {limit} entries"));
            break;
        }
        let de = match item {
            Ok(de) => de,
            Err(e) => {
                let p = e
                    .path()
                    .map(|p| lossless(p.as_os_str().as_bytes()))
                    .unwrap_or_default();
                let why = e
                    .io_error()
                    .map(|io| io.to_string())
                    .unwrap_or_else(|| e.to_string());
                warns.push(|| format!("cannot read {p}: {why}"));
                continue;
            }
        };
        let ft = de.file_type();
        if !f.types.is_empty() && !f.types.contains(&super::type_name(ft)) {
            continue;
        }
        let name = os_name(de.file_name().as_bytes());
        if let Some(h) = f.hidden {
            if name.starts_with('.') != h {
                continue;
            }
        }
        if let Some(p) = &f.name {
            if !p.matches(&name) {
                continue;
            }
        }
        if let Some(p) = &f.path {
            if !p.matches(&os_name(de.path().as_os_str().as_bytes())) {
                continue;
            }
        }
        let md = match de.metadata() {
            Ok(md) => md,
            Err(e) => {
                let p = lossless(de.path().as_os_str().as_bytes());
                warns.push(|| format!("cannot stat {p}: {e}"));
                continue;
            }
        };
        if !keep(f, owner, &md) {
            continue;
        }
        out.push(entry(de.path(), &md, names));
    }
    warns.finish();
    Ok(())
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
        // `walk_into` appends to `out` and checks the limit against its
        // length, so the limit holds across the three directories.
        if let Err(e) = walk_into(&dir, &f, &mut names, cancel, warn, &mut out) {
            if e.is_cancelled() {
                return Err(e);
            }
            warn(&e.to_string());
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
