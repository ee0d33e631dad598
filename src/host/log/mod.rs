//! Host layer for `log::`: web access logs parsed into rows, and the journal
//! (not read natively yet). `log::tail`/`log::grep` reuse `host::fs`.

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::text::lossless;
use regex::bytes::Regex;
use serde::Serialize;
use std::io::BufReader;
use std::path::Path;
use std::sync::OnceLock;

pub mod auth;
pub mod journal;

/// One request from an Apache/Nginx access log.
#[derive(Debug, Clone, Serialize)]
pub struct Access {
    pub line_no: u64,
    pub client: String,
    pub ident: String,
    pub user: String,
    /// ISO 8601 UTC.
    pub time: String,
    pub method: String,
    pub path: String,
    pub protocol: String,
    pub status: i64,
    pub bytes: i64,
    pub referer: String,
    pub agent: String,
    /// The request line as logged (garbage from scanners lands here whole).
    pub request: String,
}

/// Combined format; the referer/agent pair is optional, so the common
/// format parses too. Quoted fields honour `\"` escapes.
/// (`None` cannot happen for this constant pattern; the tests cover it.)
fn access_regex() -> Option<&'static Regex> {
    static RX: OnceLock<Option<Regex>> = OnceLock::new();
    RX.get_or_init(|| {
        Regex::new(
            r#"^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?"#,
        )
        .ok()
    })
    .as_ref()
}

fn apache_time(s: &str) -> String {
    chrono::DateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S %z")
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_else(|_| s.to_string())
}

/// Parses one line; `None` when it is not in combined or common format.
pub fn parse_line(line: &[u8], line_no: u64) -> Option<Access> {
    let c = access_regex()?.captures(line)?;
    let s = |i: usize| c.get(i).map(|m| lossless(m.as_bytes())).unwrap_or_default();
    let request = s(5);
    let parts: Vec<&str> = request.split(' ').collect();
    let (method, path, protocol) = match parts.as_slice() {
        [m, p, v] if v.starts_with("HTTP/") => (m.to_string(), p.to_string(), v.to_string()),
        [m, p] => (m.to_string(), p.to_string(), String::new()),
        _ => (String::new(), request.clone(), String::new()),
    };
    Some(Access {
        line_no,
        client: s(1),
        ident: s(2),
        user: s(3),
        time: apache_time(&s(4)),
        method,
        path,
        protocol,
        status: s(6).parse().unwrap_or(0),
        bytes: s(7).parse().unwrap_or(0),
        referer: s(8),
        agent: s(9),
        request,
    })
}

/// What `log::parse_access` keeps.
#[derive(Debug, Clone, Default)]
pub struct AccessOpts {
    /// Only lines this regex matches (checked on the raw line, before
    /// parsing: the cheap way through a multi-gigabyte log).
    pub matching: Option<Regex>,
    /// Only requests at or after this ISO 8601 UTC time.
    pub since: Option<String>,
    pub limit: Option<usize>,
}

/// Longest referer or user agent kept (real ones are a few hundred bytes):
/// padding them is how a hostile log blew the script's data limit.
pub const AGENT_MAX: usize = 1024;

/// Text all rows together may hold. The engine's limit on a value's strings
/// (64 MiB) ends the whole hunt with an error scripts cannot catch; stopping
/// here is a warning, and the hunt goes on with the rows it has.
pub const ROWS_TEXT_MAX: usize = 32 << 20;

/// Cuts `s` to `max` bytes at a char boundary, saying how much went.
fn cut(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut at = max;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    let dropped = s.len() - at;
    s.truncate(at);
    s.push_str(&format!("…[{dropped} more bytes]"));
    true
}

fn text_len(a: &Access) -> usize {
    [
        &a.client,
        &a.ident,
        &a.user,
        &a.time,
        &a.method,
        &a.path,
        &a.protocol,
        &a.referer,
        &a.agent,
        &a.request,
    ]
    .iter()
    .map(|s| s.len())
    .sum()
}

/// `log::parse_access`: every parseable line; the rest are counted in one
/// warning naming the first bad line.
pub fn parse_access(
    path: &Path,
    opts: &AccessOpts,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Access>> {
    parse_access_within(path, opts, ROWS_TEXT_MAX, cancel, warn)
}

/// [`parse_access`] with the text budget as a parameter (tests use a small one).
pub fn parse_access_within(
    path: &Path,
    opts: &AccessOpts,
    budget: usize,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Access>> {
    let limit = opts.limit.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut text = 0usize;
    let mut stop: Option<String> = None;
    for_each_access(path, opts, cancel, warn, &mut |a| {
        text += text_len(&a);
        if text > budget {
            stop = Some(format!(
                "{}: stopped at line {}: the {} rows so far hold {budget} bytes of text, \
                 the most one call returns (narrow it with grep, since or limit, or use log::each_access)",
                path.display(),
                a.line_no,
                out.len()
            ));
            return Ok(false);
        }
        let no = a.line_no;
        out.push(a);
        if out.len() >= limit {
            stop = Some(format!("stopped at the limit of {limit} rows (line {no})"));
            return Ok(false);
        }
        Ok(true)
    })?;
    if let Some(w) = stop {
        warn(&w);
    }
    Ok(out)
}

/// Streams the rows of an access log to `f` one at a time (nothing is
/// collected), with the same filters and warnings as [`parse_access`];
/// `f` returns `false` to stop. Returns the number of rows given to `f`.
pub fn for_each_access(
    path: &Path,
    opts: &AccessOpts,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
    f: &mut dyn FnMut(Access) -> Result<bool>,
) -> Result<u64> {
    let file = crate::host::fs::read::open_regular(path, false)?;
    let mut r = BufReader::with_capacity(64 * 1024, file);
    let mut line = Vec::new();
    let mut no = 0u64;
    let mut rows = 0u64;
    let (mut bad, mut first_bad) = (0u64, 0u64);
    let mut long = 0u64;
    loop {
        line.clear();
        let n = crate::host::fs::read::read_line_capped(
            &mut r,
            &mut line,
            crate::host::fs::read::MAX_LINE,
        )
        .map_err(|e| Error::io(path.display(), e))?;
        if n == 0 {
            break;
        }
        no += 1;
        if no % 4096 == 0 {
            cancel.check()?;
        }
        let l = line.strip_suffix(b"\n").unwrap_or(&line);
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if l.iter().all(u8::is_ascii_whitespace)
            || opts.matching.as_ref().is_some_and(|rx| !rx.is_match(l))
        {
            continue;
        }
        match parse_line(l, no) {
            // Both sides are `YYYY-MM-DDTHH:MM:SSZ`, so strings compare as times.
            Some(a) if opts.since.as_ref().is_some_and(|s| a.time < *s) => {}
            Some(mut a) => {
                if cut(&mut a.agent, AGENT_MAX) | cut(&mut a.referer, AGENT_MAX) {
                    long += 1;
                }
                rows += 1;
                if !f(a)? {
                    break;
                }
            }
            None => {
                bad += 1;
                if first_bad == 0 {
                    first_bad = no;
                }
            }
        }
    }
    if long > 0 {
        warn(&format!(
            "{}: {long} rows had a referer or user agent over {AGENT_MAX} bytes (cut)",
            path.display()
        ));
    }
    if bad > 0 {
        warn(&format!(
            "{}: {bad} lines are not in combined/common log format (first at line {first_bad})",
            path.display()
        ));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_and_common_lines() {
        let a = parse_line(
            br#"203.0.113.9 - bob [10/Oct/2023:13:55:36 -0700] "GET /cgi-bin/x.php?c=id HTTP/1.1" 200 2326 "http://ref/" "Mozilla/5.0 \"quoted\"""#,
            7,
        )
        .unwrap();
        assert_eq!(a.client, "203.0.113.9");
        assert_eq!(a.user, "bob");
        assert_eq!(a.time, "2023-10-10T20:55:36Z");
        assert_eq!(a.method, "GET");
        assert_eq!(a.path, "/cgi-bin/x.php?c=id");
        assert_eq!(a.status, 200);
        assert_eq!(a.bytes, 2326);
        assert_eq!(a.agent, r#"Mozilla/5.0 \"quoted\""#);
        let c = parse_line(br#"::1 - - [01/Jan/2024:00:00:00 +0000] "-" 400 -"#, 1).unwrap();
        assert_eq!(c.path, "-");
        assert_eq!(c.bytes, 0);
        assert!(parse_line(b"garbage", 1).is_none());
    }

    /// A log padded to blow the script's data limit is cut with warnings,
    /// never an error: the hunt keeps the rows it can hold.
    #[test]
    fn padded_log_is_bounded_with_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("access.log");
        let pad = "A".repeat(8192);
        let line = format!(
            "203.0.113.9 - - [10/Oct/2023:13:55:36 -0700] \"GET /{pad} HTTP/1.1\" 200 1 \"-\" \"{pad}é\"\n"
        );
        std::fs::write(&p, line.repeat(50)).unwrap();
        let mut warnings = Vec::new();
        let rows = parse_access_within(
            &p,
            &AccessOpts::default(),
            300_000,
            &CancelToken::new(),
            &mut |w| warnings.push(w.to_string()),
        )
        .unwrap();
        assert!(rows.len() > 5 && rows.len() < 50, "{}", rows.len());
        assert!(rows[0].agent.len() < AGENT_MAX + 32);
        assert!(
            warnings.iter().any(|w| w.contains("stopped at line")),
            "{warnings:?}"
        );
        assert!(warnings.iter().any(|w| w.contains("(cut)")), "{warnings:?}");
    }
}
