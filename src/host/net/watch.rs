//! Sampling sockets over time: which connections appear, in which states,
//! and who makes them. Owners and parent chains are captured when a
//! connection is first seen, because the processes behind beacons are
//! short-lived.
//!
//! A connection that opens and closes between two samples shows only as a
//! TIME-WAIT socket, which the kernel no longer ties to a process: such
//! attempts are counted, with no owner. Blocked attempts hang in SYN-SENT
//! and are always attributed.

use super::{build, raw, Filter, Protos, Raw, Socket};
use crate::cancel::CancelToken;
use crate::error::Result;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub proto: &'static str,
    pub local_ip: String,
    pub local_port: u16,
    pub remote_ip: String,
    pub remote_port: u16,
    pub states: Vec<&'static str>,
    /// The handshake completed (seen ESTAB, or a state that follows it).
    pub established: bool,
    pub first_seen: String,
    pub first_seen_s: f64,
    pub last_seen_s: f64,
    pub pid: Option<i32>,
    pub process: Option<String>,
    pub ppid: Option<i32>,
    /// The parent chain when first seen, outermost first.
    pub chain: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub attempts: usize,
    pub established: usize,
    pub by_process: BTreeMap<String, usize>,
    pub by_destination: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Watch {
    pub attempts: Vec<Attempt>,
    pub summary: Summary,
    pub seconds: f64,
    /// Cancelled before the end: what was seen so far.
    pub partial: bool,
}

type Key = (&'static str, String, String);

fn key(r: &Raw) -> Key {
    (r.proto, r.local.to_string(), r.remote.to_string())
}

/// States a TCP connection reaches only after its handshake completed: a
/// TIME-WAIT socket is a connection that got through, then closed.
fn was_established(state: &str) -> bool {
    matches!(
        state,
        "ESTAB" | "FIN-WAIT-1" | "FIN-WAIT-2" | "TIME-WAIT" | "CLOSE-WAIT" | "LAST-ACK" | "CLOSING"
    )
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn ppid(pid: i32) -> Option<i32> {
    procfs::process::Process::new(pid)
        .ok()?
        .stat()
        .ok()
        .map(|s| s.ppid)
}

/// Watches connections that pass `f` for `duration`, sampling every `every`.
pub fn watch(
    f: &Filter,
    duration: Duration,
    every: Duration,
    cancel: &CancelToken,
) -> Result<Watch> {
    let protos = Protos::of(f.proto.as_deref())?;
    // Netlink when the kernel offers it; a fallback is silent here, as
    // the sampling loop would repeat the warning ten times a second.
    let mut why = None;
    let mut diag = super::open_diag(&mut why);
    let start = Instant::now();
    let mut baseline: Option<HashSet<Key>> = None;
    let mut seen: HashMap<Key, Attempt> = HashMap::new();
    let mut order: Vec<Key> = Vec::new();
    let mut owners: HashMap<u64, Vec<i32>> = HashMap::new();
    let mut names = HashMap::new();
    let mut partial = false;
    loop {
        let now = SystemTime::now();
        let rows: Vec<Raw> = raw(protos, &mut diag, &mut why)?
            .into_iter()
            .filter(|r| r.state != "LISTEN" && !r.remote.ip().is_unspecified() && f.keep_raw(r))
            .collect();
        let base = baseline.get_or_insert_with(|| rows.iter().map(key).collect());
        // Owners are looked up only when a new socket has no known owner yet.
        if rows
            .iter()
            .any(|r| r.inode != 0 && !owners.contains_key(&r.inode) && !base.contains(&key(r)))
        {
            if let Ok(o) = super::owners(cancel) {
                owners = o.by_inode;
            }
        }
        for r in rows {
            let k = key(&r);
            if base.contains(&k) {
                continue;
            }
            let state = r.state;
            let inode = r.inode;
            match seen.get_mut(&k) {
                Some(a) => {
                    a.last_seen_s = epoch(now);
                    if !a.states.contains(&state) {
                        a.states.push(state);
                    }
                    a.established |= was_established(state);
                    if a.pid.is_none() && inode != 0 {
                        if let Some(p) = owners.get(&inode).and_then(|v| v.first()) {
                            a.pid = Some(*p);
                            a.process = crate::host::proc::comm(*p);
                            a.ppid = ppid(*p);
                            a.chain = Some(crate::host::proc::chain_text(*p));
                        }
                    }
                }
                None => {
                    let s: Socket = build(r, &owners, &mut names);
                    let a = Attempt {
                        proto: s.proto,
                        local_ip: s.local_ip,
                        local_port: s.local_port,
                        remote_ip: s.remote_ip,
                        remote_port: s.remote_port,
                        states: vec![state],
                        established: was_established(state),
                        first_seen: chrono::DateTime::<chrono::Utc>::from(now)
                            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        first_seen_s: epoch(now),
                        last_seen_s: epoch(now),
                        pid: s.pid,
                        process: s.process,
                        ppid: s.pid.and_then(ppid),
                        chain: s.pid.map(crate::host::proc::chain_text),
                    };
                    order.push(k.clone());
                    seen.insert(k, a);
                }
            }
        }
        if start.elapsed() >= duration {
            break;
        }
        if cancel
            .sleep(every.min(duration.saturating_sub(start.elapsed())))
            .is_err()
        {
            partial = true;
            break;
        }
    }
    let attempts: Vec<Attempt> = order.into_iter().filter_map(|k| seen.remove(&k)).collect();
    let mut by_process = BTreeMap::new();
    let mut by_destination = BTreeMap::new();
    for a in &attempts {
        let who = match (&a.process, a.pid) {
            (Some(n), Some(p)) => format!("{n} (pid {p})"),
            _ => "unknown (closed before it could be attributed)".to_string(),
        };
        *by_process.entry(who).or_insert(0) += 1;
        *by_destination
            .entry(format!("{}:{}", a.remote_ip, a.remote_port))
            .or_insert(0) += 1;
    }
    Ok(Watch {
        summary: Summary {
            attempts: attempts.len(),
            established: attempts.iter().filter(|a| a.established).count(),
            by_process,
            by_destination,
        },
        attempts,
        seconds: start.elapsed().as_secs_f64(),
        partial,
    })
}
