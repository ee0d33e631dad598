//! Unpacking a host's result archive. The host may be compromised, so the
//! archive is attacker-made: only regular files and folders are taken, every
//! path must stay below the destination, and sizes are capped. Links,
//! devices and FIFOs are skipped with a warning instead of being recreated.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// At most this many bytes unpacked from one host's archive.
pub const MAX_TOTAL: u64 = 8 << 30;
/// At most this many entries in one archive.
pub const MAX_ENTRIES: usize = 200_000;

/// A relative path made only of normal components, or `None`.
fn safe_relative(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Unpacks a `.tar.gz` (or plain `.tar`) into `dest`, which must not exist
/// yet. Returns the warnings (entries skipped and why).
pub fn unpack(archive: &Path, dest: &Path) -> Result<Vec<String>> {
    let file = std::fs::File::open(archive).map_err(|e| Error::io(archive.display(), e))?;
    let mut magic = [0u8; 2];
    let gz = {
        let mut f = &file;
        f.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b]
    };
    let file = std::fs::File::open(archive).map_err(|e| Error::io(archive.display(), e))?;
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    std::fs::create_dir_all(dest).map_err(|e| Error::io(dest.display(), e))?;
    let mut tar = tar::Archive::new(reader);
    let mut warnings = Vec::new();
    let mut total = 0u64;
    let entries = tar.entries().map_err(|e| Error::io(archive.display(), e))?;
    for (n, entry) in entries.enumerate() {
        if n >= MAX_ENTRIES {
            warnings.push(format!("more than {MAX_ENTRIES} entries: the rest skipped"));
            break;
        }
        let mut entry = entry.map_err(|e| Error::io(archive.display(), e))?;
        let raw = entry.path().map(|p| p.into_owned()).unwrap_or_default();
        let Some(rel) = safe_relative(&raw) else {
            warnings.push(format!("{}: unsafe path, skipped", raw.display()));
            continue;
        };
        let target = dest.join(&rel);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| Error::io(target.display(), e))?;
            continue;
        }
        if !kind.is_file() {
            warnings.push(format!(
                "{}: not a regular file ({kind:?}), skipped",
                rel.display()
            ));
            continue;
        }
        let size = entry.header().size().unwrap_or(0);
        if total + size > MAX_TOTAL {
            warnings.push(format!(
                "{}: over the {MAX_TOTAL}-byte cap, skipped",
                rel.display()
            ));
            continue;
        }
        total += size;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent.display(), e))?;
            // A folder made earlier in this archive is ours; anything else
            // on the way (a link) would have been refused above.
            if std::fs::symlink_metadata(parent).is_ok_and(|m| !m.is_dir()) {
                warnings.push(format!(
                    "{}: parent is not a folder, skipped",
                    rel.display()
                ));
                continue;
            }
        }
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| Error::io(target.display(), e))?;
        std::io::copy(&mut (&mut entry).take(size), &mut out)
            .map_err(|e| Error::io(target.display(), e))?;
        // Evidence keeps its time stamps; modes are not restored (0644/0755
        // from the umask is safer than a host-chosen set-uid bit).
        if let Ok(mtime) = entry.header().mtime() {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime);
            let _ = out.set_modified(t);
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escapes_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let tarpath = dir.path().join("a.tar");
        {
            let f = std::fs::File::create(&tarpath).unwrap();
            let mut b = tar::Builder::new(f);
            let mut h = tar::Header::new_gnu();
            h.set_size(2);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h.clone(), "ok/x.txt", &b"hi"[..])
                .unwrap();
            // `append_data` refuses `..`, so write the name by hand.
            let mut evil = tar::Header::new_old();
            evil.as_old_mut().name[..9].copy_from_slice(b"../escape");
            evil.set_size(2);
            evil.set_mode(0o644);
            evil.set_entry_type(tar::EntryType::Regular);
            evil.set_cksum();
            b.append(&evil, &b"no"[..]).unwrap();
            let mut l = tar::Header::new_gnu();
            l.set_entry_type(tar::EntryType::Symlink);
            l.set_size(0);
            b.append_link(&mut l, "link", "/etc").unwrap();
            b.finish().unwrap();
        }
        let dest = dir.path().join("out");
        let w = unpack(&tarpath, &dest).unwrap();
        assert_eq!(std::fs::read(dest.join("ok/x.txt")).unwrap(), b"hi");
        assert!(!dir.path().join("escape").exists());
        assert!(!dest.join("link").exists());
        assert_eq!(w.len(), 2, "{w:?}");
    }
}
