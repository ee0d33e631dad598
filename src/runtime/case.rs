//! The case: a folder holding the append-only journal, evidence, quarantine
//! and reports. It is created lazily, on the first thing worth recording, so a
//! read-only hunt that finds nothing leaves no folder behind.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const JOURNAL: &str = "journal.jsonl";
/// The last entry's seq and hash, replaced atomically after each append, so
/// cutting whole entries off the end of the journal is detected too.
pub const HEAD: &str = "journal.head";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub severity: String,
    pub title: String,
    #[serde(default)]
    pub details: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitre: Option<String>,
}

pub const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];

/// Where the case lives and what it holds so far.
pub struct CaseState {
    /// Chosen folder (`--case DIR`) or the default one, created on first write.
    pub dir: PathBuf,
    opened: bool,
    journal: Option<File>,
    prev_hash: String,
    seq: u64,
    /// Findings recorded in this run (across `case::open` switches): what
    /// `hound run`'s exit status reflects.
    pub findings: Vec<Finding>,
    /// Findings in this case folder's journal, earlier runs included: what
    /// `case::current()` counts.
    pub case_findings: Vec<Finding>,
}

/// The default case folder: `/var/lib/hound/cases/<timestamp>-<host>` as root,
/// else under the user's data directory.
pub fn default_case_dir() -> PathBuf {
    let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S");
    let host = hostname();
    let base = if nix::unistd::Uid::effective().is_root() {
        PathBuf::from("/var/lib/hound/cases")
    } else {
        dirs::data_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("hound/cases")
    };
    base.join(format!("{stamp}-{host}"))
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

fn user() -> String {
    let uid = nix::unistd::Uid::effective();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

/// sha256 over the entry's canonical JSON, without its own `hash` field.
pub fn entry_hash(entry: &Value) -> String {
    let mut e = entry.clone();
    if let Some(m) = e.as_object_mut() {
        m.remove("hash");
    }
    hex::encode(Sha256::digest(e.to_string().as_bytes()))
}

impl CaseState {
    pub fn new(dir: PathBuf) -> Self {
        CaseState {
            dir,
            opened: false,
            journal: None,
            prev_hash: String::new(),
            seq: 0,
            findings: Vec::new(),
            case_findings: Vec::new(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.opened
    }

    /// Creates the folder layout and reopens an existing journal, continuing
    /// its hash chain (a case may span several runs).
    pub fn open(&mut self) -> Result<&Path> {
        if self.opened {
            return Ok(&self.dir);
        }
        secure_case_dir(&self.dir)?;
        let path = self.dir.join(JOURNAL);
        if !path.exists() {
            // A new journal starts with a head too: a journal emptied and
            // its head deleted is then not an empty case.
            store_head(
                &self.dir,
                json!({ "seq": null, "hash": "", "pending": null }),
            )?;
        }
        if path.exists() {
            let f = File::open(&path).map_err(|e| Error::io(path.display(), e))?;
            for line in BufReader::new(f).lines() {
                let line = line.map_err(|e| Error::io(path.display(), e))?;
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    self.prev_hash = v["hash"].as_str().unwrap_or_default().to_string();
                    self.seq = v["seq"].as_u64().unwrap_or(self.seq) + 1;
                    if v["primitive"] == "case::finding" {
                        if let Ok(f) = serde_json::from_value::<Finding>(v["args"].clone()) {
                            self.case_findings.push(f);
                        }
                    }
                }
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| Error::io(path.display(), e))?;
        // A crash mid-write leaves a partial last line: start on a fresh one
        // so new entries stay readable (verify still names the damaged line).
        let partial = std::fs::read(&path).is_ok_and(|b| b.last().is_some_and(|c| *c != b'\n'));
        if partial {
            writeln!(file).map_err(|e| Error::io(path.display(), e))?;
        }
        self.journal = Some(file);
        self.opened = true;
        Ok(&self.dir)
    }

    /// Appends one entry, flushed and fsynced before returning, so an action
    /// that follows is never unrecorded.
    pub fn append(
        &mut self,
        primitive: &str,
        args: Value,
        result: Value,
        undo: Option<Value>,
        dry_run: bool,
    ) -> Result<()> {
        self.append_tagged(primitive, None, args, result, undo, dry_run)
            .map(|_| ())
    }

    /// Appends one entry of an action (`tag`: its `kind`, `intent` or
    /// `outcome`, and the `action_id` that pairs them). Returns its seq.
    pub fn append_tagged(
        &mut self,
        primitive: &str,
        tag: Option<(&str, &str)>,
        args: Value,
        result: Value,
        undo: Option<Value>,
        dry_run: bool,
    ) -> Result<u64> {
        self.open()?;
        let mut entry = json!({
            "seq": self.seq,
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "host": hostname(),
            "user": user(),
            "primitive": primitive,
            "args": args,
            "result": result,
            "undo": undo,
            "dry_run": dry_run,
            "prev": self.prev_hash,
        });
        if let Some((kind, action_id)) = tag {
            entry["kind"] = json!(kind);
            entry["action_id"] = json!(action_id);
        }
        let hash = entry_hash(&entry);
        entry["hash"] = Value::String(hash.clone());
        let path = self.dir.join(JOURNAL);
        write_pending(&self.dir, self.seq, &self.prev_hash, &hash)?;
        let file = self
            .journal
            .as_mut()
            .ok_or_else(|| Error::io_msg("journal is not open"))?;
        writeln!(file, "{entry}")
            .and_then(|_| file.flush())
            .and_then(|_| file.sync_all())
            .map_err(|e| Error::io(path.display(), e))?;
        self.prev_hash = hash.clone();
        self.seq += 1;
        write_head(&self.dir, self.seq - 1, &hash)?;
        Ok(self.seq - 1)
    }

    /// The seq the next entry will get (an action's id is its intent's seq).
    pub fn next_seq(&mut self) -> Result<u64> {
        self.open()?;
        Ok(self.seq)
    }

    /// Where preserved copies go (the case is opened if needed).
    pub fn evidence_dir(&mut self) -> Result<PathBuf> {
        Ok(self.open()?.join("evidence"))
    }

    pub fn quarantine_dir(&mut self) -> Result<PathBuf> {
        Ok(self.open()?.join("quarantine"))
    }

    pub fn entries(&self) -> u64 {
        self.seq
    }

    pub fn add_finding(&mut self, finding: Finding, dry_run: bool) -> Result<()> {
        let args = serde_json::to_value(&finding).unwrap_or(Value::Null);
        self.append("case::finding", args, Value::Null, None, dry_run)?;
        self.case_findings.push(finding.clone());
        self.findings.push(finding);
        Ok(())
    }
}

/// Creates the case folder, or checks an existing one, so nothing an
/// attacker prepared is used: every component is walked without following
/// links (links on the way are followed only when root owns them), the
/// folder and its sub-folders are 0700 and owned by hound's user, the folder
/// holding it cannot be written by others (unless sticky, like /tmp), and an
/// existing case holding a symlink anywhere is refused (a `quarantine` link
/// to /etc/cron.d made root write there).
fn secure_case_dir(dir: &Path) -> Result<()> {
    use nix::sys::stat::{fchmod, fstat, Mode};
    use std::os::unix::fs::PermissionsExt;
    let me = nix::unistd::Uid::effective().as_raw();
    let shown = |p: &Path| crate::output::lossless(p.as_os_str().as_encoded_bytes());
    let canon = crate::host::quarantine::canonical_parent(dir).or_else(|_| {
        // The parent may not exist yet: make it (0700 for hound's own
        // folders), then resolve again.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(shown(parent), e))?;
        }
        crate::host::quarantine::canonical_parent(dir)
    })?;
    let parent = canon.parent().unwrap_or(Path::new("/"));
    let pfd = crate::host::quarantine::open_dir(parent, false)?;
    let pst = fstat(&pfd).map_err(|e| Error::io(shown(parent), e.into()))?;
    let sticky = pst.st_mode & libc::S_ISVTX != 0;
    if (pst.st_uid != me && pst.st_uid != 0) || (pst.st_mode & 0o022 != 0 && !sticky) {
        return Err(Error::invalid(format!(
            "{}: the folder holding the case can be changed by others (owner uid {}, mode {:o}); \
             choose a case folder elsewhere",
            shown(parent),
            pst.st_uid,
            pst.st_mode & 0o7777
        )));
    }
    let existed = crate::host::quarantine::open_dir(&canon, false).is_ok();
    let fd = crate::host::quarantine::open_dir(&canon, true)?;
    let st = fstat(&fd).map_err(|e| Error::io(shown(&canon), e.into()))?;
    if st.st_uid != me {
        return Err(Error::invalid(format!(
            "{}: an existing case folder owned by uid {}, not by hound's user ({me}); refusing to use it",
            shown(&canon),
            st.st_uid
        )));
    }
    if existed {
        for e in walkdir::WalkDir::new(&canon).follow_links(false) {
            let e = e.map_err(|e| Error::io_msg(format!("{}: {e}", shown(&canon))))?;
            if e.path_is_symlink() {
                return Err(Error::invalid(format!(
                    "{}: the case folder holds a symlink ({}); refusing to use it",
                    shown(&canon),
                    shown(e.path())
                )));
            }
        }
    }
    fchmod(&fd, Mode::from_bits_truncate(0o700)).map_err(|e| Error::io(shown(&canon), e.into()))?;
    for sub in ["evidence", "quarantine", "reports"] {
        let p = canon.join(sub);
        let sfd = crate::host::quarantine::open_dir(&p, true)?;
        fchmod(&sfd, Mode::from_bits_truncate(0o700))
            .map_err(|e| Error::io(shown(&p), e.into()))?;
    }
    let _ = std::fs::set_permissions(&canon, std::fs::Permissions::from_mode(0o700));
    Ok(())
}

/// Whether a case can be kept in `dir`, checked before a run does anything
/// (otherwise the first finding would fail, after the work was done): an
/// existing `dir` must be a folder of hound's user that it can write; a new
/// one needs its nearest existing ancestor to be a writable folder. Nothing
/// is created here; the thorough checks still happen when the case opens.
pub fn preflight(dir: &Path) -> Result<()> {
    use nix::unistd::{access, AccessFlags};
    use std::os::unix::fs::MetadataExt;
    let shown = |p: &Path| {
        crate::text::escape(&crate::text::lossless(p.as_os_str().as_encoded_bytes())).into_owned()
    };
    let hint = "--case DIR (or HOUND_CASE) chooses another case folder";
    let rw = AccessFlags::W_OK | AccessFlags::X_OK;
    let me = nix::unistd::Uid::effective().as_raw();
    // The nearest path that exists: `dir` itself or an ancestor.
    let Some((at, meta)) = dir
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .find_map(|a| std::fs::metadata(a).ok().map(|m| (a, m)))
    else {
        return Ok(());
    };
    if !meta.is_dir() {
        let why = if at == dir {
            format!("case folder {}: not a folder", shown(dir))
        } else {
            format!(
                "case folder {}: {} is not a folder, so it cannot be made",
                shown(dir),
                shown(at)
            )
        };
        return Err(Error::invalid(why).with_hint(hint));
    }
    if at == dir && meta.uid() != me {
        return Err(Error::permission(format!(
            "case folder {}: owned by uid {}, not by hound's user ({me})",
            shown(dir),
            meta.uid()
        ))
        .with_hint(hint));
    }
    // The folder holding the case: opening refuses one others can change.
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Some(m) = std::fs::canonicalize(parent)
        .ok()
        .and_then(|p| std::fs::metadata(p).ok())
        .filter(|m| m.is_dir())
    {
        let sticky = m.mode() & libc::S_ISVTX != 0;
        if (m.uid() != me && m.uid() != 0) || (m.mode() & 0o022 != 0 && !sticky) {
            return Err(Error::invalid(format!(
                "case folder {}: the folder holding it can be changed by others (owner uid {}, mode {:o})",
                shown(dir),
                m.uid(),
                m.mode() & 0o7777
            ))
            .with_hint(hint));
        }
    }
    if let Err(e) = access(at, rw) {
        let why = if at == dir {
            format!(
                "case folder {}: cannot be written ({})",
                shown(dir),
                e.desc()
            )
        } else {
            format!(
                "case folder {}: cannot be made, {} cannot be written ({})",
                shown(dir),
                shown(at),
                e.desc()
            )
        };
        return Err(Error::permission(why).with_hint(hint));
    }
    Ok(())
}

fn write_head(dir: &Path, seq: u64, hash: &str) -> Result<()> {
    store_head(dir, json!({ "seq": seq, "hash": hash, "pending": null }))
}

/// Before entry `seq` is appended, the head names its hash as pending: a
/// crash between the append and the new head then leaves a head that still
/// vouches for the entry, and verify never has to guess (an entry added
/// behind the head's back is not covered by anything).
fn write_pending(dir: &Path, seq: u64, prev_hash: &str, next_hash: &str) -> Result<()> {
    let head_seq = seq.checked_sub(1).map_or(Value::Null, Value::from);
    store_head(
        dir,
        json!({ "seq": head_seq, "hash": prev_hash, "pending": next_hash }),
    )
}

fn store_head(dir: &Path, mut head: Value) -> Result<()> {
    crate::runtime::anchor::seal(dir, &mut head);
    let tmp = dir.join(".journal.head.tmp");
    let body = head.to_string();
    let _ = std::fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(tmp.display(), e))?;
    f.write_all(body.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(tmp.display(), e))?;
    std::fs::rename(&tmp, dir.join(HEAD)).map_err(|e| Error::io(dir.join(HEAD).display(), e))
}

/// Reads every entry of a journal.
pub fn read_journal(dir: &Path) -> Result<Vec<Value>> {
    let path = dir.join(JOURNAL);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(path.display(), e))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// What `hound case verify` established, and against which anchor.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub entries: u64,
    /// The head's last entry (`None`: an empty journal).
    pub head_seq: Option<u64>,
    pub head_hash: String,
    /// The last entry is vouched for only by the head's pending hash: the
    /// run stopped between writing it and updating the head.
    pub crash_lag: bool,
    /// What the head was checked against (a signature, or nothing).
    pub anchor: String,
}

/// Checks a journal: every line parses, sequence numbers follow, each entry
/// hashes to its `hash` and names its predecessor's, and the last entry is
/// the one `journal.head` recorded. Returns the number of entries.
pub fn verify(dir: &Path) -> Result<u64> {
    verify_with(dir, None).map(|v| v.entries)
}

/// [`verify`], and the head's signature checked with `pubkey` when given.
/// The chain alone shows the journal is consistent, not that it is the
/// one written: root can recompute it. Only an anchor (the signature, the
/// head lines in the terminal log or a syslog) shows that.
pub fn verify_with(dir: &Path, pubkey: Option<&Path>) -> Result<Verified> {
    let path = dir.join(JOURNAL);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(path.display(), e))?;
    let bad = |n: usize, why: &str| Error::invalid(format!("{}: line {n}: {why}", path.display()));
    let mut prev = String::new();
    let mut count = 0u64;
    let mut hashes = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let n = i + 1;
        if !line.ends_with('\n') {
            return Err(bad(n, "incomplete line (the journal was cut)"));
        }
        let v: Value = serde_json::from_str(line.trim_end())
            .map_err(|_| bad(n, "not a JSON entry (edited or cut)"))?;
        if v["seq"].as_u64() != Some(count) {
            return Err(bad(
                n,
                &format!(
                    "sequence {} where {count} was expected (an entry is missing)",
                    v["seq"]
                ),
            ));
        }
        if v["prev"].as_str() != Some(prev.as_str()) {
            return Err(bad(
                n,
                "does not follow the previous entry (removed or reordered)",
            ));
        }
        let hash = v["hash"].as_str().unwrap_or_default().to_string();
        if entry_hash(&v) != hash {
            return Err(bad(n, "content does not match its hash (edited)"));
        }
        prev = hash.clone();
        hashes.push(hash);
        count += 1;
    }
    let head_path = dir.join(HEAD);
    let head_err = |why: String| Error::invalid(format!("{}: {why}", head_path.display()));
    let h: Value = match std::fs::read_to_string(&head_path) {
        Ok(h) => serde_json::from_str(&h).map_err(|_| head_err("unreadable".into()))?,
        Err(_) => {
            return Err(head_err(format!(
                "missing, with {count} journal entries (a journal always has a head: \
                 entries may have been cut, or the journal emptied)"
            )))
        }
    };
    let head_seq = match &h["seq"] {
        Value::Null => None,
        v => Some(
            v.as_u64()
                .filter(|s| *s < u64::MAX)
                .ok_or_else(|| head_err(format!("seq {v} is not an entry number")))?,
        ),
    };
    let head_hash = h["hash"].as_str().unwrap_or_default().to_string();
    let pending = h["pending"].as_str();
    let last = count.checked_sub(1);
    let hash_at = |seq: Option<u64>| -> &str {
        seq.and_then(|s| hashes.get(s as usize))
            .map(String::as_str)
            .unwrap_or("")
    };
    let crash_lag = if head_seq == last && head_hash == hash_at(last) {
        false
    } else if count > 0
        && head_seq == count.checked_sub(2)
        && head_hash == hash_at(head_seq)
        && pending == Some(hash_at(last))
    {
        true
    } else {
        let why = match (head_seq, last) {
            (Some(h), Some(l)) if h > l => format!(
                "the journal ends at entry {l} but its head records entry {h} (entries were cut off the end)"
            ),
            (Some(_), None) => {
                "the journal is empty but its head records entries (it was emptied)".to_string()
            }
            (h, Some(l)) if h.is_none_or(|h| h < l) => format!(
                "entries after {} are not covered by the head (added behind its back)",
                h.map_or("the start".to_string(), |h| format!("entry {h}"))
            ),
            _ => "the head does not match the journal's last entry (one of them was rewritten)"
                .to_string(),
        };
        return Err(Error::invalid(format!("{}: {why}", path.display())));
    };
    let anchor = crate::runtime::anchor::check(&h, pubkey)?;
    Ok(Verified {
        entries: count,
        head_seq,
        head_hash,
        crash_lag,
        anchor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflight_names_the_folder_that_cannot_hold_a_case() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        assert!(preflight(&d.path().join("new/case")).is_ok());
        assert!(preflight(d.path()).is_ok());
        let file = d.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = preflight(&file).unwrap_err();
        assert!(e.message.contains("not a folder"), "{}", e.message);
        assert!(e.message.contains("/file"), "{}", e.message);
        let e = preflight(&file.join("case")).unwrap_err();
        assert!(e.message.contains("cannot be made"), "{}", e.message);
        let open = d.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = preflight(&open.join("case")).unwrap_err();
        assert!(e.message.contains("changed by others"), "{}", e.message);
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(preflight(&open.join("case")).is_ok());
    }

    #[test]
    fn journal_chains_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = CaseState::new(dir.path().join("case"));
        c.append(
            "fw::block",
            json!({"target": "10.0.0.1"}),
            json!("ok"),
            None,
            false,
        )
        .unwrap();
        let first = c.prev_hash.clone();
        let mut again = CaseState::new(dir.path().join("case"));
        again.open().unwrap();
        assert_eq!(again.prev_hash, first);
        assert_eq!(again.seq, 1);
        again
            .append("fw::unblock", json!({}), json!("ok"), None, true)
            .unwrap();
        assert_eq!(verify(&dir.path().join("case")).unwrap(), 2);
    }

    #[test]
    fn verification_catches_edits_and_cuts() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("case");
        let mut c = CaseState::new(d.clone());
        for i in 0..3 {
            c.append("proc::kill", json!({ "pid": i }), json!("ok"), None, false)
                .unwrap();
        }
        let j = d.join(JOURNAL);
        let text = std::fs::read_to_string(&j).unwrap();
        std::fs::write(&j, text.replace("\"pid\":1", "\"pid\":7")).unwrap();
        assert!(verify(&d).unwrap_err().message.contains("line 2"));
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&j, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
        assert!(verify(&d).unwrap_err().message.contains("cut off the end"));
        std::fs::write(&j, &text[..text.len() - 5]).unwrap();
        assert!(verify(&d).unwrap_err().message.contains("incomplete line"));
        std::fs::write(&j, &text).unwrap();
        assert_eq!(verify(&d).unwrap(), 3);
        // A crash between the append and the head update is not a cut.
        let h = json!({ "seq": 1, "hash": entry_hash(&serde_json::from_str(lines[1]).unwrap()),
                        "pending": entry_hash(&serde_json::from_str(lines[2]).unwrap()) });
        std::fs::write(d.join(HEAD), h.to_string()).unwrap();
        assert_eq!(verify(&d).unwrap(), 3);
        // The same lag without the pending hash is an entry added behind
        // the head's back, never crash lag.
        let h = json!({ "seq": 1, "hash": entry_hash(&serde_json::from_str(lines[1]).unwrap()) });
        std::fs::write(d.join(HEAD), h.to_string()).unwrap();
        assert!(verify(&d).unwrap_err().message.contains("not covered"));
        std::fs::write(
            d.join(HEAD),
            json!({ "seq": 1, "hash": entry_hash(&serde_json::from_str(lines[1]).unwrap()),
                    "pending": entry_hash(&serde_json::from_str(lines[2]).unwrap()) })
            .to_string(),
        )
        .unwrap();
        std::fs::write(&j, format!("{}\n", lines[0])).unwrap();
        assert!(verify(&d).unwrap_err().message.contains("cut off the end"));
        std::fs::write(&j, &text[..text.len() - 5]).unwrap();
        // Continuing after a crash mid-write: the new entry gets its own line.
        let mut again = CaseState::new(d.clone());
        again
            .append("case::note", json!({}), json!("ok"), None, false)
            .unwrap();
        let after = std::fs::read_to_string(&j).unwrap();
        let last: Value = serde_json::from_str(after.lines().last().unwrap()).unwrap();
        assert_eq!(last["primitive"], "case::note");
        assert!(verify(&d).unwrap_err().message.contains("line 3"));
    }
}
