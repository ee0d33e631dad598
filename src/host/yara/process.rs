//! `proc::yara`: a process's readable mappings, read through /proc/PID/mem.
//!
//! Kernel pages (`[vvar]`, `[vsyscall]`) and device mappings are left out
//! without a word: they hold no attacker data and reading a device mapping
//! can have side effects. Any other region that cannot be read is a
//! warning; a process that disappears while it is read is one warning, and
//! what was matched before stays.

use super::{blank, convert, params, path_text, Bounds, MapRegion, Match, Rules};
use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::text::lossless;
use boreal::memory::{FragmentedMemory, MemoryParams, Region, RegionDescription};
use boreal::scanner::ScanError;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

/// Process memory is read in pieces of at most this size, so a 4 GB heap
/// does not need 4 GB of buffer. A string spanning two pieces is missed.
const CHUNK: usize = 32 << 20;
/// Unreadable regions named one by one per process before they are counted.
const REGION_WARNINGS: usize = 5;

/// The pids of `"all"`: every process but hound itself (its memory holds
/// the rules, which would match themselves).
pub fn process_pids() -> Result<Vec<i64>> {
    let me = std::process::id() as i64;
    let mut v: Vec<i64> = std::fs::read_dir("/proc")
        .map_err(|e| Error::io("/proc", e))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|p| *p != me)
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// Start time (clock ticks) and state from /proc/PID/stat: who the pid is.
fn identity(pid: i64) -> Option<(u64, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some((f.get(19)?.parse().ok()?, f.first()?.chars().next()?))
}

fn parse_maps(text: &str) -> Vec<MapRegion> {
    let mut v = Vec::new();
    for line in text.lines() {
        let mut it = line.splitn(6, ' ');
        let (Some(range), Some(perms)) = (it.next(), it.next()) else {
            continue;
        };
        let path = it.nth(3).map(str::trim).filter(|p| !p.is_empty());
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        v.push(MapRegion {
            start,
            end,
            perms: perms.to_string(),
            path: path.map(String::from),
        });
    }
    v
}

fn scannable(r: &MapRegion) -> bool {
    r.perms.starts_with('r')
        && !r.path.as_deref().is_some_and(|p| {
            matches!(p, "[vvar]" | "[vvar_vclock]" | "[vsyscall]")
                || (p.starts_with("/dev/") && !p.starts_with("/dev/shm/"))
        })
}

/// Scans one process. `not_found` when it does not exist (or is a zombie)
/// at the start; exiting later is a warning.
pub fn scan_process(
    rules: &Rules,
    pid: i64,
    b: &Bounds,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Match>> {
    let gone = || Error::not_found(format!("pid {pid}: no such process (it has exited)"));
    let (start_time, state) = identity(pid).ok_or_else(gone)?;
    if state == 'Z' || state == 'X' {
        return Err(gone());
    }
    let dir = format!("/proc/{pid}");
    let name = crate::host::proc::comm(pid as i32).unwrap_or_default();
    let exe = std::fs::read_link(format!("{dir}/exe"))
        .ok()
        .map(|p| path_text(&p));
    let open_err = |what: &str, e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => gone(),
        std::io::ErrorKind::PermissionDenied => Error::permission(format!(
            "pid {pid} ({}): cannot read its {what}",
            lossless(name.as_bytes())
        ))
        .with_hint("reading another user's process memory needs root (CAP_SYS_PTRACE)"),
        _ => Error::io(format!("pid {pid}: {what}"), e),
    };
    let mem = File::open(format!("{dir}/mem")).map_err(|e| open_err("memory", e))?;
    let maps = std::fs::read_to_string(format!("{dir}/maps")).map_err(|e| open_err("maps", e))?;
    let regions: Arc<Vec<MapRegion>> = Arc::new(parse_maps(&maps));
    let mut pieces = Vec::new();
    for (i, r) in regions.iter().enumerate().filter(|(_, r)| scannable(r)) {
        let mut at = r.start;
        while at < r.end {
            let len = (r.end - at).min(CHUNK as u64);
            pieces.push((i, at, len as usize));
            at += len;
        }
    }
    let failed = Arc::new(Mutex::new(Vec::new()));
    let memory = ProcMemory {
        mem,
        pieces,
        cur: None,
        buf: Vec::new(),
        failed: failed.clone(),
        cancel: cancel.clone(),
        #[cfg(test)]
        pid,
    };
    let mut scanner = rules.scanner.clone();
    scanner.set_scan_params(params(b.timeout).process_memory(true));
    let mut base = blank("process");
    base.pid = Some(pid);
    base.start_time_ticks = Some(start_time);
    base.name = Some(name.clone());
    base.exe = exe;
    let (res, err) = match scanner.scan_fragmented(memory) {
        Ok(r) => (r, None),
        Err((e, r)) => (r, Some(e)),
    };
    let mut out = convert(&scanner, res, base);
    cancel.check()?;
    let who = format!("pid {pid} ({})", lossless(name.as_bytes()));
    if let Some(ScanError::Timeout) = err {
        warn(&format!(
            "{who}: scan stopped at the per-process timeout ({} ms); {} rule(s) matched before it",
            b.timeout.map_or(0, |t| t.as_millis()),
            out.len()
        ));
    } else if let Some(e) = err {
        warn(&format!("{who}: {e}"));
    }
    let failed = failed.lock().map(|f| f.clone()).unwrap_or_default();
    let alive = identity(pid).is_some_and(|(t, s)| t == start_time && s != 'Z' && s != 'X');
    if !alive {
        warn(&format!(
            "{who} exited during the scan; {} match(es) kept",
            out.len()
        ));
    } else {
        for (ri, why) in failed.iter().take(REGION_WARNINGS) {
            if let Some(r) = regions.get(*ri) {
                warn(&format!(
                    "{who}: region {:x}-{:x} {} {} not read: {why}",
                    r.start,
                    r.end,
                    r.perms,
                    r.path.as_deref().unwrap_or("[anon]")
                ));
            }
        }
        if failed.len() > REGION_WARNINGS {
            warn(&format!(
                "{who}: {} more regions not read",
                failed.len() - REGION_WARNINGS
            ));
        }
    }
    for m in &mut out {
        if let Some(h) = m.strings.first() {
            m.region = regions
                .iter()
                .find(|r| r.start <= h.offset && h.offset < r.end)
                .cloned();
        }
    }
    Ok(out)
}

/// Up to `cap` bytes of a process's memory around `addr`, within `region`:
/// the evidence of a memory match.
pub fn read_region(pid: i64, region: &MapRegion, addr: u64, cap: u64) -> Result<(u64, Vec<u8>)> {
    let len = (region.end - region.start).min(cap);
    let start = if region.end - region.start <= cap {
        region.start
    } else {
        addr.saturating_sub(cap / 2)
            .clamp(region.start, region.end - len)
    };
    let path = format!("/proc/{pid}/mem");
    let mut f = File::open(&path).map_err(|e| Error::io(&path, e))?;
    let mut buf = vec![0u8; len as usize];
    f.seek(SeekFrom::Start(start))
        .and_then(|_| read_full(&mut f, &mut buf))
        .map(|n| {
            buf.truncate(n);
            (start, buf)
        })
        .map_err(|e| Error::io(format!("{path} at {start:x}"), e))
}

/// A reader over /proc/PID/mem in the regions /proc/PID/maps lists.
#[derive(Debug)]
struct ProcMemory {
    mem: File,
    /// Pieces to scan: (index into regions, start, length).
    pieces: Vec<(usize, u64, usize)>,
    cur: Option<usize>,
    buf: Vec<u8>,
    /// Regions that could not be read, by index, with the reason.
    failed: Arc<Mutex<Vec<(usize, String)>>>,
    cancel: CancelToken,
    #[cfg(test)]
    pid: i64,
}

/// Tests make a process exit in the middle of its scan: the hook for a pid
/// runs before its first region is read.
#[cfg(test)]
type FetchHook = Box<dyn FnOnce() + Send>;
#[cfg(test)]
static ON_FIRST_FETCH: Mutex<Vec<(i64, FetchHook)>> = Mutex::new(Vec::new());

impl FragmentedMemory for ProcMemory {
    fn next(&mut self, _p: &MemoryParams) -> Option<RegionDescription> {
        if self.cancel.is_cancelled() {
            return None;
        }
        let i = self.cur.map_or(0, |i| i + 1);
        self.cur = Some(i);
        let (_, start, length) = *self.pieces.get(i)?;
        Some(RegionDescription {
            start: start as usize,
            length,
        })
    }

    fn fetch(&mut self, _p: &MemoryParams) -> Option<Region<'_>> {
        let (ri, start, len) = *self.pieces.get(self.cur?)?;
        #[cfg(test)]
        {
            let hook = ON_FIRST_FETCH.lock().ok().and_then(|mut h| {
                let i = h.iter().position(|(p, _)| *p == self.pid)?;
                Some(h.remove(i).1)
            });
            if let Some(hook) = hook {
                hook();
            }
        }
        self.buf.resize(len, 0);
        let res = self
            .mem
            .seek(SeekFrom::Start(start))
            .and_then(|_| read_full(&mut self.mem, &mut self.buf));
        match res {
            Ok(n) if n > 0 => Some(Region {
                start: start as usize,
                mem: &self.buf[..n],
            }),
            Ok(_) => {
                self.fail(ri, "end of file (the process may have exited)".into());
                None
            }
            Err(e) => {
                self.fail(ri, e.to_string());
                None
            }
        }
    }

    fn reset(&mut self) {
        self.cur = None;
    }
}

impl ProcMemory {
    fn fail(&self, ri: usize, why: String) {
        if let Ok(mut f) = self.failed.lock() {
            if !f.iter().any(|(i, _)| *i == ri) {
                f.push((ri, why));
            }
        }
    }
}

/// Reads until the buffer is full or the end; a short read is kept.
fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if n > 0 => {
                let _ = e;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_parse() {
        let m = parse_maps(
            "55d0c000-55d0d000 r-xp 00000000 08:01 131 /usr/bin/my prog\n\
             7ffd1000-7ffd3000 r--p 00000000 00:00 0                  [vvar]\n\
             7ffe0000-7ffe1000 rw-p 00000000 00:00 0 \n",
        );
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].path.as_deref(), Some("/usr/bin/my prog"));
        assert!(scannable(&m[0]) && !scannable(&m[1]) && scannable(&m[2]));
        assert_eq!(m[2].path, None);
    }

    #[test]
    fn own_memory_is_found() {
        let marker: String = ["hound", "-", "inmem", "-", "7731"].concat();
        let r = super::super::compile(
            "rule m { strings: $a = { 68 6f 75 6e 64 2d 69 6e 6d 65 6d 2d 37 37 33 31 } condition: $a }",
        )
        .unwrap();
        let mut w = Vec::new();
        let v = scan_process(
            &r,
            std::process::id() as i64,
            &Bounds::default(),
            &CancelToken::new(),
            &mut |m| w.push(m.to_string()),
        )
        .unwrap();
        assert!(!v.is_empty(), "{w:?}");
        assert!(v[0].region.is_some());
        drop(marker);
    }

    #[test]
    fn a_process_exiting_mid_scan_is_a_warning() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i64;
        let killer = std::sync::Arc::new(Mutex::new(Some(child.id())));
        let k = killer.clone();
        ON_FIRST_FETCH.lock().unwrap().push((
            pid,
            Box::new(move || {
                if let Some(p) = k.lock().unwrap().take() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(p as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    // Reaped, so /proc/PID is gone, not a zombie.
                    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(p as i32), None);
                }
            }),
        ));
        let r =
            super::super::compile("rule m { strings: $a = \"never-there-31337\" condition: $a }")
                .unwrap();
        let mut w = Vec::new();
        let v = scan_process(&r, pid, &Bounds::default(), &CancelToken::new(), &mut |m| {
            w.push(m.to_string())
        })
        .unwrap();
        let _ = child.wait();
        assert!(v.is_empty());
        assert!(
            w.iter()
                .any(|m| m.contains(&format!("pid {pid} (sleep) exited during the scan"))),
            "{w:?}"
        );
        assert!(!w.iter().any(|m| m.contains("not read")), "{w:?}");
    }
}
