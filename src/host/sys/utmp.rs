//! `sys::logins` and `sys::sessions`: the binary login records in
//! `/var/log/wtmp`, `/var/log/btmp` and `/run/utmp`, parsed here rather than
//! by running `last`/`who` (which a rootkit may have replaced).
//!
//! Layout of glibc's `struct utmp` on 64-bit Linux (384 bytes, little
//! endian): type i16 (+2 pad), pid i32, line[32], id[4], user[32], host[256],
//! exit (2×i16), session i32, tv_sec i32, tv_usec i32, addr_v6[4×u32], 20
//! unused bytes.

use super::rel;
use crate::error::{Error, Result};
use crate::host::fs::iso;
use crate::text::lossless;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

pub const RECORD: usize = 384;

pub const BOOT_TIME: i16 = 2;
pub const RUN_LVL: i16 = 1;
pub const USER_PROCESS: i16 = 7;
pub const DEAD_PROCESS: i16 = 8;
pub const LOGIN_PROCESS: i16 = 6;

/// One raw record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub kind: i16,
    pub pid: i32,
    pub line: String,
    pub id: String,
    pub user: String,
    pub host: String,
    pub time: i64,
    pub addr: Option<IpAddr>,
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    lossless(&b[..end])
}

fn i32_at(b: &[u8], off: usize) -> i32 {
    i32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

impl Record {
    /// Decodes one 384-byte record.
    pub fn parse(b: &[u8; RECORD]) -> Record {
        let a: [u8; 16] = b[348..364].try_into().unwrap_or([0; 16]);
        let addr = if a == [0; 16] {
            None
        } else if a[4..] == [0; 12] {
            Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])))
        } else {
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        };
        Record {
            kind: i16::from_le_bytes([b[0], b[1]]),
            pid: i32_at(b, 4),
            line: cstr(&b[8..40]),
            id: cstr(&b[40..44]),
            user: cstr(&b[44..76]),
            host: cstr(&b[76..332]),
            time: i32_at(b, 340) as u32 as i64,
            addr,
        }
    }

    /// Encodes a record (for fixtures and tests).
    pub fn to_bytes(&self) -> [u8; RECORD] {
        let mut b = [0u8; RECORD];
        let put = |b: &mut [u8; RECORD], off: usize, len: usize, s: &str| {
            let s = s.as_bytes();
            let n = s.len().min(len);
            b[off..off + n].copy_from_slice(&s[..n]);
        };
        b[0..2].copy_from_slice(&self.kind.to_le_bytes());
        b[4..8].copy_from_slice(&self.pid.to_le_bytes());
        put(&mut b, 8, 32, &self.line);
        put(&mut b, 40, 4, &self.id);
        put(&mut b, 44, 32, &self.user);
        put(&mut b, 76, 256, &self.host);
        b[340..344].copy_from_slice(&(self.time as u32).to_le_bytes());
        match self.addr {
            Some(IpAddr::V4(a)) => b[348..352].copy_from_slice(&a.octets()),
            Some(IpAddr::V6(a)) => b[348..364].copy_from_slice(&a.octets()),
            None => {}
        }
        b
    }
}

/// Every record of a utmp-format file; a short trailing record is a warning.
pub fn read_records(path: &Path, warn: &mut dyn FnMut(&str)) -> Result<Vec<Record>> {
    let data = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    let chunks = data.chunks_exact(RECORD);
    if !chunks.remainder().is_empty() {
        warn(&format!(
            "{}: {} trailing bytes are not a whole record (truncated or not utmp)",
            path.display(),
            chunks.remainder().len()
        ));
    }
    Ok(chunks
        .filter_map(|c| <&[u8; RECORD]>::try_from(c).ok())
        .map(Record::parse)
        .collect())
}

/// One row of the `last` view.
#[derive(Debug, Clone, Serialize)]
pub struct Login {
    pub user: String,
    pub tty: String,
    pub from: String,
    /// The address the record holds, when it holds one.
    pub ip: Option<String>,
    pub start: String,
    /// Logout time; null while still logged in (or when a crash left no record).
    pub end: Option<String>,
    pub duration_s: Option<i64>,
    /// `login`, `reboot`, `shutdown` or `failed`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub failed: bool,
    /// `logged_in`, `logout`, `crash` (a boot came first), `down` (a
    /// shutdown came first) or `gone` (no end record).
    pub status: &'static str,
    pub pid: i32,
    pub source: String,
}

fn login(r: &Record, kind: &'static str, source: &str) -> Login {
    Login {
        user: r.user.clone(),
        tty: r.line.clone(),
        from: r.host.clone(),
        ip: r.addr.map(|a| a.to_string()),
        start: iso(r.time),
        end: None,
        duration_s: None,
        kind,
        failed: kind == "failed",
        status: if kind == "failed" {
            "failed"
        } else {
            "logged_in"
        },
        pid: r.pid,
        source: source.into(),
    }
}

/// The `last` algorithm over wtmp: a login ends at the next DEAD_PROCESS on
/// its tty, or at the next boot (`crash`) or shutdown (`down`).
pub fn sessions_from_wtmp(records: &[Record], source: &str) -> Vec<Login> {
    let mut out: Vec<Login> = Vec::new();
    let mut open: Vec<(usize, String)> = Vec::new();
    let close = |l: &mut Login, t: i64, status: &'static str| {
        l.end = Some(iso(t));
        l.status = status;
        l.duration_s = chrono::DateTime::parse_from_rfc3339(&l.start)
            .ok()
            .map(|s| t - s.timestamp());
    };
    for r in records {
        match r.kind {
            USER_PROCESS if !r.user.is_empty() => {
                // A second login on a tty whose first never logged out.
                if let Some(i) = open.iter().position(|(_, tty)| *tty == r.line) {
                    let (idx, _) = open.remove(i);
                    close(&mut out[idx], r.time, "gone");
                }
                open.push((out.len(), r.line.clone()));
                out.push(login(r, "login", source));
            }
            DEAD_PROCESS => {
                if let Some(i) = open.iter().position(|(_, tty)| *tty == r.line) {
                    let (idx, _) = open.remove(i);
                    close(&mut out[idx], r.time, "logout");
                }
            }
            BOOT_TIME | RUN_LVL => {
                let (kind, status) = if r.kind == BOOT_TIME {
                    ("reboot", "crash")
                } else if r.user == "shutdown" {
                    ("shutdown", "down")
                } else {
                    continue;
                };
                for (idx, _) in open.drain(..) {
                    close(&mut out[idx], r.time, status);
                }
                let mut l = login(r, kind, source);
                l.user = r.user.clone();
                l.status = "-";
                out.push(l);
            }
            _ => {}
        }
    }
    out
}

/// `sys::logins`: logins and boots from wtmp plus failed logins from btmp,
/// newest first (the order of `last`).
pub fn logins(root: &Path, warn: &mut dyn FnMut(&str)) -> Result<Vec<Login>> {
    logins_from(
        &rel(root, "var/log/wtmp"),
        Some(&rel(root, "var/log/btmp")),
        warn,
    )
}

/// [`logins`] from given files (a wtmp copied off another machine).
pub fn logins_from(
    wtmp: &Path,
    btmp: Option<&Path>,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Login>> {
    let mut out = Vec::new();
    let shown = |p: &Path| lossless(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()));
    match read_records(wtmp, warn) {
        Ok(r) => out.extend(sessions_from_wtmp(&r, &shown(wtmp))),
        Err(e) => warn(&e.to_string()),
    }
    if let Some(btmp) = btmp {
        match read_records(btmp, warn) {
            Ok(r) => out.extend(
                r.iter()
                    .filter(|r| r.kind == USER_PROCESS || r.kind == LOGIN_PROCESS)
                    .map(|r| login(r, "failed", &shown(btmp))),
            ),
            Err(e) if e.kind == crate::ErrorKind::NotFound => {}
            Err(e) => warn(&e.to_string()),
        }
    }
    out.sort_by(|a, b| b.start.cmp(&a.start));
    Ok(out)
}

/// Who is logged in now.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub user: String,
    pub tty: String,
    pub from: String,
    pub ip: Option<String>,
    pub start: String,
    pub pid: i32,
    /// The session's process still exists (a stale record otherwise).
    pub alive: bool,
}

/// `sys::sessions`: USER_PROCESS records of `/run/utmp` (or `/var/run/utmp`).
pub fn sessions(root: &Path, warn: &mut dyn FnMut(&str)) -> Result<Vec<Session>> {
    let Some(path) = ["run/utmp", "var/run/utmp"]
        .iter()
        .map(|p| rel(root, p))
        .find(|p| p.exists())
    else {
        warn("no utmp file (/run/utmp): no one has logged in through a terminal since boot, or it was removed");
        return Ok(Vec::new());
    };
    let recs = read_records(&path, warn)?;
    Ok(recs
        .iter()
        .filter(|r| r.kind == USER_PROCESS && !r.user.is_empty())
        .map(|r| Session {
            user: r.user.clone(),
            tty: r.line.clone(),
            from: r.host.clone(),
            ip: r.addr.map(|a| a.to_string()),
            start: iso(r.time),
            pid: r.pid,
            alive: r.pid > 0 && Path::new(&format!("/proc/{}", r.pid)).exists(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: i16, line: &str, user: &str, host: &str, time: i64) -> Record {
        Record {
            kind,
            pid: 42,
            line: line.into(),
            id: "ts/0".into(),
            user: user.into(),
            host: host.into(),
            time,
            addr: host.parse().ok(),
        }
    }

    #[test]
    fn records_round_trip_and_pair_up() {
        let r = rec(USER_PROCESS, "pts/0", "alice", "10.1.2.3", 1_700_000_000);
        assert_eq!(Record::parse(&r.to_bytes()), r);
        let v = sessions_from_wtmp(
            &[
                rec(BOOT_TIME, "~", "reboot", "6.1.0", 1_700_000_000),
                rec(USER_PROCESS, "pts/0", "alice", "10.1.2.3", 1_700_000_100),
                rec(USER_PROCESS, "pts/1", "bob", "", 1_700_000_200),
                rec(DEAD_PROCESS, "pts/0", "", "", 1_700_000_400),
            ],
            "wtmp",
        );
        assert_eq!(v.len(), 3);
        assert_eq!(v[1].status, "logout");
        assert_eq!(v[1].duration_s, Some(300));
        assert_eq!(v[1].ip.as_deref(), Some("10.1.2.3"));
        assert_eq!(v[2].status, "logged_in");
        assert_eq!(v[0].kind, "reboot");
    }
}
