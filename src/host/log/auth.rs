//! Authentication events from syslog files (auth.log, secure, rotated and
//! gzipped copies) in the record shape the journal reader shares, plus the
//! holes in them (T1070.002: a cleared or trimmed log).

use crate::error::{Error, Result};
use crate::output::lossless;
use crate::runtime::CancelToken;
use chrono::{DateTime, Datelike, Local, NaiveDateTime, TimeZone, Utc};
use regex::Regex;
use serde::Serialize;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One authentication event, or a `gap`. auth.log and the journal give the
/// same record for the same event except `file` and `line` (for the journal,
/// `line` is the entry's sequence number).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuthEvent {
    /// ISO 8601 UTC, to the second.
    pub time: String,
    pub host: String,
    /// `ssh_accept`, `ssh_fail`, `ssh_invalid_user`, `sudo`, `su`, `useradd`,
    /// `usermod`, `groupadd`, `passwd_change`, `gap`, or `other` (journal `all`).
    pub kind: String,
    pub user: Option<String>,
    pub source_ip: Option<String>,
    /// ssh: `password`, `publickey`, ...; sudo: the command; gap: the gap's kind.
    pub method: Option<String>,
    pub program: String,
    pub pid: Option<i64>,
    pub message: String,
    pub file: String,
    pub line: i64,
}

/// What a message says, before time and place are added.
#[derive(Debug, Default, PartialEq)]
pub struct Classified {
    pub kind: &'static str,
    pub user: Option<String>,
    pub source_ip: Option<String>,
    pub method: Option<String>,
}

struct Rx {
    accept: Regex,
    fail_invalid: Regex,
    fail: Regex,
    invalid: Regex,
    sudo: Regex,
    su: Regex,
    new_user: Regex,
    new_group: Regex,
    usermod: Regex,
    passwd: Regex,
}

fn rx() -> Option<&'static Rx> {
    static RX: OnceLock<Option<Rx>> = OnceLock::new();
    RX.get_or_init(|| {
        let r = |s: &str| Regex::new(s).ok();
        Some(Rx {
            accept: r(r"^Accepted (\S+) for (\S+) from (\S+) port \d+")?,
            fail_invalid: r(r"^Failed (\S+) for invalid user (.*?) from (\S+) port \d+")?,
            fail: r(r"^Failed (\S+) for (\S+) from (\S+) port \d+")?,
            invalid: r(r"^Invalid user (.*?) from (\S+)(?: port \d+)?\s*$")?,
            sudo: r(r"^\s*(\S+) : (?:.*; )?(?:TTY=\S+ ; )?PWD=.* ; USER=(\S+) ; (?:.*; )?COMMAND=(.*)$")?,
            su: r(r"^(?:FAILED SU )?\(to (\S+)\) (\S+) on ")?,
            new_user: r(r"^new user: name=([^,]+),")?,
            new_group: r(r"^new group: name=([^,]+),")?,
            usermod: r(r"^(?:add '([^']+)' to group|change user '([^']+)'|delete '([^']+)' from group|lock user '([^']+)'|unlock user '([^']+)')")?,
            passwd: r(r"password changed for (\S+)")?,
        })
    })
    .as_ref()
}

/// The kind of an authentication message from `program`; `None` for the
/// rest (sessions, cron, PAM echoes of a line already counted).
pub fn classify(program: &str, msg: &str) -> Option<Classified> {
    let rx = rx()?;
    let s = |m: Option<regex::Match>| m.map(|m| m.as_str().to_string());
    let c = |kind, user, source_ip, method| {
        Some(Classified {
            kind,
            user,
            source_ip,
            method,
        })
    };
    if program == "sshd" || program.starts_with("sshd-") {
        if let Some(m) = rx.accept.captures(msg) {
            return c("ssh_accept", s(m.get(2)), s(m.get(3)), s(m.get(1)));
        }
        if let Some(m) = rx.fail_invalid.captures(msg) {
            return c("ssh_invalid_user", s(m.get(2)), s(m.get(3)), s(m.get(1)));
        }
        if let Some(m) = rx.fail.captures(msg) {
            return c("ssh_fail", s(m.get(2)), s(m.get(3)), s(m.get(1)));
        }
        if let Some(m) = rx.invalid.captures(msg) {
            return c("ssh_invalid_user", s(m.get(1)), s(m.get(2)), None);
        }
        return None;
    }
    if program == "sudo" {
        let m = rx.sudo.captures(msg)?;
        return c("sudo", s(m.get(1)), None, s(m.get(3)));
    }
    if program == "su" {
        let m = rx.su.captures(msg)?;
        let method = if msg.starts_with("FAILED") {
            "failed"
        } else {
            "ok"
        };
        // `user` is the account taken over; the caller stays in `message`.
        return c("su", s(m.get(1)), None, Some(method.into()));
    }
    if let Some(m) = rx.new_user.captures(msg) {
        return c("useradd", s(m.get(1)), None, None);
    }
    if let Some(m) = rx.new_group.captures(msg) {
        return c("groupadd", s(m.get(1)), None, None);
    }
    if program == "usermod" || program == "gpasswd" {
        let m = rx.usermod.captures(msg)?;
        let user = (1..=5).find_map(|i| s(m.get(i)));
        return c("usermod", user, None, None);
    }
    if let Some(m) = rx.passwd.captures(msg) {
        return c("passwd_change", s(m.get(1)), None, None);
    }
    None
}

/// A syslog line: time, host, program, pid, message.
pub type SyslogParts<'a> = (DateTime<Utc>, &'a str, &'a str, Option<i64>, &'a str);

/// A syslog line split: time, host, program, pid, message. Handles the
/// traditional `Nov 30 18:00:01` stamp (local time, year guessed from
/// `year_hint`) and the RFC 3339 one Debian 13's rsyslog writes.
pub fn split_syslog(line: &str, year_hint: i32, month_hint: u32) -> Option<SyslogParts<'_>> {
    let (time, rest) = if line.as_bytes().first()?.is_ascii_digit() {
        let (t, rest) = line.split_once(' ')?;
        (DateTime::parse_from_rfc3339(t).ok()?.to_utc(), rest)
    } else {
        let stamp = line.get(..15)?;
        let naive = NaiveDateTime::parse_from_str(
            &format!(
                "{year_hint} {}",
                stamp.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            "%Y %b %d %H:%M:%S",
        )
        .ok()?;
        // A December line in a file written in January is last year's.
        let naive = if naive.month() > month_hint {
            naive.with_year(year_hint - 1)?
        } else {
            naive
        };
        let t = Local.from_local_datetime(&naive).earliest()?.to_utc();
        (t, line.get(16..)?)
    };
    let (host, rest) = rest.split_once(' ')?;
    let (tag, msg) = rest.split_once(": ").unwrap_or((rest, ""));
    let (program, pid) = match tag.split_once('[') {
        Some((p, pid)) => (p, pid.trim_end_matches(']').parse().ok()),
        None => (tag, None),
    };
    Some((time, host, program, pid, msg))
}

pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What `log::auth` and `log::journal` keep.
#[derive(Debug, Clone)]
pub struct AuthOpts {
    /// Files to read instead of the usual places under `root`.
    pub paths: Vec<PathBuf>,
    pub root: PathBuf,
    /// ISO 8601 UTC: only events at or after it.
    pub since: Option<String>,
    /// A silence longer than this between two lines is a `gap` record.
    pub gap_secs: i64,
    /// Journal only: keep every entry (kind `other` for the unclassified).
    pub all: bool,
}

impl Default for AuthOpts {
    fn default() -> Self {
        AuthOpts {
            paths: Vec::new(),
            root: PathBuf::from("/"),
            since: None,
            gap_secs: 6 * 3600,
            all: false,
        }
    }
}

/// auth.log (Debian) and secure (Red Hat) with their rotations, oldest first:
/// `auth.log.4.gz` ... `auth.log.1`, `auth.log`; `secure-20240101` ... `secure`.
pub fn auth_files(root: &Path) -> Vec<PathBuf> {
    let dir = root.join("var/log");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, i64, String, PathBuf)> = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        for base in ["auth.log", "secure"] {
            let Some(rest) = name.strip_prefix(base) else {
                continue;
            };
            let rest = rest.strip_suffix(".gz").unwrap_or(rest);
            // Numbered rotations are newest at 1; dated ones sort by date.
            let order = match rest {
                "" => Some(i64::MIN),
                r if r.starts_with('.') => r[1..].parse::<i64>().ok().map(|n| -n),
                r if r.starts_with('-') && r[1..].bytes().all(|b| b.is_ascii_digit()) => {
                    r[1..].parse::<i64>().ok().map(|d| -(i64::MAX - d))
                }
                _ => None,
            };
            if let Some(o) = order {
                found.push((base.to_string(), o, name.clone(), e.path()));
            }
        }
    }
    // Oldest first: the current file (i64::MIN) goes last.
    found.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.eq(&i64::MIN).cmp(&b.1.eq(&i64::MIN)))
            .then(a.1.cmp(&b.1))
    });
    found.into_iter().map(|f| f.3).collect()
}

fn open_text(path: &Path) -> Result<Box<dyn BufRead>> {
    let f = crate::host::fs::read::open_regular(path, false)?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    let r: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    Ok(Box::new(BufReader::with_capacity(64 * 1024, r)))
}

/// Tracks the time between lines (across files) and reports holes.
pub struct Gaps {
    pub threshold: i64,
    last: Option<(DateTime<Utc>, String)>,
    pub out: Vec<AuthEvent>,
}

impl Gaps {
    pub fn new(threshold: i64) -> Self {
        Gaps {
            threshold,
            last: None,
            out: Vec::new(),
        }
    }

    /// A line at `t` from `file`; `host` names the host in the record.
    pub fn see(&mut self, t: DateTime<Utc>, host: &str, file: &str, line: i64) {
        if let Some((prev, prev_file)) = &self.last {
            let secs = (t - *prev).num_seconds();
            if secs > self.threshold {
                let across = prev_file != file;
                let what = if across {
                    format!("{file} starts {} after {prev_file} ends", human(secs))
                } else {
                    format!("no lines for {}", human(secs))
                };
                self.out.push(gap(
                    *prev,
                    host,
                    if across { "rotation" } else { "silence" },
                    format!("{what} ({} to {})", iso(*prev), iso(t)),
                    file,
                    line,
                ));
            }
        }
        if self.last.as_ref().is_none_or(|(p, _)| t >= *p) {
            self.last = Some((t, file.to_string()));
        }
    }

    /// A new boot: the time the host was off is not a hole in its log.
    pub fn reset(&mut self) {
        self.last = None;
    }
}

pub fn human(secs: i64) -> String {
    let (d, h, m) = (secs / 86400, secs % 86400 / 3600, secs % 3600 / 60);
    match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h{m:02}m"),
        _ => format!("{d}d{h}h"),
    }
}

pub fn gap(
    t: DateTime<Utc>,
    host: &str,
    method: &str,
    message: String,
    file: &str,
    line: i64,
) -> AuthEvent {
    AuthEvent {
        time: iso(t),
        host: host.to_string(),
        kind: "gap".into(),
        user: None,
        source_ip: None,
        method: Some(method.into()),
        program: String::new(),
        pid: None,
        message,
        file: file.to_string(),
        line,
    }
}

/// `log::auth`: every authentication event of the auth logs, oldest first,
/// with `gap` records for silences, empty current logs and runs of NUL
/// bytes (a file truncated while a writer kept its offset).
pub fn read_auth(
    opts: &AuthOpts,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<AuthEvent>> {
    let files = if opts.paths.is_empty() {
        auth_files(&opts.root)
    } else {
        opts.paths.clone()
    };
    if files.is_empty() {
        return Err(Error::not_found(format!(
            "no auth.log or secure under {}",
            opts.root.join("var/log").display()
        ))
        .with_hint("on a journal-only host use log::journal()"));
    }
    let mut out = Vec::new();
    let mut gaps = Gaps::new(opts.gap_secs);
    let mut host_seen = String::new();
    let n_files = files.len();
    for (i, path) in files.iter().enumerate() {
        let name = path.display().to_string();
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                warn(&format!("{name}: {e}"));
                continue;
            }
        };
        let mtime: DateTime<Local> = meta
            .modified()
            .map(DateTime::from)
            .unwrap_or_else(|_| Local::now());
        if meta.len() == 0 {
            // logrotate leaves an empty current file only until the next
            // line, and cron writes one hourly: an empty log older than that
            // was emptied.
            let age = (Local::now() - mtime).num_seconds();
            if i + 1 == n_files && n_files > 1 && age > 3600 {
                out.push(gap(
                    mtime.to_utc(),
                    &host_seen,
                    "emptied",
                    format!("{name} is empty, last written {} ago", human(age)),
                    &name,
                    0,
                ));
            }
            continue;
        }
        let mut r = match open_text(path) {
            Ok(r) => r,
            Err(e) => {
                warn(&format!("{name}: {}", e.message));
                continue;
            }
        };
        let mut buf = Vec::new();
        let mut no = 0i64;
        let mut nul_reported = false;
        loop {
            buf.clear();
            let n = match crate::host::fs::read::read_line_capped(
                &mut r,
                &mut buf,
                crate::host::fs::read::MAX_LINE,
            ) {
                Ok(n) => n,
                Err(e) => {
                    warn(&format!("{name}: line {}: {e}", no + 1));
                    break;
                }
            };
            if n == 0 {
                break;
            }
            no += 1;
            if no % 4096 == 0 {
                cancel.check()?;
            }
            if buf.contains(&0) && !nul_reported {
                nul_reported = true;
                out.push(gap(
                    gaps.last.as_ref().map(|l| l.0).unwrap_or(mtime.to_utc()),
                    &host_seen,
                    "truncated",
                    format!("{name}: NUL bytes at line {no}: the file was cut while being written"),
                    &name,
                    no,
                ));
            }
            let text = lossless(buf.trim_ascii_end());
            let text = text.trim_start_matches('\0');
            let Some((t, host, program, pid, msg)) =
                split_syslog(text, mtime.year(), mtime.month())
            else {
                continue;
            };
            host_seen = host.to_string();
            gaps.see(t, host, &name, no);
            let time = iso(t);
            if opts.since.as_ref().is_some_and(|s| time < *s) {
                continue;
            }
            if let Some(c) = classify(program, msg) {
                out.push(AuthEvent {
                    time,
                    host: host.to_string(),
                    kind: c.kind.into(),
                    user: c.user,
                    source_ip: c.source_ip,
                    method: c.method,
                    program: program.to_string(),
                    pid,
                    message: msg.to_string(),
                    file: name.clone(),
                    line: no,
                });
            }
        }
    }
    out.extend(gaps.out);
    if let Some(s) = &opts.since {
        out.retain(|e| e.time >= *s || e.kind != "gap");
    }
    out.sort_by(|a, b| a.time.cmp(&b.time));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let k = |p: &str, m: &str| classify(p, m).map(|c| (c.kind, c.user, c.source_ip, c.method));
        let o = |s: &str| Some(s.to_string());
        assert_eq!(
            k(
                "sshd",
                "Accepted publickey for bob from 10.0.0.5 port 50122 ssh2: ED25519 SHA256:x"
            ),
            Some(("ssh_accept", o("bob"), o("10.0.0.5"), o("publickey")))
        );
        assert_eq!(
            k(
                "sshd",
                "Failed password for invalid user admin from 203.0.113.9 port 4 ssh2"
            ),
            Some((
                "ssh_invalid_user",
                o("admin"),
                o("203.0.113.9"),
                o("password")
            ))
        );
        assert_eq!(
            k(
                "sshd",
                "Failed password for root from 203.0.113.9 port 4 ssh2"
            ),
            Some(("ssh_fail", o("root"), o("203.0.113.9"), o("password")))
        );
        assert_eq!(
            k("sshd", "Invalid user oracle from 203.0.113.9 port 5"),
            Some(("ssh_invalid_user", o("oracle"), o("203.0.113.9"), None))
        );
        assert_eq!(
            k(
                "sudo",
                "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u"
            ),
            Some(("sudo", o("alice"), None, o("/usr/bin/id -u")))
        );
        assert_eq!(k("su", "(to root) alice on pts/1").unwrap().1, o("root"));
        assert_eq!(
            k("useradd", "new user: name=eve, UID=1001, GID=1001, home=/home/eve, shell=/bin/bash, from=/dev/pts/0").unwrap().0,
            "useradd"
        );
        assert_eq!(
            k("usermod", "add 'eve' to group 'sudo'").unwrap().1,
            o("eve")
        );
        assert_eq!(
            k(
                "passwd",
                "pam_unix(passwd:chauthtok): password changed for eve"
            )
            .unwrap()
            .0,
            "passwd_change"
        );
        assert_eq!(
            k(
                "sshd",
                "pam_unix(sshd:session): session opened for user bob(uid=1000) by (uid=0)"
            ),
            None
        );
        assert_eq!(
            k(
                "CRON",
                "pam_unix(cron:session): session closed for user root"
            ),
            None
        );
    }

    #[test]
    fn syslog_stamps() {
        let (t, h, p, pid, m) = split_syslog(
            "2026-11-30T10:00:01.123456+00:00 web1 sshd[42]: Accepted x",
            2026,
            11,
        )
        .unwrap();
        assert_eq!(
            (iso(t).as_str(), h, p, pid, m),
            (
                "2026-11-30T10:00:01Z",
                "web1",
                "sshd",
                Some(42),
                "Accepted x"
            )
        );
        let (t, ..) = split_syslog("Dec 31 23:59:59 web1 CRON[1]: x", 2027, 1).unwrap();
        assert_eq!(t.with_timezone(&Local).year(), 2026);
        assert!(split_syslog("garbage", 2026, 1).is_none());
    }

    #[test]
    fn rotation_order() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("var/log")).unwrap();
        for n in [
            "auth.log",
            "auth.log.1",
            "auth.log.2.gz",
            "auth.log.10.gz",
            "authx",
        ] {
            std::fs::write(d.path().join("var/log").join(n), "").unwrap();
        }
        let names: Vec<String> = auth_files(d.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["auth.log.10.gz", "auth.log.2.gz", "auth.log.1", "auth.log"]
        );
    }
}
