//! The scan primitives end to end: which method each target gets (raw
//! SYN/ARP/ICMP for IPv4 with privilege, connect for IPv6 or without), the
//! progress bar, ordering, the service stage, and marking results partial
//! on cancellation. The Rhai bindings (`primitives/scan.rs`) only check
//! arguments, call these and convert the structs.
//!
//! A cancelled scan is not an error here: it returns what it found with
//! `partial` set, so the caller can still show it.

use super::discover::{self, HostMethod, HostOpts};
use super::services::{self, ServiceResult};
use super::{connect, sock, syn, HostResult, PortMethod, PortOpts, PortResult, Progress};
use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A future the caller's runtime drives to completion.
pub type Task = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// What a scan needs from the run that starts it.
pub struct Env<'a> {
    pub cancel: &'a CancelToken,
    /// Whether a progress bar may be drawn.
    pub interactive: bool,
    /// The progress bar's label.
    pub label: &'a str,
    pub warn: &'a dyn Fn(&str),
    /// Runs a task; `Err(cancelled)` when the run is cancelled meanwhile.
    pub block_on: &'a dyn Fn(Task) -> Result<()>,
}

impl Env<'_> {
    fn progress(&self, total: usize) -> Progress {
        Progress::new(self.interactive, total as u64, self.label)
    }

    /// Runs a collector-based task; `Ok(true)` when it was cancelled.
    fn collect(&self, task: Task) -> Result<bool> {
        match (self.block_on)(task) {
            Ok(()) => Ok(false),
            Err(e) if e.is_cancelled() => Ok(true),
            Err(e) => Err(e),
        }
    }
}

/// Results, and whether cancellation cut them short.
#[derive(Debug)]
pub struct Scanned<T> {
    pub results: Vec<T>,
    pub partial: bool,
}

/// How `ports` presents and extends its results.
#[derive(Debug, Clone, Copy)]
pub struct PortView {
    /// Every port, or only open ones.
    pub show_all: bool,
    /// Identify the services on open ports.
    pub version: bool,
}

fn split(t: &[IpAddr]) -> (Vec<Ipv4Addr>, Vec<IpAddr>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for ip in t {
        match ip {
            IpAddr::V4(a) => v4.push(*a),
            IpAddr::V6(_) => v6.push(*ip),
        }
    }
    (v4, v6)
}

fn take<T>(v: &Arc<Mutex<Vec<T>>>) -> Vec<T> {
    v.lock()
        .map(|mut g| std::mem::take(&mut *g))
        .unwrap_or_default()
}

/// Whether raw sockets will be used for a port scan; warns when `Auto`
/// falls back to connect.
fn use_raw(env: &Env, method: PortMethod) -> Result<bool> {
    let raw = sock::raw_allowed();
    match method {
        PortMethod::Connect => Ok(false),
        PortMethod::Syn if !raw => Err(Error::permission(
            "a SYN scan needs raw sockets (root or CAP_NET_RAW)",
        )
        .with_hint("run as root, or use method: \"connect\"")),
        PortMethod::Syn => Ok(true),
        PortMethod::Auto => {
            if !raw {
                (env.warn)("no raw-socket privilege: falling back to a TCP connect scan (slower, logged by targets)");
            }
            Ok(raw)
        }
    }
}

/// The connect scan both port scans and host discovery fall back to (IPv6
/// targets, or no raw sockets). Returns the results and whether it was
/// cancelled.
fn connect_ports(
    env: &Env,
    targets: Vec<IpAddr>,
    ports: &[u16],
    po: PortOpts,
    progress: Progress,
) -> Result<(Vec<PortResult>, bool)> {
    let coll = Arc::new(Mutex::new(Vec::new()));
    let task = connect::scan(targets, ports.to_vec(), po, progress, coll.clone());
    let partial = env.collect(Box::pin(task))?;
    Ok((take(&coll), partial))
}

fn mark<T>(v: &mut [T], partial: bool, flag: impl Fn(&mut T) -> &mut bool) {
    if partial {
        v.iter_mut().for_each(|r| *flag(r) = true);
    }
}

/// Port results for `targets` × `ports`, every state, in address order.
pub fn port_scan(
    env: &Env,
    t: &[IpAddr],
    ports: &[u16],
    po: &PortOpts,
) -> Result<Scanned<PortResult>> {
    let raw = use_raw(env, po.method)?;
    let progress = env.progress(t.len() * ports.len());
    let (v4, v6) = split(t);
    let mut out = Vec::new();
    let mut partial = false;
    let connect_targets = if raw {
        let warn = &mut |w: String| (env.warn)(&w);
        (out, partial) = syn::scan(&v4, ports, po, env.cancel, &progress, warn)?;
        v6
    } else {
        t.to_vec()
    };
    if !connect_targets.is_empty() && !partial {
        let rest = progress.offset(out.len() as u64);
        let (r, part) = connect_ports(env, connect_targets, ports, po.clone(), rest)?;
        out.extend(r);
        partial = part;
        syn::sort(&mut out);
    }
    progress.finish();
    mark(&mut out, partial, |r| &mut r.partial);
    Ok(Scanned {
        results: out,
        partial,
    })
}

/// `scan::ports`: the port scan, optionally with the services of open
/// ports merged in, then filtered as `view` says.
pub fn ports(
    env: &Env,
    t: &[IpAddr],
    ports: &[u16],
    po: &PortOpts,
    view: PortView,
) -> Result<Scanned<PortResult>> {
    let Scanned {
        results: mut res,
        mut partial,
    } = port_scan(env, t, ports, po)?;
    if view.version && !partial {
        let ids = identify(env, open_of(&res), Duration::from_secs(3), po.concurrency)?;
        partial = ids.partial;
        for id in ids.results {
            if let Some(r) = res.iter_mut().find(|r| r.ip == id.ip && r.port == id.port) {
                r.service = Some(id.info);
                r.partial |= ids.partial;
            }
        }
    }
    if !view.show_all {
        res.retain(|r| r.state == "open");
    }
    Ok(Scanned {
        results: res,
        partial,
    })
}

fn open_of(res: &[PortResult]) -> Vec<(IpAddr, u16)> {
    res.iter()
        .filter(|r| r.state == "open")
        .filter_map(|r| Some((r.ip.parse().ok()?, r.port)))
        .collect()
}

/// Identifies the services on `open`, in address order.
pub fn identify(
    env: &Env,
    open: Vec<(IpAddr, u16)>,
    timeout: Duration,
    conc: Option<usize>,
) -> Result<Scanned<ServiceResult>> {
    let progress = env.progress(open.len());
    let coll = Arc::new(Mutex::new(Vec::new()));
    let window = connect::fd_window(conc.or(Some(256)));
    let task = services::identify_all(open, timeout, window, progress.clone(), coll.clone());
    let partial = env.collect(Box::pin(task))?;
    progress.finish();
    let mut v = take(&coll);
    v.sort_by_cached_key(|r| (r.ip.parse::<IpAddr>().ok(), r.port));
    mark(&mut v, partial, |r| &mut r.partial);
    Ok(Scanned {
        results: v,
        partial,
    })
}

/// `scan::services`: a port scan (`po`, its timeout capped at 1 s), then
/// identification of the open ports with `timeout` per port, and with
/// `udp` the UDP services of every target. A scan cancelled before the
/// identification returns nothing.
pub fn services(
    env: &Env,
    t: &[IpAddr],
    ports: &[u16],
    po: &PortOpts,
    timeout: Duration,
    udp: bool,
) -> Result<Scanned<ServiceResult>> {
    let scan_opts = PortOpts {
        timeout: po.timeout.min(Duration::from_secs(1)),
        ..po.clone()
    };
    let scanned = port_scan(env, t, ports, &scan_opts)?;
    if scanned.partial {
        return Ok(Scanned {
            results: Vec::new(),
            partial: true,
        });
    }
    let mut ids = identify(env, open_of(&scanned.results), timeout, po.concurrency)?;
    if udp && !ids.partial {
        let coll = Arc::new(Mutex::new(Vec::new()));
        let task = services::identify_udp(t.to_vec(), timeout, coll.clone());
        ids.partial = env.collect(Box::pin(task))?;
        ids.results.extend(take(&coll));
        ids.results
            .sort_by_cached_key(|r| (r.ip.parse::<IpAddr>().ok(), r.port, r.proto));
        mark(&mut ids.results, ids.partial, |r| &mut r.partial);
    }
    Ok(ids)
}

/// `scan::hosts`: raw probes for IPv4 with privilege, TCP connect probes
/// for the rest (IPv6, no privilege, or `method: connect`).
pub fn hosts(env: &Env, t: &[IpAddr], ho: &HostOpts) -> Result<Scanned<HostResult>> {
    let raw = sock::raw_allowed();
    if !raw
        && matches!(
            ho.method,
            HostMethod::Arp | HostMethod::Icmp | HostMethod::Tcp
        )
    {
        return Err(Error::permission(
            "ARP, ICMP and TCP probes need raw sockets (root or CAP_NET_RAW)",
        )
        .with_hint("run as root, or use method: \"connect\""));
    }
    if !raw && ho.method == HostMethod::Auto {
        (env.warn)("no raw-socket privilege: falling back to TCP connect probes (hosts that refuse or drop those ports are missed)");
    }
    let (v4, v6) = split(t);
    let progress = env.progress(t.len());
    let mut found = Vec::new();
    let mut partial = false;
    let connect_targets = if raw && ho.method != HostMethod::Connect {
        let warn = &mut |w: String| (env.warn)(&w);
        (found, partial) = discover::hosts(&v4, ho, env.cancel, &progress, warn)?;
        v6
    } else {
        t.to_vec()
    };
    if !connect_targets.is_empty() && !partial {
        let po = PortOpts {
            method: PortMethod::Connect,
            timeout: ho.timeout,
            retries: ho.retries,
            ..PortOpts::default()
        };
        let (r, part) = connect_ports(env, connect_targets, &ho.tcp_ports, po, Progress::none())?;
        found.extend(hosts_from_ports(&r));
        partial = part;
        discover::sort_hosts(&mut found);
    }
    progress.finish();
    mark(&mut found, partial, |h| &mut h.partial);
    Ok(Scanned {
        results: found,
        partial,
    })
}

/// Hosts that answered a connect probe at all (accepted or refused), each
/// with its fastest round trip.
fn hosts_from_ports(v: &[PortResult]) -> Vec<HostResult> {
    let mut best: BTreeMap<String, f64> = BTreeMap::new();
    for r in v.iter().filter(|r| r.state != "filtered") {
        let rtt = r.rtt_ms.unwrap_or(0.0);
        let e = best.entry(r.ip.clone()).or_insert(rtt);
        *e = e.min(rtt);
    }
    best.into_iter()
        .map(|(ip, rtt)| HostResult {
            ip,
            mac: None,
            vendor: None,
            method: "tcp-connect".into(),
            rtt_ms: Some(rtt),
            partial: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(ip: &str, state: &'static str, rtt: Option<f64>) -> PortResult {
        PortResult {
            ip: ip.into(),
            port: 80,
            proto: "tcp",
            state,
            reason: "x",
            rtt_ms: rtt,
            service: None,
            partial: false,
        }
    }

    #[test]
    fn connect_answers_become_hosts_with_their_fastest_rtt() {
        let v = [
            port("10.0.0.2", "closed", Some(3.0)),
            port("10.0.0.2", "open", Some(1.0)),
            port("10.0.0.3", "filtered", None),
        ];
        let h = hosts_from_ports(&v);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].ip, "10.0.0.2");
        assert_eq!(h[0].rtt_ms, Some(1.0));
        assert_eq!(h[0].method, "tcp-connect");
    }

    #[test]
    fn split_keeps_order_per_family() {
        let t: Vec<IpAddr> = ["10.0.0.2", "::1", "10.0.0.1"]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        let (v4, v6) = split(&t);
        assert_eq!(v4, [Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 1)]);
        assert_eq!(v6.len(), 1);
    }
}
