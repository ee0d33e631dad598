//! Package integrity on Debian-family systems: which package owns a file
//! (`/var/lib/dpkg/info/*.list`) and whether installed files still match
//! the md5sums dpkg recorded (`*.md5sums`). Conffiles are left out: an
//! administrator is meant to edit them. A replaced `sshd`, `ps` or
//! `pam_unix.so` (Ebury, userland rootkits) shows as `changed`.

use super::read_text;
use crate::error::{Error, Result};
use crate::host::sys::rel;
use crate::runtime::CancelToken;
use md5::{Digest, Md5};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

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

/// Path → owning package, from every `.list` file.
pub fn owners(root: &Path, warn: &mut dyn FnMut(&str)) -> Result<HashMap<String, String>> {
    check_dpkg(root)?;
    let mut map = HashMap::new();
    for (pkg, path) in stems(root, ".list")? {
        let Some(text) = read_text(&path, CAP, warn) else {
            continue;
        };
        for line in text.lines() {
            if line.starts_with('/') && line.len() > 1 {
                map.entry(line.to_string()).or_insert_with(|| pkg.clone());
            }
        }
    }
    Ok(map)
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
        let owner = owners.get(p).or_else(|| owners.get(&alt)).cloned();
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
