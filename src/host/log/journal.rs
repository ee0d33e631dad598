//! A minimal reader of systemd journal files (the on-disk format documented
//! in systemd's docs/JOURNAL_FILE_FORMAT.md): it walks the objects of each
//! file in order and turns ENTRY objects into `AuthEvent`s. Only what the
//! records need is decoded. The `sdjournal` crate needs Rust 1.96, newer
//! than this crate's MSRV, hence this reader.
//!
//! Walking objects rather than following entry arrays also recovers entries
//! from files left `online` by a crash. Sequence numbers are checked across
//! files: a jump means entries were deleted (`gap` record, T1070.002).

use super::auth::{classify, gap, iso, AuthEvent, AuthOpts, Gaps};
use crate::error::{Error, Result};
use crate::output::lossless;
use crate::runtime::CancelToken;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const SIGNATURE: &[u8; 8] = b"LPKSHHRH";
const INCOMPAT_COMPACT: u32 = 16;
const OBJ_DATA: u8 = 1;
const OBJ_ENTRY: u8 = 3;
const OBJ_COMPRESSED: u8 = 1 | 2 | 4;

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// `*.journal` and `*.journal~` under the journal folders of `root`.
pub fn journal_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in ["var/log/journal", "run/log/journal"] {
        let base = root.join(d);
        let Ok(rd) = std::fs::read_dir(&base) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = vec![base.clone()];
        dirs.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        for dir in dirs {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let n = e.file_name();
                let n = n.to_string_lossy();
                if n.ends_with(".journal") || n.ends_with(".journal~") {
                    out.push(e.path());
                }
            }
        }
    }
    out.sort();
    out
}

/// The fields of one entry the records use.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    ident: Option<String>,
    comm: Option<String>,
    pid: Option<i64>,
    syslog_pid: Option<i64>,
    host: Option<String>,
}

/// `FIELD` and `value` of a DATA object, borrowed from the file.
type KeyValue<'a> = (&'a [u8], &'a [u8]);

/// One entry as read, before classification.
struct Entry {
    seqnum: u64,
    seqnum_id: [u8; 16],
    boot_id: [u8; 16],
    realtime: u64,
    f: Fields,
    file: String,
}

/// Reads the entries of one file. A compressed field is skipped with one
/// warning per file (journald compresses only payloads over 512 bytes).
fn read_file(
    path: &Path,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
    all: bool,
    out: &mut Vec<Entry>,
) -> Result<()> {
    let name = path.display().to_string();
    let b = std::fs::read(path).map_err(|e| Error::io(&name, e))?;
    let bad = |what: &str| Error::invalid(format!("{name}: not a journal file ({what})"));
    if b.get(..8) != Some(SIGNATURE) {
        return Err(bad("signature"));
    }
    let incompat = u32_at(&b, 12).ok_or_else(|| bad("header"))?;
    let compact = incompat & INCOMPAT_COMPACT != 0;
    let mut seqnum_id = [0u8; 16];
    seqnum_id.copy_from_slice(b.get(72..88).ok_or_else(|| bad("header"))?);
    let header_size = u64_at(&b, 88).ok_or_else(|| bad("header"))? as usize;
    let arena = u64_at(&b, 96).ok_or_else(|| bad("header"))? as usize;
    let end = header_size.saturating_add(arena).min(b.len());
    let mut cache: HashMap<usize, Option<KeyValue>> = HashMap::new();
    let mut compressed = 0u64;
    let mut off = header_size;
    let mut n = 0u64;
    while off + 16 <= end {
        let typ = b[off];
        let size = u64_at(&b, off + 8).unwrap_or(0) as usize;
        if size < 16 || off.saturating_add(size) > end {
            break; // a torn tail of a file written when the host died
        }
        if typ == OBJ_ENTRY {
            n += 1;
            if n % 4096 == 0 {
                cancel.check()?;
            }
            let obj = &b[off..off + size];
            let seqnum = u64_at(obj, 16).unwrap_or(0);
            let realtime = u64_at(obj, 24).unwrap_or(0);
            let mut boot_id = [0u8; 16];
            if let Some(id) = obj.get(40..56) {
                boot_id.copy_from_slice(id);
            }
            let (item, start) = if compact { (4, 64) } else { (16, 64) };
            let mut f = Fields::default();
            let mut i = start;
            while i + item <= obj.len() {
                let doff = if compact {
                    u32_at(obj, i).map(|v| v as usize)
                } else {
                    u64_at(obj, i).map(|v| v as usize)
                };
                i += item;
                let Some(doff) = doff else { break };
                let kv = *cache
                    .entry(doff)
                    .or_insert_with(|| data_payload(&b, doff, compact, &mut compressed));
                if let Some((k, v)) = kv {
                    set_field(&mut f, k, v);
                }
            }
            // Large journals hold millions of entries: keep the text only
            // of those that become records.
            if !all {
                let prog = f.ident.as_deref().or(f.comm.as_deref()).unwrap_or("");
                if classify(prog, f.message.as_deref().unwrap_or("")).is_none() {
                    (f.message, f.ident, f.comm) = (None, None, None);
                }
            }
            out.push(Entry {
                seqnum,
                seqnum_id,
                boot_id,
                realtime,
                f,
                file: name.clone(),
            });
        }
        off += (size + 7) & !7;
    }
    if compressed > 0 {
        warn(&format!(
            "{name}: {compressed} compressed fields skipped (long messages)"
        ));
    }
    Ok(())
}

/// `FIELD=value` of the DATA object at `off`, only for the fields kept.
fn data_payload<'a>(
    b: &'a [u8],
    off: usize,
    compact: bool,
    compressed: &mut u64,
) -> Option<(&'a [u8], &'a [u8])> {
    if *b.get(off)? != OBJ_DATA {
        return None;
    }
    let size = u64_at(b, off + 8)? as usize;
    let start = off + if compact { 72 } else { 64 };
    let payload = b.get(start..off.checked_add(size)?)?;
    let eq = payload.iter().position(|&c| c == b'=')?;
    let key = &payload[..eq];
    if !matches!(
        key,
        b"MESSAGE" | b"SYSLOG_IDENTIFIER" | b"_COMM" | b"_PID" | b"SYSLOG_PID" | b"_HOSTNAME"
    ) {
        return None;
    }
    if b[off + 1] & OBJ_COMPRESSED != 0 {
        *compressed += 1;
        return None;
    }
    Some((key, &payload[eq + 1..]))
}

fn set_field(f: &mut Fields, k: &[u8], v: &[u8]) {
    let s = || lossless(v);
    match k {
        b"MESSAGE" => f.message = Some(s()),
        b"SYSLOG_IDENTIFIER" => f.ident = Some(s()),
        b"_COMM" => f.comm = Some(s()),
        b"_PID" => f.pid = s().parse().ok(),
        b"SYSLOG_PID" => f.syslog_pid = s().parse().ok(),
        b"_HOSTNAME" => f.host = Some(s()),
        _ => {}
    }
}

/// Holes in the sequence numbers, checked in sequence order (the clock may
/// step back; the counter does not). journald numbers the system and user
/// journals from one counter, and a user's files can be vacuumed apart from
/// the system's, so with user journals present a hole is `missing` (a low
/// gap) rather than `deleted`.
fn seq_holes(entries: &mut [Entry], user_files: bool) -> Vec<AuthEvent> {
    entries.sort_by(|a, b| a.seqnum_id.cmp(&b.seqnum_id).then(a.seqnum.cmp(&b.seqnum)));
    let mut out = Vec::new();
    for w in entries.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if a.seqnum_id != b.seqnum_id || b.seqnum <= a.seqnum + 1 {
            continue;
        }
        let t = |e: &Entry| DateTime::<Utc>::from_timestamp_micros(e.realtime as i64);
        let (Some(ta), Some(tb)) = (t(a), t(b)) else {
            continue;
        };
        out.push(gap(
            ta,
            a.f.host.as_deref().unwrap_or(""),
            if user_files { "missing" } else { "deleted" },
            format!(
                "{} journal entries missing (sequence {} to {}, {} to {})",
                b.seqnum - a.seqnum - 1,
                a.seqnum + 1,
                b.seqnum - 1,
                iso(ta),
                iso(tb)
            ),
            &b.file,
            b.seqnum as i64,
        ));
    }
    out
}

/// `log::journal`: authentication events of the journal files (every entry
/// with `all`), oldest first, with `gap` records for silences and for
/// sequence numbers that jump (deleted entries or files).
pub fn read_journal(
    opts: &AuthOpts,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<AuthEvent>> {
    let files = if opts.paths.is_empty() {
        journal_files(&opts.root)
    } else {
        opts.paths.clone()
    };
    if files.is_empty() {
        return Err(Error::not_found(format!(
            "no journal files under {} or {}",
            opts.root.join("var/log/journal").display(),
            opts.root.join("run/log/journal").display()
        ))
        .with_hint("on a syslog host use log::auth()"));
    }
    let mut entries = Vec::new();
    let user_files = files.iter().any(|f| {
        f.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("user-"))
    });
    for f in &files {
        if let Err(e) = read_file(f, cancel, warn, opts.all, &mut entries) {
            warn(&e.message);
        }
    }
    let mut out = seq_holes(&mut entries, user_files);
    entries.sort_by_key(|e| e.realtime);
    let mut gaps = Gaps::new(opts.gap_secs);
    let mut last_boot: Option<[u8; 16]> = None;
    for (i, e) in entries.into_iter().enumerate() {
        if i % 4096 == 0 {
            cancel.check()?;
        }
        let Some(t) = DateTime::<Utc>::from_timestamp_micros(e.realtime as i64) else {
            continue;
        };
        let host = e.f.host.clone().unwrap_or_default();
        // Silences are measured on time only: rotation across files is not
        // a hole in the journal, a missing sequence number is.
        if last_boot.is_some_and(|b| b != e.boot_id) {
            gaps.reset();
        }
        last_boot = Some(e.boot_id);
        gaps.see(t, &host, "", 0);
        let time = iso(t);
        if opts.since.as_ref().is_some_and(|s| time < *s) {
            continue;
        }
        let program = e.f.ident.or(e.f.comm).unwrap_or_default();
        let message = e.f.message.unwrap_or_default();
        let c = classify(&program, &message);
        if c.is_none() && !opts.all {
            continue;
        }
        let c = c.unwrap_or_default();
        out.push(AuthEvent {
            time,
            host,
            kind: if c.kind.is_empty() { "other" } else { c.kind }.into(),
            user: c.user,
            source_ip: c.source_ip,
            method: c.method,
            program,
            pid: e.f.syslog_pid.or(e.f.pid),
            message,
            file: e.file,
            line: e.seqnum as i64,
        });
    }
    out.extend(gaps.out);
    if let Some(s) = &opts.since {
        out.retain(|e| e.time >= *s || e.kind != "gap");
    }
    out.sort_by(|a, b| a.time.cmp(&b.time));
    Ok(out)
}
