//! Persistence removal that touches only what it must: one line of a file
//! (the exact bytes journaled, so undo puts them back byte for byte), or a
//! systemd unit with the `wants` links that start it.

use crate::error::{Error, Result};
use crate::text::lossless;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Replaces `path`'s content atomically (temp file in the same folder,
/// fsync, rename), keeping its mode and owner: a crash leaves either the old
/// file or the new one, never half of each.
pub fn replace_content(path: &Path, bytes: &[u8]) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path.display(), e))?;
    let dir = path
        .parent()
        .ok_or_else(|| Error::invalid(format!("{}: no parent folder", path.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(&name);
    tmp_name.push(format!(".hound-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| Error::io(tmp.display(), e))?;
    let written = f
        .write_all(bytes)
        .and_then(|_| {
            std::os::unix::fs::fchown(&f, Some(meta.uid()), Some(meta.gid())).or_else(|e| {
                if meta.uid() == nix::unistd::geteuid().as_raw() {
                    Ok(())
                } else {
                    Err(e)
                }
            })
        })
        .and_then(|_| f.set_permissions(meta.permissions()))
        .and_then(|_| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(tmp.display(), e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path.display(), e)
    })?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The byte range of line `n` (1-based), its newline included.
fn line_span(bytes: &[u8], n: usize) -> Option<(usize, usize)> {
    let mut start = 0;
    for (i, line) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        if i + 1 == n {
            return Some((start, start + line.len()));
        }
        start += line.len();
    }
    None
}

/// A line's text without its line ending.
fn line_text(raw: &[u8]) -> String {
    let t = raw.strip_suffix(b"\n").unwrap_or(raw);
    lossless(t.strip_suffix(b"\r").unwrap_or(t))
}

/// Whether a line read by [`read_line`] is `text`: a caller that split the
/// file on `\n` only may pass the `\r` of a CRLF line along.
pub fn same_line(found: &str, text: &str) -> bool {
    found == text.strip_suffix('\r').unwrap_or(text)
}

/// The text of line `n` (1-based), for checking a plan item.
pub fn read_line(path: &Path, n: usize) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    let (a, b) = line_span(&bytes, n)
        .ok_or_else(|| Error::invalid(format!("{}: has no line {n}", path.display())))?;
    Ok(line_text(&bytes[a..b]))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LineRemoved {
    pub path: String,
    pub line: usize,
    /// Where the bytes were, and the bytes themselves (hex: they may not be
    /// text), so undo needs nothing but this record.
    pub offset: usize,
    pub removed_hex: String,
    pub removed_text: String,
    pub sha256_before: String,
    pub sha256_after: String,
}

/// Removes exactly line `n` of `path` when it reads `text` (without its
/// line ending) and, if given, the file still hashes to `sha256`. Every
/// other byte stays as it was.
pub fn remove_line(path: &Path, n: usize, text: &str, sha256: Option<&str>) -> Result<LineRemoved> {
    // Rewriting through a symlink would replace the link with a file.
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(Error::invalid(format!(
            "{}: not a regular file (a symlink? name the file it points to); nothing removed",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    let before = sha(&bytes);
    if let Some(want) = sha256 {
        if want != before {
            return Err(Error::invalid(format!(
                "{}: changed since it was planned (sha256 {before}); nothing removed",
                path.display()
            )));
        }
    }
    let (a, b) = line_span(&bytes, n)
        .ok_or_else(|| Error::invalid(format!("{}: has no line {n}", path.display())))?;
    let found = line_text(&bytes[a..b]);
    if !same_line(&found, text) {
        return Err(Error::invalid(format!(
            "{}: line {n} reads {found:?}, not {text:?}; nothing removed",
            path.display()
        )));
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..a]);
    out.extend_from_slice(&bytes[b..]);
    replace_content(path, &out)?;
    Ok(LineRemoved {
        path: lossless(path.as_os_str().as_bytes()),
        line: n,
        offset: a,
        removed_hex: hex::encode(&bytes[a..b]),
        removed_text: found,
        sha256_before: before,
        sha256_after: sha(&out),
    })
}

/// Undoes [`remove_line`]: puts the bytes back where they were, when the
/// file is exactly as the removal left it; the result hashes as before.
pub fn restore_line(r: &LineRemoved) -> Result<()> {
    let path = Path::new(&r.path);
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    if sha(&bytes) != r.sha256_after {
        return Err(Error::invalid(format!(
            "{}: changed since the line was removed; put it back by hand: {:?}",
            r.path, r.removed_text
        )));
    }
    let removed = hex::decode(&r.removed_hex)
        .map_err(|_| Error::invalid("removed_hex: not hex".to_string()))?;
    if r.offset > bytes.len() {
        return Err(Error::invalid(format!(
            "{}: offset {} is past the end",
            r.path, r.offset
        )));
    }
    let mut out = Vec::with_capacity(bytes.len() + removed.len());
    out.extend_from_slice(&bytes[..r.offset]);
    out.extend_from_slice(&removed);
    out.extend_from_slice(&bytes[r.offset..]);
    if sha(&out) != r.sha256_before {
        return Err(Error::io_msg(format!(
            "{}: restored content does not match its hash",
            r.path
        )));
    }
    replace_content(path, &out)
}

/// Where unit files and their `*.wants` folders live.
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Link {
    pub link: String,
    pub target: String,
}

/// The `*.wants`/`*.requires` links that start `unit` (a unit file path),
/// in its own folder and the system unit folders.
pub fn unit_links(unit: &Path) -> Vec<PathBuf> {
    let Some(name) = unit.file_name() else {
        return vec![];
    };
    let mut dirs: Vec<PathBuf> = unit.parent().map(|p| p.to_path_buf()).into_iter().collect();
    for d in UNIT_DIRS {
        if !dirs.iter().any(|x| x == Path::new(d)) {
            dirs.push(PathBuf::from(d));
        }
    }
    let mut out = Vec::new();
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let sub = e.file_name();
            let s = sub.to_string_lossy();
            if !(s.ends_with(".wants") || s.ends_with(".requires") || s.ends_with(".upholds")) {
                continue;
            }
            let l = e.path().join(name);
            if std::fs::symlink_metadata(&l).is_ok_and(|m| m.file_type().is_symlink())
                && points_at(&l, unit)
            {
                out.push(l);
            }
        }
    }
    out
}

/// Whether the symlink `link` resolves to the file `unit`: a link of the
/// same name to another unit file (a package's, say) is not this unit's.
fn points_at(link: &Path, unit: &Path) -> bool {
    let Ok(t) = std::fs::read_link(link) else {
        return false;
    };
    let t = match link.parent() {
        Some(dir) if t.is_relative() => dir.join(t),
        _ => t,
    };
    match (std::fs::canonicalize(&t), std::fs::canonicalize(unit)) {
        (Ok(a), Ok(b)) => a == b,
        _ => t == unit,
    }
}

/// Whether systemd manages this host (and `systemctl` is there to ask).
pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
        && std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("systemctl").is_file()))
}

fn under_systemd(unit: &Path) -> bool {
    UNIT_DIRS.iter().any(|d| unit.starts_with(d))
}

fn systemctl(args: &[&str]) -> std::result::Result<(), String> {
    let out = std::process::Command::new("systemctl")
        .args(args)
        .output()
        .map_err(|e| format!("systemctl {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "systemctl {}: {}",
            args.join(" "),
            lossless(out.stderr.trim_ascii())
        ))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnitDisabled {
    pub unit: String,
    /// `systemctl stop` ran (systemd manages the host and the unit is in
    /// a system unit folder); its error when it failed.
    pub stopped: Option<bool>,
    pub stop_error: Option<String>,
    pub links_removed: Vec<Link>,
}

/// Stops the unit when systemd runs, then removes the links that start
/// it. The unit file itself is quarantined by the caller (so it is kept).
pub fn disable_unit(unit: &Path) -> Result<UnitDisabled> {
    let name = unit
        .file_name()
        .map(|n| lossless(n.as_bytes()))
        .ok_or_else(|| Error::invalid(format!("{}: not a unit file path", unit.display())))?;
    let (mut stopped, mut stop_error) = (None, None);
    let managed = systemd_running() && under_systemd(unit);
    if managed {
        match systemctl(&["stop", &name]) {
            Ok(()) => stopped = Some(true),
            Err(e) => {
                stopped = Some(false);
                stop_error = Some(e);
            }
        }
    }
    let mut links_removed = Vec::new();
    for l in unit_links(unit) {
        let target = std::fs::read_link(&l).map_err(|e| Error::io(l.display(), e))?;
        std::fs::remove_file(&l).map_err(|e| Error::io(l.display(), e))?;
        links_removed.push(Link {
            link: lossless(l.as_os_str().as_bytes()),
            target: lossless(target.as_os_str().as_bytes()),
        });
    }
    if managed {
        let _ = systemctl(&["daemon-reload"]);
    }
    Ok(UnitDisabled {
        unit: lossless(unit.as_os_str().as_bytes()),
        stopped,
        stop_error,
        links_removed,
    })
}

/// Undoes [`disable_unit`]'s links (the unit file is restored from the
/// quarantine first). The unit is not started again: that is for a person.
pub fn relink_unit(links: &[Link]) -> Result<()> {
    for l in links {
        let p = Path::new(&l.link);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent.display(), e))?;
        }
        if std::fs::symlink_metadata(p).is_err() {
            std::os::unix::fs::symlink(&l.target, p).map_err(|e| Error::io(p.display(), e))?;
        }
    }
    Ok(())
}

/// Removes the empty folders under `dir` (and `dir` itself when emptied),
/// deepest first: a folder that still holds anything stays.
pub fn remove_empty_dirs(dir: &Path) {
    let mut dirs: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_dir())
        .map(|e| e.into_path())
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        // Fails on a non-empty folder, which is the point.
        let _ = std::fs::remove_dir(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_goes_and_comes_back_byte_for_byte() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("crontab");
        let body = b"# m h dom mon dow command\r\n*/5 * * * * /usr/bin/backup\n@reboot /tmp/.x/b.sh \xff\n0 1 * * * /usr/bin/ok";
        std::fs::write(&f, body).unwrap();
        let before = sha(body);
        let wrong = remove_line(&f, 3, "@reboot /tmp/.x/b.sh", None).unwrap_err();
        assert!(wrong.message.contains("nothing removed"));
        assert!(same_line("# m h", "# m h\r"));
        let r = remove_line(&f, 3, "@reboot /tmp/.x/b.sh \\xff", Some(&before)).unwrap();
        assert_eq!(
            std::fs::read(&f).unwrap(),
            b"# m h dom mon dow command\r\n*/5 * * * * /usr/bin/backup\n0 1 * * * /usr/bin/ok"
        );
        restore_line(&r).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), body);
        // The last line, without a newline.
        let r = remove_line(&f, 4, "0 1 * * * /usr/bin/ok", None).unwrap();
        restore_line(&r).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), body);
        assert!(remove_line(&f, 9, "x", None).is_err());
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(remove_line(&link, 1, "# m h dom mon dow command", None).is_err());
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn a_unit_loses_its_wants_links_and_gets_them_back() {
        let d = tempfile::tempdir().unwrap();
        let unit = d.path().join("bot.service");
        std::fs::write(&unit, "[Service]\nExecStart=/tmp/b\n").unwrap();
        let wants = d.path().join("multi-user.target.wants");
        std::fs::create_dir(&wants).unwrap();
        std::os::unix::fs::symlink(&unit, wants.join("bot.service")).unwrap();
        std::os::unix::fs::symlink("/x/ok.service", wants.join("ok.service")).unwrap();
        // Same name, another unit file: not this unit's link.
        let other = d.path().join("graphical.target.wants");
        std::fs::create_dir(&other).unwrap();
        std::os::unix::fs::symlink("/lib/systemd/system/bot.service", other.join("bot.service"))
            .unwrap();
        let r = disable_unit(&unit).unwrap();
        assert_eq!(r.links_removed.len(), 1);
        assert!(std::fs::symlink_metadata(wants.join("ok.service")).is_ok());
        assert!(std::fs::symlink_metadata(other.join("bot.service")).is_ok());
        assert!(std::fs::symlink_metadata(wants.join("bot.service")).is_err());
        relink_unit(&r.links_removed).unwrap();
        assert_eq!(std::fs::read_link(wants.join("bot.service")).unwrap(), unit);
    }
}
