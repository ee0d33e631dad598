//! The case: a folder holding the append-only journal, evidence, quarantine
//! and reports. It is created lazily, on the first thing worth recording, so a
//! read-only hunt that finds nothing leaves no folder behind.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
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
        for sub in ["", "evidence", "quarantine", "reports"] {
            let p = self.dir.join(sub);
            std::fs::create_dir_all(&p).map_err(|e| Error::io(p.display(), e))?;
        }
        let path = self.dir.join(JOURNAL);
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

fn write_head(dir: &Path, seq: u64, hash: &str) -> Result<()> {
    let tmp = dir.join(".journal.head.tmp");
    let body = json!({ "seq": seq, "hash": hash }).to_string();
    let mut f = File::create(&tmp).map_err(|e| Error::io(tmp.display(), e))?;
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

/// Checks a journal: every line parses, sequence numbers follow, each entry
/// hashes to its `hash` and names its predecessor's, and the last entry is
/// the one `journal.head` recorded. Returns the number of entries.
pub fn verify(dir: &Path) -> Result<u64> {
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
    match std::fs::read_to_string(&head_path) {
        Ok(h) => {
            let h: Value = serde_json::from_str(&h)
                .map_err(|_| Error::invalid(format!("{}: unreadable", head_path.display())))?;
            // The head is replaced just after each append: a crash in between
            // leaves it one entry behind, which is not a cut.
            let head_seq = h["seq"].as_u64();
            let lagging = head_seq.is_some_and(|s| s + 2 == count)
                && h["hash"].as_str() == hashes.get(count as usize - 2).map(String::as_str);
            if !lagging
                && (h["hash"].as_str() != Some(prev.as_str())
                    || head_seq.map(|s| s + 1) != Some(count))
            {
                return Err(Error::invalid(format!(
                    "{}: the journal ends at entry {} but its head records entry {} (entries were cut off the end)",
                    path.display(),
                    count as i64 - 1,
                    h["seq"]
                )));
            }
        }
        Err(_) if count == 0 => {}
        Err(_) => {
            return Err(Error::invalid(format!(
                "{}: missing (cannot tell whether entries were cut)",
                head_path.display()
            )))
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let h = json!({ "seq": 1, "hash": entry_hash(&serde_json::from_str(lines[1]).unwrap()) });
        std::fs::write(d.join(HEAD), h.to_string()).unwrap();
        assert_eq!(verify(&d).unwrap(), 3);
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
