//! `hound case new|list|current|close|verify` and `hound report`: one case
//! per incident. A case opened with `hound case new` is the host's current
//! case: every run records there until `hound case close`. The pointer is a
//! file in the case base folder named after the host, holding the case's
//! path, so runs through `sudo`, from another shell or a lab host agree.

use super::{report_error, Global, EXIT_ERROR, EXIT_OK};
use hound::output::{escape, print_value};
use hound::runtime::{case, report};
use hound::{Error, ScriptError};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand, Debug)]
pub enum CaseCmd {
    /// Open a case for this incident: every run on this host records there until `case close`
    New {
        /// Folder name under the case base (default: TIMESTAMP-HOST); `--case DIR` picks any folder
        name: Option<String>,
    },
    /// The cases under the case base folder; the open one is marked
    List,
    /// Print the open case's folder (nothing, exit 1, when none is open)
    Current,
    /// Close the open case: later runs start a new folder each
    Close,
    /// Check a case journal: hash chain, sequence, nothing cut off or added,
    /// and the head's signature when given the public key
    Verify {
        /// The case folder (default: the open case)
        dir: Option<PathBuf>,
        /// ed25519 public key (32 bytes, raw or hex) the heads were signed for
        #[arg(long, value_name = "FILE")]
        pubkey: Option<PathBuf>,
    },
    /// Print the public key of a signing key file (keep it outside the case)
    Pubkey {
        /// The signing key file
        #[arg(value_name = "KEY_FILE")]
        key_file: PathBuf,
    },
}

/// Where cases and the pointer live: `HOUND_CASES`, else
/// `/var/lib/hound/cases` as root, else the user's data folder.
pub fn base() -> PathBuf {
    if let Some(b) = std::env::var_os("HOUND_CASES").filter(|b| !b.is_empty()) {
        return PathBuf::from(b);
    }
    if nix::unistd::Uid::effective().is_root() {
        PathBuf::from("/var/lib/hound/cases")
    } else {
        dirs::data_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("hound/cases")
    }
}

fn pointer_path(base: &Path) -> PathBuf {
    base.join(format!("current-{}", case::hostname()))
}

/// The open case of this host, if there is one and its folder still exists.
pub fn current() -> Option<PathBuf> {
    let text = std::fs::read_to_string(pointer_path(&base())).ok()?;
    let dir = PathBuf::from(text.trim_end_matches('\n'));
    (dir.is_absolute() && dir.is_dir()).then_some(dir)
}

fn set_current(dir: &Path) -> Result<(), Error> {
    let base = base();
    std::fs::create_dir_all(&base).map_err(|e| Error::io(base.display(), e))?;
    let ptr = pointer_path(&base);
    let tmp = base.join(format!(".{}.tmp", std::process::id()));
    std::fs::write(&tmp, format!("{}\n", dir.display()))
        .and_then(|_| std::fs::rename(&tmp, &ptr))
        .map_err(|e| Error::io(ptr.display(), e))
}

/// Whether `dir` could be created and written, judged by its nearest
/// existing ancestor (nothing is created here: `hound doc` must not).
fn writable(dir: &Path) -> bool {
    dir.ancestors()
        .find(|a| a.exists())
        .is_some_and(|a| nix::unistd::access(a, nix::unistd::AccessFlags::W_OK).is_ok())
}

/// A private folder under the temp dir, for when the case base is not
/// writable (an unprivileged user with a read-only HOME). Refused unless it
/// is a real directory of ours, so another user cannot plant it.
fn private_temp_base() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let uid = nix::unistd::Uid::effective().as_raw();
    let dir = std::env::temp_dir().join(format!("hound-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let m = std::fs::symlink_metadata(&dir).ok()?;
    (m.is_dir() && m.uid() == uid && m.mode() & 0o022 == 0).then(|| dir.join("cases"))
}

/// The case folder this process records to, and whether it existed before.
pub struct Choice {
    pub dir: PathBuf,
    pub existed: bool,
}

static CHOICE: std::sync::OnceLock<Choice> = std::sync::OnceLock::new();

/// [`resolve`] once per process, printing its warning (unless `--quiet`).
pub fn choice(g: &Global) -> &'static Choice {
    CHOICE.get_or_init(|| {
        let (dir, warn) = resolve(g);
        if let (Some(w), false) = (warn, g.quiet) {
            eprintln!("warning: {}", escape(&w));
        }
        Choice {
            existed: dir.exists(),
            dir,
        }
    })
}

/// The case folder of a run: `--case DIR` / `HOUND_CASE`, else the host's
/// open case, else a new `TIMESTAMP-HOST` folder under the base (created
/// only when something is recorded). When the base cannot be written, the
/// new folder goes to a private temp folder and the warning says so once.
pub fn resolve(g: &Global) -> (PathBuf, Option<String>) {
    if let Some(c) = &g.case {
        return (c.clone(), None);
    }
    if let Some(c) = current() {
        return (c, None);
    }
    let name = format!(
        "{}-{}",
        chrono::Local::now().format("%Y%m%dT%H%M%S"),
        case::hostname()
    );
    let base = base();
    if writable(&base) {
        return (base.join(name), None);
    }
    match private_temp_base() {
        Some(t) => {
            let warn = format!(
                "cannot write cases under {}: this run's case goes to {} (--case DIR or HOUND_CASES choose another place)",
                base.display(),
                t.display()
            );
            (t.join(name), Some(warn))
        }
        None => (base.join(name), None),
    }
}

/// Before anything runs: a case folder the user chose (`--case`,
/// `HOUND_CASE`) or the host's open case must be able to hold a case, or
/// the run stops here naming the folder. A new default folder is not
/// checked: [`resolve`] already moved it somewhere writable, or the run
/// degrades to printing its read-only results.
pub fn check_choice(g: &Global) -> Result<(), Error> {
    let c = choice(g);
    if g.case.is_some() || c.existed {
        case::preflight(&c.dir)?;
    }
    Ok(())
}

/// After a run: a case folder this run created but left without a journal
/// entry is removed (only empty folders: `remove_dir` refuses any other).
pub fn tidy(dir: &Path, existed_before: bool) {
    let journal = dir.join(case::JOURNAL);
    if existed_before || std::fs::metadata(&journal).is_ok_and(|m| m.len() > 0) {
        return;
    }
    // Opening a case creates its (empty) journal and its `{"seq": null}`
    // head before the first entry.
    let _ = std::fs::remove_file(&journal);
    let _ = std::fs::remove_file(dir.join(case::HEAD));
    for sub in ["evidence", "quarantine", "reports", ""] {
        let _ = std::fs::remove_dir(dir.join(sub));
    }
}

fn fail(g: &Global, e: Error) -> i32 {
    report_error(g, &ScriptError::from(e));
    EXIT_ERROR
}

fn no_open_case() -> Error {
    Error::not_found("no case is open on this host")
        .with_hint("name the folder, or open one: hound case new")
}

pub fn main(g: &Global, cmd: &CaseCmd) -> i32 {
    match cmd {
        CaseCmd::New { name } => new(g, name.as_deref()),
        CaseCmd::List => list(g),
        CaseCmd::Current => match current() {
            Some(d) => {
                println!("{}", escape(&d.display().to_string()));
                EXIT_OK
            }
            None => 1,
        },
        CaseCmd::Close => match current() {
            Some(d) => {
                if let Err(e) = std::fs::remove_file(pointer_path(&base())) {
                    return fail(g, Error::io("closing the case", e));
                }
                if !g.quiet {
                    let d = escape(&d.display().to_string()).into_owned();
                    eprintln!("case {d} is closed; later runs start a new case folder each");
                    eprintln!("its report: hound report {d}");
                }
                EXIT_OK
            }
            None => {
                if !g.quiet {
                    eprintln!("no case is open on this host");
                }
                EXIT_OK
            }
        },
        CaseCmd::Verify { dir, pubkey } => {
            let Some(dir) = dir.clone().or_else(current) else {
                return fail(g, no_open_case());
            };
            match case::verify_with(&dir, pubkey.as_deref()) {
                Ok(v) => {
                    if g.json {
                        println!("{}", serde_json::json!({ "ok": true, "verified": v }));
                    } else if !g.quiet {
                        println!(
                            "ok: {} journal entries, hash chain intact, nothing cut off",
                            v.entries
                        );
                        match v.head_seq {
                            Some(s) => println!("head: entry {s} {}", v.head_hash),
                            None => println!("head: empty journal"),
                        }
                        if v.crash_lag {
                            println!("note: the last entry is vouched for by the head's pending hash (the run stopped before updating the head)");
                        }
                        println!("anchor: {}", v.anchor);
                    }
                    EXIT_OK
                }
                Err(e) => fail(g, e),
            }
        }
        CaseCmd::Pubkey { key_file } => match hound::runtime::anchor::public_key_of(key_file) {
            Ok(k) => {
                println!("{k}");
                EXIT_OK
            }
            Err(e) => fail(g, e),
        },
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.starts_with("current-")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn new(g: &Global, name: Option<&str>) -> i32 {
    if let Some(open) = current() {
        return fail(
            g,
            Error::invalid(format!(
                "case {} is still open on this host",
                open.display()
            ))
            .with_hint("close it first: hound case close"),
        );
    }
    let dir = match (&g.case, name) {
        (Some(d), _) => d.clone(),
        (None, Some(n)) if !valid_name(n) => {
            return fail(
                g,
                Error::invalid(format!(
                    "case name {n:?}: use letters, digits, '-', '_' and '.' (or --case DIR for any folder)"
                )),
            )
        }
        (None, Some(n)) => base().join(n),
        (None, None) => base().join(format!(
            "{}-{}",
            chrono::Local::now().format("%Y%m%dT%H%M%S"),
            case::hostname()
        )),
    };
    let dir = match std::path::absolute(&dir) {
        Ok(d) => d,
        Err(e) => return fail(g, Error::io(dir.display(), e)),
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(g, Error::io(dir.display(), e));
    }
    if let Err(e) = set_current(&dir) {
        return fail(g, e);
    }
    println!("{}", escape(&dir.display().to_string()));
    if !g.quiet {
        eprintln!("case open: every hound run on this host records there until `hound case close`");
    }
    EXIT_OK
}

fn list(g: &Global) -> i32 {
    let base = base();
    let open = current();
    let mut rows = Vec::new();
    let entries = match std::fs::read_dir(&base) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !g.quiet {
                eprintln!("no cases under {}", base.display());
            }
            return EXIT_OK;
        }
        Err(e) => return fail(g, Error::io(base.display(), e)),
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    if let Some(o) = &open {
        if !dirs.contains(o) {
            dirs.push(o.clone());
        }
    }
    dirs.sort();
    for d in dirs {
        let journal = case::read_journal(&d).unwrap_or_default();
        let findings = journal
            .iter()
            .filter(|e| e["primitive"] == "case::finding")
            .count();
        let time = |e: Option<&serde_json::Value>| {
            e.and_then(|e| e["time"].as_str())
                .unwrap_or_default()
                .to_string()
        };
        let mut row = serde_json::Map::new();
        row.insert("open".into(), (open.as_ref() == Some(&d)).into());
        row.insert(
            "name".into(),
            d.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
                .into(),
        );
        row.insert("entries".into(), journal.len().into());
        row.insert("findings".into(), findings.into());
        row.insert("first".into(), time(journal.first()).into());
        row.insert("last".into(), time(journal.last()).into());
        row.insert("dir".into(), d.display().to_string().into());
        rows.push(serde_json::Value::Object(row));
    }
    match rhai::serde::to_dynamic(&rows) {
        Ok(v) => print_value(&v, super::style(g)),
        Err(e) => return fail(g, Error::invalid(format!("case list: {e}"))),
    }
    EXIT_OK
}

/// `hound report [DIR] [--format md|json|html]`: writes the report of the
/// case (the open one without DIR) and prints it.
pub fn report(g: &Global, dir: Option<&Path>, format: &str) -> i32 {
    let Some(dir) = dir.map(Path::to_path_buf).or_else(current) else {
        return fail(g, no_open_case());
    };
    match report::write(&dir, format) {
        Ok(path) => {
            match std::fs::read_to_string(&path) {
                Ok(text) => print!("{text}"),
                Err(e) => eprintln!("warning: {}: {e}", path.display()),
            }
            if !g.quiet {
                eprintln!("written to {}", path.display());
            }
            EXIT_OK
        }
        Err(e) => fail(g, e),
    }
}
