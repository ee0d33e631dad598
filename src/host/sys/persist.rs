//! `sys::crontabs` and `sys::services`: the two most common places an
//! intruder leaves something to run again, read from disk (not from `crontab
//! -l` or `systemctl`, which a rootkit may lie through).

use super::rel;
use crate::error::Result;
use crate::text::lossless;
use serde::Serialize;
use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One scheduled job.
#[derive(Debug, Clone, Serialize)]
pub struct CronJob {
    /// The path on the host (`/etc/cron.d/x`), not the fixture path.
    pub file: String,
    pub line: usize,
    pub user: String,
    /// `*/5 * * * *`, `@reboot`, or for cron.daily scripts `@daily`.
    pub schedule: String,
    pub command: String,
    /// `crontab` (a line), `script` (a file in /etc/cron.{hourly,...}),
    /// `anacron` (an /etc/anacrontab line) or `at` (a queued `at` job).
    pub kind: &'static str,
}

/// The files in a directory, sorted, skipping what cron itself skips.
fn dir_files(dir: &Path, warn: &mut dyn FnMut(&str)) -> Vec<PathBuf> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            warn(&format!("{}: {e}", dir.display()));
            return Vec::new();
        }
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| !t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.as_bytes() != b".placeholder")
        })
        .collect();
    v.sort();
    v
}

fn shown(root: &Path, p: &Path) -> String {
    let rel = p.strip_prefix(root).unwrap_or(p);
    let s = lossless(rel.as_os_str().as_bytes());
    if s.starts_with('/') {
        s
    } else {
        format!("/{s}")
    }
}

/// Parses a crontab. `user` is `None` for system crontabs, whose lines carry
/// a user field after the schedule.
fn parse_crontab(text: &str, file: &str, user: Option<&str>, out: &mut Vec<CronJob>) {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Environment lines: NAME=value before any whitespace-separated field.
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('=') && !first.starts_with('@') {
            continue;
        }
        let n_sched = if first.starts_with('@') { 1 } else { 5 };
        let n_fields = n_sched + usize::from(user.is_none());
        let mut rest = line;
        let mut fields = Vec::new();
        for _ in 0..n_fields {
            let t = rest.trim_start();
            let end = t.find(char::is_whitespace).unwrap_or(t.len());
            fields.push(&t[..end]);
            rest = &t[end..];
        }
        let command = rest.trim().to_string();
        if command.is_empty() {
            continue;
        }
        let (schedule, who) = match user {
            Some(u) => (fields.join(" "), u.to_string()),
            None => (
                fields[..n_sched].join(" "),
                fields.last().copied().unwrap_or("").to_string(),
            ),
        };
        out.push(CronJob {
            file: file.into(),
            line: i + 1,
            user: who,
            schedule,
            command,
            kind: "crontab",
        });
    }
}

/// `sys::crontabs`: /etc/crontab, /etc/cron.d/*, the scripts in
/// /etc/cron.{hourly,daily,weekly,monthly}, and per-user crontabs in
/// /var/spool/cron/crontabs (Debian) and /var/spool/cron (Red Hat).
pub fn crontabs(root: &Path, warn: &mut dyn FnMut(&str)) -> Result<Vec<CronJob>> {
    let mut out = Vec::new();
    let read = |p: &Path, warn: &mut dyn FnMut(&str)| match std::fs::read(p) {
        Ok(b) => Some(lossless(&b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            warn(&format!("{}: {e}", p.display()));
            None
        }
    };
    let etc = rel(root, "etc/crontab");
    if let Some(t) = read(&etc, warn) {
        parse_crontab(&t, "/etc/crontab", None, &mut out);
    }
    for p in dir_files(&rel(root, "etc/cron.d"), warn) {
        if let Some(t) = read(&p, warn) {
            parse_crontab(&t, &shown(root, &p), None, &mut out);
        }
    }
    for period in ["hourly", "daily", "weekly", "monthly"] {
        for p in dir_files(&rel(root, &format!("etc/cron.{period}")), warn) {
            let file = shown(root, &p);
            out.push(CronJob {
                command: file.clone(),
                file,
                line: 0,
                user: "root".into(),
                schedule: format!("@{period}"),
                kind: "script",
            });
        }
    }
    if let Some(t) = read(&rel(root, "etc/anacrontab"), warn) {
        parse_anacrontab(&t, &mut out);
    }
    at_jobs(root, warn, &mut out);
    for dir in ["var/spool/cron/crontabs", "var/spool/cron"] {
        for p in dir_files(&rel(root, dir), warn) {
            let user = p
                .file_name()
                .map(|n| lossless(n.as_bytes()))
                .unwrap_or_default();
            if let Some(t) = read(&p, warn) {
                parse_crontab(&t, &shown(root, &p), Some(&user), &mut out);
            }
        }
    }
    Ok(out)
}

/// `/etc/anacrontab`: `period delay job-id command`.
fn parse_anacrontab(text: &str, out: &mut Vec<CronJob>) {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let first = line.split_whitespace().next().unwrap_or("");
        if line.is_empty() || line.starts_with('#') || first.contains('=') {
            continue;
        }
        let rest: Vec<&str> = line.split_whitespace().collect();
        if rest.len() < 4 {
            continue;
        }
        let command = rest[3..].join(" ");
        out.push(CronJob {
            file: "/etc/anacrontab".into(),
            line: i + 1,
            user: "root".into(),
            schedule: format!(
                "anacron {} (delay {} min, job {})",
                rest[0], rest[1], rest[2]
            ),
            command,
            kind: "anacron",
        });
    }
}

/// `at` jobs waiting in /var/spool/cron/atjobs (Debian) or /var/spool/at
/// (Red Hat). Each is a shell script; its name encodes the run time as
/// hex minutes since the epoch (`a0000101a5b3c4`: queue a, job 1).
fn at_jobs(root: &Path, warn: &mut dyn FnMut(&str), out: &mut Vec<CronJob>) {
    use std::os::unix::fs::MetadataExt;
    let mut names = crate::host::fs::Names::new(root);
    for dir in ["var/spool/cron/atjobs", "var/spool/at"] {
        for p in dir_files(&rel(root, dir), warn) {
            let name = p
                .file_name()
                .map(|n| lossless(n.as_bytes()))
                .unwrap_or_default();
            if name.len() != 14 || !name.is_ascii() || name.starts_with('.') {
                continue;
            }
            let when = i64::from_str_radix(&name[6..], 16)
                .map(|m| crate::host::fs::iso(m * 60))
                .unwrap_or_default();
            let user = std::fs::metadata(&p)
                .ok()
                .and_then(|m| names.user(m.uid()))
                .unwrap_or_default();
            let file = shown(root, &p);
            out.push(CronJob {
                command: file.clone(),
                file,
                line: 0,
                user,
                schedule: format!("at {when}"),
                kind: "at",
            });
        }
    }
}

/// One systemd unit file.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub unit: String,
    pub path: String,
    /// `system`, `user` (/etc/systemd/user, for every user), or the name of
    /// the account whose ~/.config/systemd/user holds it.
    pub scope: String,
    /// The unit type: `service`, `timer`, `socket`, `path`, `mount`, ...
    pub kind: String,
    /// Some `*.wants/`/`*.requires/` directory links to it.
    pub enabled: bool,
    /// `enabled`, `disabled`, `static` (no [Install] section), `masked`
    /// (linked to /dev/null), or `alias`.
    pub state: &'static str,
    pub description: String,
    /// The `ExecStart=` lines in effect (drop-ins applied), joined with ` ; `.
    pub exec_start: String,
    /// `User=`, or empty (root for system units).
    pub user: String,
    pub wanted_by: String,
    /// Drop-in files (`<unit>.d/*.conf`) that change it: a quiet way to
    /// add an `ExecStartPost=` to a trusted service.
    pub dropins: Vec<String>,
    pub mtime: String,
}

/// System unit directories, highest priority first (/etc overrides /run
/// overrides the package's copy).
const UNIT_DIRS: [&str; 4] = [
    "etc/systemd/system",
    "run/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];

/// Units every user's manager loads.
const USER_UNIT_DIRS: [&str; 2] = ["etc/systemd/user", "usr/lib/systemd/user"];

const UNIT_KINDS: [&str; 11] = [
    "service",
    "timer",
    "socket",
    "path",
    "mount",
    "automount",
    "target",
    "swap",
    "slice",
    "scope",
    "device",
];

fn unit_kind(name: &str) -> Option<&str> {
    let (_, ext) = name.rsplit_once('.')?;
    UNIT_KINDS.contains(&ext).then_some(ext)
}

/// Resolves a symlink inside the root: absolute targets are taken relative
/// to the root, so a fixture tree never reads the host's files.
fn resolve(root: &Path, p: &Path) -> PathBuf {
    let mut p = p.to_path_buf();
    for _ in 0..8 {
        let Ok(t) = std::fs::read_link(&p) else {
            return p;
        };
        p = if t.is_absolute() {
            rel(root, &lossless(t.as_os_str().as_bytes()))
        } else {
            p.parent().map(|d| d.join(&t)).unwrap_or(t)
        };
    }
    p
}

fn is_dev_null(p: &Path) -> bool {
    std::fs::read_link(p).is_ok_and(|t| t == Path::new("/dev/null"))
}

/// Names linked from `*.wants` and `*.requires` directories.
fn enabled_units(root: &Path, dirs: &[PathBuf]) -> HashSet<String> {
    let mut set = HashSet::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        for e in rd.filter_map(|e| e.ok()) {
            let n = e.file_name();
            let n = n.to_string_lossy();
            if !(n.ends_with(".wants") || n.ends_with(".requires")) {
                continue;
            }
            if let Ok(inner) = std::fs::read_dir(e.path()) {
                for l in inner.filter_map(|e| e.ok()) {
                    set.insert(l.file_name().to_string_lossy().into_owned());
                    // An instance (getty@tty1.service) enables its template.
                    if let Some(t) = resolve(root, &l.path()).file_name() {
                        set.insert(t.to_string_lossy().into_owned());
                    }
                }
            }
        }
    }
    set
}

fn read_text(p: &Path, warn: &mut dyn FnMut(&str)) -> String {
    match std::fs::read(p) {
        Ok(b) => lossless(&b),
        Err(e) => {
            warn(&format!("{}: {e}", p.display()));
            String::new()
        }
    }
}

/// `<unit>.d/*.conf` in every directory, a name in a higher directory
/// hiding the same name lower down, applied in file-name order.
fn dropins(dirs: &[PathBuf], unit: &str) -> Vec<PathBuf> {
    let mut by_name: Vec<(std::ffi::OsString, PathBuf)> = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d.join(format!("{unit}.d"))) else {
            continue;
        };
        for e in rd.filter_map(|e| e.ok()) {
            let n = e.file_name();
            if n.as_bytes().ends_with(b".conf") && !by_name.iter().any(|(x, _)| *x == n) {
                by_name.push((n, e.path()));
            }
        }
    }
    by_name.sort();
    by_name.into_iter().map(|(_, p)| p).collect()
}

/// The units in `dirs` (the first of a name wins), as seen by one manager.
fn scan_units(
    root: &Path,
    dirs: &[PathBuf],
    scope: &str,
    warn: &mut dyn FnMut(&str),
    out: &mut Vec<Service>,
) {
    let enabled = enabled_units(root, dirs);
    let mut seen = HashSet::new();
    for d in dirs {
        for p in dir_files(d, warn) {
            let Some(name) = p.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            let Some(kind) = unit_kind(&name) else {
                continue;
            };
            if !seen.insert(name.clone()) {
                continue;
            }
            let masked = is_dev_null(&p);
            let real = resolve(root, &p);
            let text = if masked {
                String::new()
            } else {
                read_text(&real, warn)
            };
            let extra = dropins(dirs, &name);
            let extra_text: Vec<String> = extra.iter().map(|p| read_text(p, warn)).collect();
            let mut keys = unit_keys(&text);
            for t in &extra_text {
                keys.extend(unit_keys(t));
            }
            let get = |k: &str| -> Vec<&str> {
                keys.iter()
                    .filter(|(key, _)| *key == k)
                    .map(|(_, v)| *v)
                    .collect()
            };
            // An empty `ExecStart=` (in a drop-in) clears the list before it.
            let mut exec: Vec<&str> = Vec::new();
            for v in get("ExecStart") {
                if v.is_empty() {
                    exec.clear();
                } else {
                    exec.push(v);
                }
            }
            let is_enabled = enabled.contains(&name);
            let is_alias = real
                .file_name()
                .is_some_and(|n| n.to_string_lossy() != name);
            let state = if masked {
                "masked"
            } else if is_enabled {
                "enabled"
            } else if is_alias {
                "alias"
            } else if !text.contains("[Install]") {
                "static"
            } else {
                "disabled"
            };
            let mtime = std::fs::symlink_metadata(&p)
                .map(|m| crate::host::fs::iso(std::os::unix::fs::MetadataExt::mtime(&m)))
                .unwrap_or_default();
            out.push(Service {
                unit: name.clone(),
                path: shown(root, &p),
                scope: scope.into(),
                kind: kind.into(),
                enabled: is_enabled,
                state,
                description: get("Description").last().copied().unwrap_or("").into(),
                exec_start: exec.join(" ; "),
                user: get("User").last().copied().unwrap_or("").into(),
                wanted_by: get("WantedBy").join(" "),
                dropins: extra.iter().map(|p| shown(root, p)).collect(),
                mtime,
            });
        }
    }
}

/// `sys::services`: system units, units for every user's manager, and each
/// account's own `~/.config/systemd/user` units.
pub fn services(root: &Path, warn: &mut dyn FnMut(&str)) -> Result<Vec<Service>> {
    let mut out = Vec::new();
    let dirs = |list: &[&str]| -> Vec<PathBuf> { list.iter().map(|d| rel(root, d)).collect() };
    scan_units(root, &dirs(&UNIT_DIRS), "system", warn, &mut out);
    scan_units(root, &dirs(&USER_UNIT_DIRS), "user", warn, &mut out);
    // The account list only locates homes; its own warnings (shadow) are
    // not this primitive's business.
    let accounts = super::users::users(root, &mut |_| {}).unwrap_or_default();
    let mut homes = HashSet::new();
    for u in accounts {
        if u.home.is_empty() || u.home == "/" || !homes.insert(u.home.clone()) {
            continue;
        }
        let d = rel(root, &format!("{}/.config/systemd/user", u.home));
        if d.is_dir() {
            scan_units(root, &[d], &u.name, warn, &mut out);
        }
    }
    out.sort_by(|a, b| (a.scope != "system", &a.unit).cmp(&(b.scope != "system", &b.unit)));
    Ok(out)
}

/// `Key=value` pairs of a unit file (a continuation line keeps only its first part).
fn unit_keys(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with(';') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim().trim_end_matches('\\').trim_end()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crontab_lines() {
        let mut v = Vec::new();
        parse_crontab(
            "SHELL=/bin/sh\n# c\n*/5 * * * * root  /opt/x.sh --a b\n@reboot www /tmp/.k\n",
            "/etc/crontab",
            None,
            &mut v,
        );
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].schedule, "*/5 * * * *");
        assert_eq!(v[0].user, "root");
        assert_eq!(v[0].command, "/opt/x.sh --a b");
        assert_eq!(v[1].schedule, "@reboot");
        assert_eq!(v[1].user, "www");
        let mut v = Vec::new();
        parse_crontab("0 3 * * * curl x|sh\n", "/u", Some("bob"), &mut v);
        assert_eq!(v[0].command, "curl x|sh");
        assert_eq!(v[0].user, "bob");
    }
}
