//! Quarantine and restore on a host that fights back. The attacker may own
//! the folder being cleaned and swap any part of the path while hound works,
//! so everything happens relative to directory descriptors opened without
//! following links (`at`), the thing removed is checked to be the thing
//! stored (same inode, size and mtime), and what may be removed is decided
//! by rule (`guard`). [`plan`] is shared by the real run and `--dry-run`, so
//! both say the same.

pub mod at;
pub mod guard;

pub use at::{canonical_parent, open_dir, path_arg, unescape_lossless};
pub use guard::{packages, Packages};

use crate::error::{Error, Result};
use crate::output::lossless;
use at::{kind, kind_name, lstat_at, shown};
use nix::errno::Errno;
use nix::fcntl::{openat, renameat2, OFlag, RenameFlags};
use nix::sys::stat::{fstat, FileStat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// What a quarantine of a path would do: the same list for `--dry-run` and
/// the real run.
#[derive(Debug, Serialize)]
pub struct Plan {
    /// The path, folders resolved (see [`canonical_parent`]).
    #[serde(skip)]
    pub root: PathBuf,
    pub original: String,
    pub is_dir: bool,
    /// Files and links that would be moved (absolute, folders resolved).
    #[serde(skip)]
    pub files: Vec<PathBuf>,
    pub would_quarantine: Vec<String>,
    /// `[path, reason]` of what a folder holds that would stay.
    pub would_refuse: Vec<(String, String)>,
    /// Folders to remove once emptied, deepest first.
    #[serde(skip)]
    pub dirs: Vec<PathBuf>,
}

fn check_entry(p: &Path, st: &FileStat, case_dir: &Path) -> Result<()> {
    if !matches!(kind(st), libc::S_IFREG | libc::S_IFLNK) {
        return Err(Error::invalid(format!(
            "{}: is a {}, not a regular file or symlink; nothing moved",
            shown(p),
            kind_name(st)
        )));
    }
    guard::check(p, st, case_dir, &packages())
}

/// Decides what quarantining `path` does, refusing what the real run would
/// refuse. A single file that may not go is an error; in a folder it is an
/// entry of `would_refuse` and stays in place.
pub fn plan(path: &Path, recursive: bool, case_dir: &Path) -> Result<Plan> {
    let root = canonical_parent(path)?;
    let st = at::lstat(&root).map_err(|e| Error::io(shown(path), e.into()))?;
    let original = shown(&root);
    let mut p = Plan {
        root: root.clone(),
        original,
        is_dir: kind(&st) == libc::S_IFDIR,
        files: Vec::new(),
        would_quarantine: Vec::new(),
        would_refuse: Vec::new(),
        dirs: Vec::new(),
    };
    if !p.is_dir {
        check_entry(&root, &st, case_dir)?;
        p.would_quarantine.push(shown(&root));
        p.files.push(root);
        return Ok(p);
    }
    if !recursive {
        return Err(Error::invalid(format!(
            "{:?} is a directory; pass #{{ recursive: true }} to quarantine its files",
            shown(path)
        )));
    }
    guard::check(&root, &st, case_dir, &packages())?;
    let mut it = walkdir::WalkDir::new(&root).follow_links(false).into_iter();
    while let Some(e) = it.next() {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                let at = err.path().map(shown).unwrap_or_default();
                p.would_refuse.push((at, err.to_string()));
                continue;
            }
        };
        let Ok(st) = at::lstat(e.path()) else {
            continue;
        };
        if e.file_type().is_dir() {
            if e.depth() > 0 {
                if let Err(err) = guard::check(e.path(), &st, case_dir, &packages()) {
                    p.would_refuse.push((shown(e.path()), err.message));
                    it.skip_current_dir();
                    continue;
                }
            }
            p.dirs.push(e.path().to_path_buf());
            continue;
        }
        match check_entry(e.path(), &st, case_dir) {
            Ok(()) => {
                p.would_quarantine.push(shown(e.path()));
                p.files.push(e.path().to_path_buf());
            }
            Err(err) => p.would_refuse.push((shown(e.path()), err.message)),
        }
    }
    p.dirs
        .sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    Ok(p)
}

/// Removes the emptied folders of a recursive quarantine, deepest first,
/// each relative to its parent's descriptor. A folder still holding
/// something stays.
pub fn remove_empty_dirs(plan: &Plan) {
    for d in &plan.dirs {
        let (Some(parent), Some(name)) = (d.parent(), d.file_name()) else {
            continue;
        };
        if let Ok(fd) = open_dir(parent, false) {
            let _ = unlinkat(&fd, name, UnlinkatFlags::RemoveDir);
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Quarantined {
    pub id: String,
    pub original: String,
    pub sha256: Option<String>,
    pub size: u64,
    pub stored: String,
    pub kind: &'static str,
    /// The file grew or changed while it was being removed: the bytes kept
    /// are the last ones it held.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub changed_during_removal: bool,
}

fn failpoint(name: &str) -> Result<()> {
    // Documented for tests of crash safety: HOUND_FAILPOINT=quarantine_after_copy.
    if std::env::var("HOUND_FAILPOINT").is_ok_and(|v| v == name) {
        return Err(Error::io_msg(format!("failpoint {name} triggered")));
    }
    Ok(())
}

fn iso(secs: i64, nsecs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, nsecs as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_default()
}

/// Owner, mode and times as recorded beside every copy (the shape of
/// `evidence::metadata`), taken from the opened file.
fn metadata(path: &Path, st: &FileStat, link_target: Option<&OsStr>) -> Value {
    let owner = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(st.st_uid))
        .ok()
        .flatten()
        .map(|u| u.name);
    json!({
        "path": shown(path),
        "size": st.st_size,
        "mode": format!("{:04o}", st.st_mode & 0o7777),
        "uid": st.st_uid, "gid": st.st_gid, "owner": owner,
        "mtime": iso(st.st_mtime, st.st_mtime_nsec),
        "atime": iso(st.st_atime, st.st_atime_nsec),
        "ctime": iso(st.st_ctime, st.st_ctime_nsec),
        "mtime_ns": [st.st_mtime, st.st_mtime_nsec],
        "atime_ns": [st.st_atime, st.st_atime_nsec],
        "symlink": link_target.is_some(),
        "link_target": link_target.map(|t| lossless(t.as_bytes())),
        "link_target_hex": link_target.map(|t| hex::encode(t.as_bytes())),
    })
}

fn same_file(a: &FileStat, b: &FileStat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

fn same_content(a: &FileStat, b: &FileStat) -> bool {
    same_file(a, b)
        && a.st_size == b.st_size
        && a.st_mtime == b.st_mtime
        && a.st_mtime_nsec == b.st_mtime_nsec
}

/// Copies the whole of `src` (from its start) into a new file in `qdir`,
/// stored under its sha256. Returns the hash.
fn store(src: &mut File, qdir: &Path, tag: &str) -> Result<String> {
    src.rewind()
        .map_err(|e| Error::io("rewinding the file", e))?;
    let tmp = qdir.join(format!(".{tag}.{}.part", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(tmp.display(), e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = src
            .read(&mut buf)
            .map_err(|e| Error::io("reading the file", e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        to.write_all(&buf[..n])
            .map_err(|e| Error::io(tmp.display(), e))?;
    }
    to.sync_all().map_err(|e| Error::io(tmp.display(), e))?;
    let sha = hex::encode(h.finalize());
    let stored = qdir.join(&sha);
    if stored.exists() {
        let _ = std::fs::remove_file(&tmp);
        if crate::host::evidence::sha256_file(&stored)? != sha {
            return Err(Error::io_msg(format!(
                "{}: stored copy does not match its name; nothing removed",
                stored.display()
            )));
        }
    } else {
        std::fs::rename(&tmp, &stored).map_err(|e| Error::io(stored.display(), e))?;
    }
    Ok(sha)
}

fn fresh_id(sha: &str, original: &str, qdir: &Path) -> String {
    // Content is stored once per hash; each path gets its own record, so two
    // files with the same bytes both restore. A record of this very path (a
    // retry after a crash before removal) is reused.
    let mut id = sha.to_string();
    let mut n = 1;
    while let Ok(rec) = record(&id, qdir) {
        if rec["original"].as_str() == Some(original) {
            break;
        }
        n += 1;
        id = format!("{sha}-{n}");
    }
    id
}

fn write_record(qdir: &Path, id: &str, rec: &Value) -> Result<()> {
    crate::host::evidence::write_json(&qdir.join(format!("{id}.json")), rec)?;
    if let Ok(d) = File::open(qdir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Moves the entry `name` of `dir` aside to a private name and checks the
/// entry moved is `expect`; if something else had been put in its place, it
/// goes back and nothing is removed. Returns the private name.
fn take_aside(
    dir: &OwnedFd,
    name: &OsStr,
    expect: &FileStat,
    shown_path: &str,
) -> Result<OsString> {
    let aside = OsString::from(format!(".hound-quarantine-{}", std::process::id()));
    renameat2(
        dir,
        name,
        dir,
        aside.as_os_str(),
        RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(|e| Error::io(format!("moving {shown_path} aside"), e.into()))?;
    let moved = lstat_at(dir, &aside).map_err(|e| Error::io(shown_path, e.into()))?;
    if !same_file(&moved, expect) {
        let _ = renameat2(
            dir,
            aside.as_os_str(),
            dir,
            name,
            RenameFlags::RENAME_NOREPLACE,
        );
        return Err(Error::invalid(format!(
            "{shown_path}: was replaced by another file while it was being quarantined; nothing removed"
        )));
    }
    Ok(aside)
}

/// Moves one file (or symlink, kept as a link) into `qdir`: copy, verify,
/// fsync, record, and only then remove the original. `path` should come
/// from [`plan`] (absolute, folders resolved).
pub fn quarantine(path: &Path, qdir: &Path, case_dir: &Path) -> Result<Quarantined> {
    quarantine_hooked(path, qdir, case_dir, &mut || {})
}

/// [`quarantine`] with `race` called between the copy and the removal, where
/// an attacker would act (tests use it to replay the attacks).
pub fn quarantine_hooked(
    path: &Path,
    qdir: &Path,
    case_dir: &Path,
    race: &mut dyn FnMut(),
) -> Result<Quarantined> {
    let shown_path = shown(path);
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(Error::invalid(format!("{shown_path}: names no file")));
    };
    std::fs::create_dir_all(qdir).map_err(|e| Error::io(qdir.display(), e))?;
    let dir = open_dir(parent, false)?;
    let st = lstat_at(&dir, name).map_err(|e| Error::io(&shown_path, e.into()))?;
    // The rules again, on what the descriptor walk reached.
    check_entry(path, &st, case_dir)?;
    let original_hex = hex::encode(path.as_os_str().as_bytes());
    let now = chrono::Utc::now();
    if kind(&st) == libc::S_IFLNK {
        let target =
            nix::fcntl::readlinkat(&dir, name).map_err(|e| Error::io(&shown_path, e.into()))?;
        let id = format!("link-{}", now.format("%Y%m%dT%H%M%S%6f"));
        let meta = metadata(path, &st, Some(&target));
        let rec = json!({ "id": id, "original": shown_path, "original_hex": original_hex,
                          "sha256": null, "kind": "symlink", "metadata": meta,
                          "quarantined_at": now.to_rfc3339() });
        write_record(qdir, &id, &rec)?;
        failpoint("quarantine_after_copy")?;
        race();
        let aside = take_aside(&dir, name, &st, &shown_path)?;
        unlinkat(&dir, aside.as_os_str(), UnlinkatFlags::NoRemoveDir)
            .map_err(|e| Error::io(format!("removing {shown_path}"), e.into()))?;
        return Ok(Quarantined {
            stored: qdir.join(&id).display().to_string(),
            id,
            original: shown_path,
            sha256: None,
            size: st.st_size as u64,
            kind: "symlink",
            changed_during_removal: false,
        });
    }
    let fd = openat(
        &dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(&shown_path, e.into()))?;
    let before = fstat(&fd).map_err(|e| Error::io(&shown_path, e.into()))?;
    if !same_file(&before, &st) || kind(&before) != libc::S_IFREG {
        return Err(Error::invalid(format!(
            "{shown_path}: changed between the check and the open; nothing removed"
        )));
    }
    let mut file = File::from(fd);
    let sha = store(&mut file, qdir, "copy")?;
    let after = fstat(&file).map_err(|e| Error::io(&shown_path, e.into()))?;
    if !same_content(&before, &after) {
        return Err(Error::io_msg(format!(
            "{shown_path}: changed while it was copied; nothing removed"
        )));
    }
    let id = fresh_id(&sha, &shown_path, qdir);
    let mut rec = json!({ "id": id, "original": shown_path, "original_hex": original_hex,
                          "sha256": sha, "kind": "file", "metadata": metadata(path, &before, None),
                          "quarantined_at": now.to_rfc3339() });
    write_record(qdir, &id, &rec)?;
    failpoint("quarantine_after_copy")?;
    race();
    let aside = take_aside(&dir, name, &before, &shown_path)?;
    unlinkat(&dir, aside.as_os_str(), UnlinkatFlags::NoRemoveDir)
        .map_err(|e| Error::io(format!("removing {shown_path}"), e.into()))?;
    let _ = nix::unistd::fsync(&dir);
    // Whoever held the file open could write until the unlink; the inode
    // lives on through our descriptor, so keep its final bytes.
    let last = fstat(&file).map_err(|e| Error::io(&shown_path, e.into()))?;
    let mut sha = sha;
    let changed = !same_content(&before, &last);
    if changed {
        sha = store(&mut file, qdir, "final")?;
        rec["sha256"] = json!(sha);
        rec["metadata"] = metadata(path, &last, None);
        rec["changed_during_removal"] = json!(true);
        write_record(qdir, &id, &rec)?;
    }
    Ok(Quarantined {
        stored: qdir.join(&sha).display().to_string(),
        id,
        original: shown_path,
        sha256: Some(sha),
        size: last.st_size as u64,
        kind: "file",
        changed_during_removal: changed,
    })
}

/// sha256 of `path` when it is a regular file reached without following
/// links (a link to a fifo or `/dev/zero` would hang or never end).
pub fn hash_regular(path: &Path) -> Option<String> {
    let fd = openat(
        nix::fcntl::AT_FDCWD,
        path,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    if kind(&fstat(&fd).ok()?) != libc::S_IFREG {
        return None;
    }
    let mut f = File::from(fd);
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).ok()?;
    Some(hex::encode(h.finalize()))
}

/// The record of a quarantined item.
pub fn record(id: &str, qdir: &Path) -> Result<Value> {
    if id.is_empty() || id.contains('/') || id.starts_with('.') {
        return Err(Error::invalid(format!("id {id:?} is not a quarantine id")));
    }
    let p = qdir.join(format!("{id}.json"));
    let text = std::fs::read_to_string(&p).map_err(|_| {
        Error::not_found(format!(
            "id {id:?}: nothing with that id in {}",
            qdir.display()
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| Error::io_msg(format!("{}: {e}", p.display())))
}

fn bytes_of(rec: &Value, hex_key: &str, text_key: &str) -> Vec<u8> {
    rec[hex_key]
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .unwrap_or_else(|| {
            let t = rec[text_key].as_str().unwrap_or_default();
            unescape_lossless(t).unwrap_or_else(|| t.as_bytes().to_vec())
        })
}

/// What `fs::restore` would refuse, for `--dry-run`: a missing stored copy,
/// something already at the original path, or a folder on the way that is
/// not a folder (a link put there). Missing folders are fine: the real run
/// makes them.
pub fn restore_check(id: &str, qdir: &Path) -> Result<PathBuf> {
    let rec = record(id, qdir)?;
    let original = PathBuf::from(OsString::from_vec(bytes_of(
        &rec,
        "original_hex",
        "original",
    )));
    let s = shown(&original);
    if rec["kind"] != "symlink" {
        let want = rec["sha256"].as_str().unwrap_or(id);
        if !qdir.join(want).is_file() {
            return Err(Error::not_found(format!(
                "{s}: the stored copy {want} is missing"
            )));
        }
    }
    if at::lstat(&original).is_ok() {
        return Err(Error::invalid(format!(
            "{s}: something exists there again; move it away first"
        )));
    }
    let mut so_far = PathBuf::from("/");
    for c in original
        .parent()
        .unwrap_or(Path::new("/"))
        .components()
        .skip(1)
    {
        so_far.push(c);
        match at::lstat(&so_far) {
            Ok(st) if kind(&st) == libc::S_IFDIR => {}
            Ok(_) => {
                return Err(Error::invalid(format!(
                    "{}: is not a folder any more (a link or a file was put in its place); nothing done",
                    shown(&so_far)
                )))
            }
            Err(_) => break,
        }
    }
    Ok(original)
}

/// Puts a quarantined item back, byte for byte, with owner, mode and times.
/// Folders on the way are walked without following links (missing ones are
/// made again); the file is written under a private name, given its owner
/// and mode through its descriptor, and only then renamed into place.
pub fn restore(id: &str, qdir: &Path) -> Result<PathBuf> {
    restore_hooked(id, qdir, &mut |_| {})
}

/// [`restore`] with `race` called with the folder and the private name just
/// before owner and mode are set, where an attacker would act.
pub fn restore_hooked(id: &str, qdir: &Path, race: &mut dyn FnMut(&Path)) -> Result<PathBuf> {
    use std::os::fd::AsFd;
    let rec = record(id, qdir)?;
    let original = PathBuf::from(OsString::from_vec(bytes_of(
        &rec,
        "original_hex",
        "original",
    )));
    let s = shown(&original);
    let (Some(parent), Some(name)) = (original.parent(), original.file_name()) else {
        return Err(Error::invalid(format!("{s}: names no file")));
    };
    let dir = open_dir(parent, true)?;
    if lstat_at(&dir, name).is_ok() {
        return Err(Error::invalid(format!(
            "{s}: something exists there again; move it away first"
        )));
    }
    let m = &rec["metadata"];
    let uid = m["uid"]
        .as_u64()
        .map(|u| nix::unistd::Uid::from_raw(u as u32));
    let gid = m["gid"]
        .as_u64()
        .map(|g| nix::unistd::Gid::from_raw(g as u32));
    if rec["kind"] == "symlink" {
        let target = OsString::from_vec(bytes_of(m, "link_target_hex", "link_target"));
        nix::unistd::symlinkat(target.as_os_str(), &dir, name)
            .map_err(|e| Error::io(&s, e.into()))?;
        let _ = nix::unistd::fchownat(
            &dir,
            name,
            uid,
            gid,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        );
        return Ok(original);
    }
    let want = rec["sha256"].as_str().unwrap_or(id);
    let stored = qdir.join(want);
    let mut from = File::open(&stored).map_err(|e| Error::io(stored.display(), e))?;
    let part = OsString::from(format!(".hound-restore-{}", std::process::id()));
    let _ = unlinkat(&dir, part.as_os_str(), UnlinkatFlags::NoRemoveDir);
    let fd = openat(
        &dir,
        part.as_os_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| Error::io(&s, e.into()))?;
    let mut to = File::from(fd);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let fail = |dir: &OwnedFd, e: Error| {
        let _ = unlinkat(dir, part.as_os_str(), UnlinkatFlags::NoRemoveDir);
        e
    };
    loop {
        let n = from
            .read(&mut buf)
            .map_err(|e| fail(&dir, Error::io(stored.display(), e)))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        to.write_all(&buf[..n])
            .map_err(|e| fail(&dir, Error::io(&s, e)))?;
    }
    if hex::encode(h.finalize()) != want {
        return Err(fail(
            &dir,
            Error::io_msg(format!("{s}: the stored copy does not match its hash")),
        ));
    }
    race(&parent.join(&part));
    // Owner first: chown clears set-uid and set-gid, so the mode goes after.
    // Both through the descriptor: a link put in the way changes nothing.
    let _ = nix::unistd::fchown(to.as_fd(), uid, gid);
    let mode = u32::from_str_radix(m["mode"].as_str().unwrap_or("0644"), 8).unwrap_or(0o644);
    let _ = nix::sys::stat::fchmod(to.as_fd(), Mode::from_bits_truncate(mode));
    let ts = |k: &str| {
        let a = m[k].as_array()?;
        Some(nix::sys::time::TimeSpec::new(
            a.first()?.as_i64()?,
            a.get(1)?.as_i64()?,
        ))
    };
    if let (Some(at), Some(mt)) = (ts("atime_ns"), ts("mtime_ns")) {
        let _ = nix::sys::stat::futimens(to.as_fd(), &at, &mt);
    }
    to.sync_all().map_err(|e| fail(&dir, Error::io(&s, e)))?;
    let mine = fstat(to.as_fd()).map_err(|e| fail(&dir, Error::io(&s, e.into())))?;
    if !lstat_at(&dir, &part).is_ok_and(|st| same_file(&st, &mine)) {
        return Err(Error::invalid(format!(
            "{s}: the restored copy was replaced while it was written; nothing put in place"
        )));
    }
    renameat2(
        &dir,
        part.as_os_str(),
        &dir,
        name,
        RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(|e| {
        fail(
            &dir,
            match e {
                Errno::EEXIST => Error::invalid(format!(
                    "{s}: something appeared there during the restore; nothing replaced"
                )),
                e => Error::io(&s, e.into()),
            },
        )
    })?;
    let _ = nix::unistd::fsync(&dir);
    Ok(original)
}
