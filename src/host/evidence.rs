//! Preserving evidence without changing it: a file is copied with its hash
//! and metadata; a process is captured as the kernel describes it, its
//! executable copied from /proc/PID/exe (which works after the file was
//! deleted from disk).

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::text::lossless;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| Error::io(path.display(), e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path.display(), e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn iso(secs: i64, nsecs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, nsecs as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_default()
}

/// Owner, mode and times as recorded beside every copy.
pub fn metadata(path: &Path) -> Result<Value> {
    let m = std::fs::symlink_metadata(path).map_err(|e| Error::io(path.display(), e))?;
    let owner = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(m.uid()))
        .ok()
        .flatten()
        .map(|u| u.name);
    Ok(json!({
        "path": lossless(path.as_os_str().as_bytes()),
        "size": m.len(),
        "mode": format!("{:04o}", m.mode() & 0o7777),
        "uid": m.uid(), "gid": m.gid(), "owner": owner,
        "mtime": iso(m.mtime(), m.mtime_nsec()),
        "atime": iso(m.atime(), m.atime_nsec()),
        "ctime": iso(m.ctime(), m.ctime_nsec()),
        "mtime_ns": [m.mtime(), m.mtime_nsec()],
        "atime_ns": [m.atime(), m.atime_nsec()],
        "symlink": m.file_type().is_symlink(),
        "link_target": std::fs::read_link(path).ok().map(|t| lossless(t.as_os_str().as_bytes())),
    }))
}

/// Copies `src` to `dst` (a new file), fsyncs it and returns its sha256.
pub fn copy_synced(src: &Path, dst: &Path) -> Result<String> {
    let mut from = File::open(src).map_err(|e| Error::io(src.display(), e))?;
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dst)
        .map_err(|e| Error::io(dst.display(), e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = from
            .read(&mut buf)
            .map_err(|e| Error::io(src.display(), e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        to.write_all(&buf[..n])
            .map_err(|e| Error::io(dst.display(), e))?;
    }
    to.sync_all().map_err(|e| Error::io(dst.display(), e))?;
    Ok(hex::encode(h.finalize()))
}

pub(crate) fn write_json(path: &Path, v: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    let mut f = File::create(path).map_err(|e| Error::io(path.display(), e))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(path.display(), e))
}

fn stamp() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%S%3f").to_string()
}

/// A part of the evidence that could not be captured, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    pub what: String,
    pub error: String,
}

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub id: String,
    pub kind: &'static str,
    pub what: String,
    pub sha256: Option<String>,
    pub stored: String,
    /// What could not be captured (empty when everything was).
    pub missing: Vec<Missing>,
    pub details: Value,
}

/// Copies a file (a symlink is recorded, not followed) into `evidence_dir`.
pub fn file(path: &Path, evidence_dir: &Path) -> Result<Manifest> {
    let meta = metadata(path)?;
    let id = format!("file-{}", stamp());
    let dir = evidence_dir.join(&id);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
    let is_link = meta["symlink"] == true;
    let sha = if is_link || !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        None
    } else {
        let name = path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "file".into());
        Some(copy_synced(path, &dir.join(name))?)
    };
    let mut details = meta;
    details["sha256"] = json!(sha);
    write_json(&dir.join("metadata.json"), &details)?;
    Ok(Manifest {
        id,
        kind: "file",
        what: lossless(path.as_os_str().as_bytes()),
        sha256: sha,
        stored: dir.display().to_string(),
        missing: vec![],
        details,
    })
}

fn read_text(path: &str) -> Option<String> {
    std::fs::read(path).ok().map(|b| lossless(&b))
}

/// Captures a process: status, cmdline, environment, executable, cwd, maps,
/// open files, sockets and the parent chain.
pub fn process(pid: i32, evidence_dir: &Path, cancel: &CancelToken) -> Result<Manifest> {
    let p = crate::host::proc::get(pid as i64)?;
    let id = format!("proc-{pid}-{}", stamp());
    let dir: PathBuf = evidence_dir.join(&id);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
    let base = format!("/proc/{pid}");
    // What could not be captured is listed, so "no evidence" and "capture
    // failed" never look the same.
    let mut missing: Vec<Missing> = Vec::new();
    let mut miss = |what: &str, error: String| {
        missing.push(Missing {
            what: what.to_string(),
            error,
        })
    };
    for name in ["status", "maps", "cmdline", "environ"] {
        let src = format!("{base}/{name}");
        match std::fs::read(&src) {
            Ok(bytes) => {
                if let Err(e) = std::fs::write(dir.join(name), bytes) {
                    miss(name, format!("{}: {e}", dir.join(name).display()));
                }
            }
            Err(e) => miss(name, format!("{src}: {e}")),
        }
    }
    // /proc/PID/exe opens the running image, even when it was deleted.
    let exe_sha = match copy_synced(Path::new(&format!("{base}/exe")), &dir.join("exe")) {
        Ok(h) => Some(h),
        Err(e) => {
            miss("exe", e.message);
            None
        }
    };
    let files = crate::host::proc::files(pid as i64).unwrap_or_else(|e| {
        miss("files", e.message);
        vec![]
    });
    let inodes: Vec<u64> = files.iter().filter_map(|f| f.inode).collect();
    let f = crate::host::net::Filter::default();
    let sockets: Vec<_> = crate::host::net::sockets(&f, cancel, &mut |_| {})
        .unwrap_or_else(|e| {
            miss("sockets", e.message);
            vec![]
        })
        .into_iter()
        .filter(|s| inodes.contains(&s.inode))
        .collect();
    let chain = crate::host::proc::ancestors(pid as i64).unwrap_or_else(|e| {
        miss("chain", e.message);
        vec![]
    });
    let environ = read_text(&format!("{base}/environ")).map(|e| {
        e.split('\0')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect::<Vec<_>>()
    });
    let details = json!({
        "process": p,
        "exe_sha256": exe_sha,
        "cwd": p.cwd,
        "files": files,
        "sockets": sockets,
        "chain": chain,
        "environ": environ,
        "missing": missing,
    });
    write_json(&dir.join("manifest.json"), &details)?;
    Ok(Manifest {
        id,
        kind: "process",
        what: format!(
            "{} (pid {pid})",
            if p.cmdline.is_empty() {
                p.name.clone()
            } else {
                p.cmdline.join(" ")
            }
        ),
        sha256: exe_sha,
        stored: dir.display().to_string(),
        missing,
        details,
    })
}
