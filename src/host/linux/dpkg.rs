//! Package integrity on Debian-family systems: which package owns a file
//! (`/var/lib/dpkg/info/*.list`) and whether installed files still match
//! the md5sums dpkg recorded (`*.md5sums`). Conffiles are left out: an
//! administrator is meant to edit them. A replaced `sshd`, `ps` or
//! `pam_unix.so` (Ebury, userland rootkits) shows as `changed`.

use super::read_text;
use crate::error::{Error, Result};
use crate::host::fs::read::read_system;
use crate::host::sys::rel;
use crate::runtime::CancelToken;
use md5::{Digest, Md5};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

const INFO: &str = "var/lib/dpkg/info";
/// A `.list` or `.md5sums` file larger than this is not a dpkg record.
const CAP: u64 = 64 << 20;

/// A file that does not match its package.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Mismatch {
    /// The package (`package` is a reserved word in Rhai).
    pub pkg: String,
    /// Absolute path on the inspected system.
    pub path: String,
    /// `changed` or `missing` (or `unreadable`).
    pub status: String,
    pub expected_md5: String,
    pub actual_md5: Option<String>,
}

/// Whether this root has a dpkg database; an RPM-only root is `unsupported`.
pub fn check_dpkg(root: &Path) -> Result<()> {
    if rel(root, INFO).is_dir() {
        return Ok(());
    }
    if rel(root, "var/lib/rpm").is_dir() || rel(root, "usr/lib/sysimage/rpm").is_dir() {
        return Err(Error::unsupported(
            "RPM package verification is not supported (this is an RPM system)",
        )
        .with_hint("run `rpm -Va` on the host and read its output with log:: or fs::"));
    }
    Err(Error::not_found(format!(
        "{}: no dpkg database",
        rel(root, INFO).display()
    )))
}

/// Package names and their info file stems (`coreutils`, `libc6:amd64`).
fn stems(root: &Path, ext: &str) -> Result<Vec<(String, std::path::PathBuf)>> {
    let dir = rel(root, INFO);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).map_err(|e| Error::io(dir.display(), e))? {
        let Ok(e) = e else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(ext) {
            let pkg = stem.split(':').next().unwrap_or(stem).to_string();
            out.push((pkg, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Every path the dpkg database lists, with its package: the one reader of
/// `info/*.list` (package owners for hunts, the quarantine guard, planned
/// actions). Paths are kept as bytes, so a name that is not UTF-8 is found
/// as itself and never through a lossy look-alike.
#[derive(Debug, Default)]
pub struct Owners {
    listed: HashMap<Box<[u8]>, u32>,
    /// `dpkg-divert`: both names of a diverted file belong to a package.
    diverted: HashMap<Box<[u8]>, u32>,
    names: Vec<String>,
}

/// What a loaded database was read from: the `info` folder's and the
/// diversions file's change times. dpkg replaces lists by renaming, which
/// changes the folder, so an install or removal during a long session
/// (the REPL) is seen on the next look-up.
type Stamp = Option<[i64; 6]>;

fn stamp(dpkg: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let info = std::fs::metadata(dpkg.join("info")).ok()?;
    let div = std::fs::metadata(dpkg.join("diversions"));
    let (ds, dn) = div.map_or((0, 0), |m| (m.ctime(), m.ctime_nsec()));
    Some([
        info.ctime(),
        info.ctime_nsec(),
        info.mtime(),
        info.mtime_nsec(),
        ds,
        dn,
    ])
}

impl Owners {
    /// Reads `info/*.list` and `diversions` under a dpkg database folder
    /// (`/var/lib/dpkg`), each through the bounded reader (no FIFO, a size
    /// cap, a time limit). An unreadable list is a warning; a folder without
    /// a database gives an empty set.
    pub fn load(dpkg: &Path, warn: &mut dyn FnMut(&str)) -> Owners {
        use std::os::unix::ffi::OsStrExt;
        let mut o = Owners::default();
        let info = dpkg.join("info");
        let Ok(rd) = std::fs::read_dir(&info) else {
            return o;
        };
        let mut lists: Vec<(Vec<u8>, std::path::PathBuf)> = rd
            .flatten()
            .filter_map(|e| {
                let n = e.file_name();
                let stem = n.as_bytes().strip_suffix(b".list")?.to_vec();
                Some((stem, e.path()))
            })
            .collect();
        // Sorted, so that a path two packages list has a stable owner.
        lists.sort();
        for (stem, path) in lists {
            let text = match read_system(&path, CAP, warn) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    warn(&format!(
                        "{}: {e}",
                        crate::text::lossless(path.as_os_str().as_bytes())
                    ));
                    continue;
                }
            };
            let pkg = stem.split(|&c| c == b':').next().unwrap_or(&stem);
            let idx = o.names.len() as u32;
            o.names.push(crate::text::lossless(pkg));
            for line in text.split(|&c| c == b'\n') {
                if line.starts_with(b"/") && line.len() > 1 {
                    o.listed.entry(line.into()).or_insert(idx);
                }
            }
        }
        if let Ok(text) = read_system(&dpkg.join("diversions"), CAP, warn) {
            let lines: Vec<&[u8]> = text.split(|&c| c == b'\n').collect();
            for c in lines.chunks(3).filter(|c| c.len() == 3) {
                let idx = o.names.len() as u32;
                // ":" is a diversion the administrator made, not a package's.
                let by: &[u8] = if c[2] == b":" {
                    b"local diversion"
                } else {
                    c[2]
                };
                o.names.push(crate::text::lossless(by));
                o.diverted.entry(c[0].into()).or_insert(idx);
                o.diverted.entry(c[1].into()).or_insert(idx);
            }
        }
        o
    }

    /// The database of `root` (`/` live, or a mounted image), read on first
    /// use and then shared: every caller of a run asks the same folder, and
    /// reading some thousand lists each time cost seconds. Reloaded when
    /// dpkg changed the database since. Fails (`not_found`, `unsupported`)
    /// where [`check_dpkg`] does.
    pub fn of_root(root: &Path, warn: &mut dyn FnMut(&str)) -> Result<Arc<Owners>> {
        check_dpkg(root)?;
        Ok(Self::cached(&rel(root, "var/lib/dpkg"), warn))
    }

    /// [`Owners::load`] through the per-process cache.
    pub fn cached(dpkg: &Path, warn: &mut dyn FnMut(&str)) -> Arc<Owners> {
        type Cache = Mutex<HashMap<std::path::PathBuf, (Stamp, Arc<Owners>)>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let now = stamp(dpkg);
        let lock = |c: &'static Cache| c.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((s, o)) = lock(cache).get(dpkg) {
            if *s == now && now.is_some() {
                return o.clone();
            }
        }
        // Loaded outside the lock: two first callers may both read, and
        // neither waits on the other's slow disk.
        let o = Arc::new(Owners::load(dpkg, warn));
        lock(cache).insert(dpkg.to_path_buf(), (now, o.clone()));
        o
    }

    /// How many paths the lists name.
    pub fn len(&self) -> usize {
        self.listed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// The package whose list names `path`, also under its merged-/usr
    /// alias (dpkg may list `/bin/ls` while the file is reached as
    /// `/usr/bin/ls`, or the reverse).
    pub fn owner(&self, path: &[u8]) -> Option<&str> {
        Self::find(&self.listed, path)
            .and_then(|i| self.names.get(i as usize))
            .map(String::as_str)
    }

    /// [`Owners::owner`], or the package that diverted `path` (either name
    /// of a `dpkg-divert`): what must not be removed.
    pub fn owner_or_diverter(&self, path: &[u8]) -> Option<&str> {
        Self::find(&self.listed, path)
            .or_else(|| Self::find(&self.diverted, path))
            .and_then(|i| self.names.get(i as usize))
            .map(String::as_str)
    }

    fn find(map: &HashMap<Box<[u8]>, u32>, b: &[u8]) -> Option<u32> {
        if let Some(i) = map.get(b) {
            return Some(*i);
        }
        let merged = [&b"/bin/"[..], b"/sbin/", b"/lib"];
        if let Some(rest) = b.strip_prefix(b"/usr") {
            if merged.iter().any(|d| rest.starts_with(d)) {
                return map.get(rest).copied();
            }
        } else if merged.iter().any(|d| b.starts_with(d)) {
            return map.get([b"/usr", b].concat().as_slice()).copied();
        }
        None
    }
}

/// Path → owning package for `root`, from the shared [`Owners`].
pub fn owners(root: &Path, warn: &mut dyn FnMut(&str)) -> Result<Arc<Owners>> {
    Owners::of_root(root, warn)
}

/// Conffiles of every package (from `*.conffiles`).
fn conffiles(root: &Path, warn: &mut dyn FnMut(&str)) -> Result<HashSet<String>> {
    let mut set = HashSet::new();
    for (_, path) in stems(root, ".conffiles")? {
        if let Some(text) = read_text(&path, CAP, warn) {
            set.extend(text.lines().map(|l| l.trim().to_string()));
        }
    }
    Ok(set)
}

fn md5_file(path: &Path, cancel: &CancelToken) -> std::io::Result<String> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut f = std::fs::File::open(path)?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        if cancel.is_cancelled() {
            return Err(std::io::Error::other("cancelled"));
        }
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Options of [`verify`].
#[derive(Debug, Clone, Default)]
pub struct VerifyOpts {
    /// Only these packages (empty: all).
    pub packages: Vec<String>,
    /// Only files under these absolute prefixes (empty: all).
    pub paths: Vec<String>,
}

/// Files that differ from what dpkg installed. Symlinked paths are
/// resolved by dpkg's own rule: the recorded path is checked as written.
pub fn verify(
    root: &Path,
    o: &VerifyOpts,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Mismatch>> {
    check_dpkg(root)?;
    let conf = conffiles(root, warn)?;
    let mut out = Vec::new();
    for (pkg, list) in stems(root, ".md5sums")? {
        cancel.check()?;
        if !o.packages.is_empty() && !o.packages.contains(&pkg) {
            continue;
        }
        let Some(text) = read_text(&list, CAP, warn) else {
            continue;
        };
        for line in text.lines() {
            let Some((sum, file)) = line.split_once("  ") else {
                continue;
            };
            let abs = format!("/{}", file.trim_start_matches('/'));
            if conf.contains(&abs) {
                continue;
            }
            if !o.paths.is_empty() && !o.paths.iter().any(|p| abs.starts_with(p.as_str())) {
                continue;
            }
            let on_disk = rel(root, &abs);
            let (status, actual) = match md5_file(&on_disk, cancel) {
                Ok(m) if m == sum => continue,
                Ok(m) => ("changed", Some(m)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => ("missing", None),
                Err(e) => {
                    cancel.check()?;
                    warn(&format!("{}: {e}", on_disk.display()));
                    ("unreadable", None)
                }
            };
            out.push(Mismatch {
                pkg: pkg.clone(),
                path: abs,
                status: status.into(),
                expected_md5: sum.to_string(),
                actual_md5: actual,
            });
        }
    }
    Ok(out)
}

/// What dpkg says of one file.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileStatus {
    pub path: String,
    pub pkg: Option<String>,
    /// `unchanged`, `changed`, `missing`, `unowned`, `unknown` (owned, but
    /// dpkg keeps no checksum for it) or `no_dpkg`.
    pub status: String,
    pub conffile: bool,
}

/// Conffile checksums from `/var/lib/dpkg/status` (` /path md5` lines).
fn conffile_sums(root: &Path, warn: &mut dyn FnMut(&str)) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Some(text) = read_text(&rel(root, "var/lib/dpkg/status"), CAP, warn) else {
        return out;
    };
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("Conffiles:") {
            inside = true;
            continue;
        }
        if inside && line.starts_with(' ') {
            let mut f = line.split_whitespace();
            if let (Some(p), Some(sum)) = (f.next(), f.next()) {
                out.insert(p.to_string(), sum.to_string());
            }
        } else {
            inside = false;
        }
    }
    out
}

/// For each path: its package and whether it still matches what dpkg
/// installed, so a hunt can leave an untouched packaged file alone and
/// report a changed one. Conffiles are checked against the status file.
pub fn status_of(
    root: &Path,
    paths: &[String],
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<FileStatus>> {
    if check_dpkg(root).is_err() {
        return Ok(paths
            .iter()
            .map(|p| FileStatus {
                path: p.clone(),
                pkg: None,
                status: "no_dpkg".into(),
                conffile: false,
            })
            .collect());
    }
    let owners = owners(root, warn)?;
    let conf = conffile_sums(root, warn);
    let mut sums_of: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut out = Vec::new();
    for p in paths {
        cancel.check()?;
        let alt = match p.strip_prefix("/usr") {
            Some(rest) => rest.to_string(),
            None => format!("/usr{p}"),
        };
        let owner = owners.owner(p.as_bytes()).map(str::to_string);
        let Some(pkg) = owner else {
            out.push(FileStatus {
                path: p.clone(),
                pkg: None,
                status: "unowned".into(),
                conffile: false,
            });
            continue;
        };
        let expected = if let Some(s) = conf.get(p).or_else(|| conf.get(&alt)) {
            Some((s.clone(), true))
        } else {
            let sums = sums_of.entry(pkg.clone()).or_insert_with(|| {
                let mut m = HashMap::new();
                for (name, file) in stems(root, ".md5sums").unwrap_or_default() {
                    if name != pkg {
                        continue;
                    }
                    if let Some(t) = read_text(&file, CAP, &mut |_| {}) {
                        for l in t.lines() {
                            if let Some((s, f)) = l.split_once("  ") {
                                m.insert(format!("/{}", f.trim_start_matches('/')), s.to_string());
                            }
                        }
                    }
                }
                m
            });
            sums.get(p)
                .or_else(|| sums.get(&alt))
                .map(|s| (s.clone(), false))
        };
        let (status, conffile) = match expected {
            None => ("unknown", false),
            Some((sum, cf)) => match md5_file(&rel(root, p), cancel) {
                Ok(m) if m == sum => ("unchanged", cf),
                Ok(_) => ("changed", cf),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => ("missing", cf),
                Err(_) => ("unknown", cf),
            },
        };
        out.push(FileStatus {
            path: p.clone(),
            pkg: Some(pkg),
            status: status.into(),
            conffile,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn one_loader_bytes_diversions_and_reload() {
        let t = tempfile::tempdir().unwrap();
        let dpkg = t.path().join("var/lib/dpkg");
        std::fs::create_dir_all(dpkg.join("info")).unwrap();
        std::fs::write(
            dpkg.join("info/a:amd64.list"),
            b"/.\n/usr/bin/a\n/opt/bad\xff\n",
        )
        .unwrap();
        // A list planted as a FIFO is a warning, not a hang.
        let fifo = std::ffi::CString::new(dpkg.join("info/f.list").as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        std::fs::write(dpkg.join("diversions"), "/bin/sh\n/bin/sh.distrib\n:\n").unwrap();
        let mut warnings = Vec::new();
        let o = Owners::of_root(t.path(), &mut |w| warnings.push(w.to_string())).unwrap();
        assert!(
            warnings.iter().any(|w| w.contains("f.list")),
            "{warnings:?}"
        );
        assert_eq!(o.owner(b"/bin/a"), Some("a"));
        assert_eq!(o.owner(b"/opt/bad\xff"), Some("a"));
        assert_eq!(o.owner("/opt/bad\u{fffd}".as_bytes()), None);
        assert_eq!(o.owner(b"/usr/bin/sh"), None);
        assert_eq!(o.owner_or_diverter(b"/usr/bin/sh"), Some("local diversion"));
        // Cached: the same load, until dpkg changes the database.
        let again = Owners::of_root(t.path(), &mut |_| {}).unwrap();
        assert!(Arc::ptr_eq(&o, &again));
        std::fs::remove_file(dpkg.join("info/f.list")).unwrap();
        std::fs::write(dpkg.join("info/b.list"), "/usr/sbin/b\n").unwrap();
        // Within one clock tick the folder's times may not move; dpkg's
        // runs are seconds apart, a test's writes are not.
        let old = nix::sys::time::TimeSpec::new(1, 0);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &dpkg.join("info"),
            &old,
            &old,
            nix::sys::stat::UtimensatFlags::FollowSymlink,
        )
        .unwrap();
        let fresh = Owners::of_root(t.path(), &mut |_| {}).unwrap();
        assert_eq!(fresh.owner(b"/usr/sbin/b"), Some("b"));
        assert!(Owners::of_root(&t.path().join("none"), &mut |_| {}).is_err());
    }
}
