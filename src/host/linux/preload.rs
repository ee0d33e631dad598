//! Dynamic-linker hijacks (T1574.006): what makes every program load a
//! library of the attacker's (`/etc/ld.so.preload`, `LD_PRELOAD` in a
//! process's environment, a library folder added to `ld.so.conf.d`), and
//! libraries that processes have mapped from temp folders or deleted files
//! (Symbiote, Azazel and friends hide this way).

use super::read_text;
use crate::error::Result;
use crate::host::sys::rel;
use crate::runtime::CancelToken;
use serde::Serialize;
use std::path::Path;

const CAP: u64 = 1 << 20;

/// One way a library gets injected.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hijack {
    /// `ld.so.preload`, `ld.so.conf`, `environment` or `mapped`.
    pub kind: String,
    /// The library (or folder) named.
    pub library: String,
    /// Where it was found: a file and line, or `/proc/PID/environ|maps`.
    pub source: String,
    pub pid: Option<i32>,
    pub process: Option<String>,
    pub reason: String,
}

/// Folders the dynamic linker searches on a stock system.
const STANDARD_LIB_DIRS: &[&str] = &[
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/usr/local/lib",
    "/lib32",
    "/usr/lib32",
    "/libx32",
    "/usr/libx32",
];

fn in_temp(p: &str) -> bool {
    ["/tmp/", "/var/tmp/", "/dev/shm/", "/run/user/"]
        .iter()
        .any(|d| p.starts_with(d))
}

fn standard_dir(p: &str) -> bool {
    let p = p.trim_end_matches('/');
    STANDARD_LIB_DIRS
        .iter()
        .any(|d| p == *d || p.starts_with(&format!("{d}/")))
}

/// `/etc/ld.so.preload` and `ld.so.conf(.d)` entries.
pub fn config(root: &Path, warn: &mut dyn FnMut(&str)) -> Result<Vec<Hijack>> {
    let mut out = Vec::new();
    let preload = rel(root, "etc/ld.so.preload");
    if let Some(text) = read_text(&preload, CAP, warn) {
        for (i, line) in text.lines().enumerate() {
            // The file is whitespace- or colon-separated, comments with #.
            let line = line.split('#').next().unwrap_or("");
            for lib in line.split([' ', '\t', ':']).filter(|s| !s.is_empty()) {
                out.push(Hijack {
                    kind: "ld.so.preload".into(),
                    library: lib.into(),
                    source: format!("/etc/ld.so.preload:{}", i + 1),
                    pid: None,
                    process: None,
                    reason: "every dynamically linked program loads it".into(),
                });
            }
        }
    }
    let mut confs = vec![rel(root, "etc/ld.so.conf")];
    if let Ok(rd) = std::fs::read_dir(rel(root, "etc/ld.so.conf.d")) {
        let mut v: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        v.sort();
        confs.extend(v);
    }
    for c in confs {
        let Some(text) = read_text(&c, CAP, warn) else {
            continue;
        };
        let shown = format!("/{}", c.strip_prefix(root).unwrap_or(&c).display());
        for (i, line) in text.lines().enumerate() {
            let t = line.split('#').next().unwrap_or("").trim();
            if t.is_empty() || t.starts_with("include") || t.starts_with("hwcap") {
                continue;
            }
            if !standard_dir(t) {
                out.push(Hijack {
                    kind: "ld.so.conf".into(),
                    library: t.into(),
                    source: format!("{shown}:{}", i + 1),
                    pid: None,
                    process: None,
                    reason: if in_temp(t) {
                        "library folder in a temp folder".into()
                    } else {
                        "library folder outside the standard ones".into()
                    },
                });
            }
        }
    }
    Ok(out)
}

fn comm(pid: i32) -> Option<String> {
    std::fs::read(format!("/proc/{pid}/comm"))
        .ok()
        .map(|b| crate::output::lossless(b.trim_ascii_end()))
}

/// `LD_PRELOAD`/`LD_LIBRARY_PATH`/`LD_AUDIT` in process environments, and
/// libraries mapped from temp folders or deleted files. Live host only.
pub fn processes(cancel: &CancelToken, warn: &mut dyn FnMut(&str)) -> Result<Vec<Hijack>> {
    let mut out = Vec::new();
    let me = std::process::id() as i32;
    let mut unreadable = 0usize;
    let rd = std::fs::read_dir("/proc").map_err(|e| crate::Error::io("/proc", e))?;
    for e in rd.flatten() {
        cancel.check()?;
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let name = comm(pid);
        match std::fs::read(format!("/proc/{pid}/environ")) {
            Ok(env) => {
                for var in env.split(|b| *b == 0) {
                    let v = crate::output::lossless(var);
                    for key in ["LD_PRELOAD=", "LD_LIBRARY_PATH=", "LD_AUDIT="] {
                        if let Some(val) = v.strip_prefix(key) {
                            if val.is_empty() {
                                continue;
                            }
                            let k = key.trim_end_matches('=');
                            let suspicious = k != "LD_LIBRARY_PATH"
                                || val.split(':').any(|d| in_temp(d) || d.is_empty());
                            if suspicious {
                                out.push(Hijack {
                                    kind: "environment".into(),
                                    library: val.into(),
                                    source: format!("/proc/{pid}/environ ({k})"),
                                    pid: Some(pid),
                                    process: name.clone(),
                                    reason: format!("{k} set in the process environment"),
                                });
                            }
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => unreadable += 1,
            Err(_) => {}
        }
        let Ok(maps) = std::fs::read(format!("/proc/{pid}/maps")) else {
            continue;
        };
        let mut seen = Vec::new();
        for line in crate::output::lossless(&maps).lines() {
            // address perms offset dev inode path
            let path = line.splitn(6, ' ').nth(5).unwrap_or("").trim();
            if !path.starts_with('/') || seen.iter().any(|s: &String| s == path) {
                continue;
            }
            let is_lib = path.contains(".so");
            let deleted = path.ends_with(" (deleted)");
            let clean = path.trim_end_matches(" (deleted)");
            // A library replaced by a package upgrade is deleted but has a
            // successor at the same path: that is maintenance, not hiding.
            let reason = if is_lib && in_temp(clean) {
                "library mapped from a temp folder"
            } else if is_lib && deleted && std::fs::symlink_metadata(clean).is_err() {
                "library mapped from a deleted file"
            } else {
                continue;
            };
            seen.push(path.to_string());
            out.push(Hijack {
                kind: "mapped".into(),
                library: clean.into(),
                source: format!("/proc/{pid}/maps"),
                pid: Some(pid),
                process: name.clone(),
                reason: reason.into(),
            });
        }
    }
    if unreadable > 0 {
        warn(&format!(
            "{unreadable} process environment(s) could not be read (permission denied)"
        ));
    }
    Ok(out)
}
