//! TCP SYN scan over raw IPv4 sockets.
//!
//! Replies are matched statelessly: every probe carries a keyed hash of
//! (target, port) as its sequence number and leaves from one source port
//! chosen for the scan (outside the kernel's ephemeral range, so no local
//! connection shares it). A SYN-ACK or RST is ours when it comes back to
//! that port and acknowledges cookie + 1; an ICMP unreachable when the TCP
//! header it quotes carries the cookie. Our kernel answers SYN-ACKs with a
//! RST (no socket owns the port), which closes the target's half-open
//! connection as nmap's scans do.

use super::engine::{self, Driver, Tuning};
use super::packet::{self, Icmp, TCP_ACK, TCP_RST, TCP_SYN};
use super::{sock, PortOpts, PortResult, Progress};
use crate::cancel::CancelToken;
use crate::error::Result;
use socket2::Socket;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc;
use std::time::Duration;

/// A keyed hash of (ip, port): unguessable by others on the path, so a
/// forged or stale reply does not count.
#[derive(Clone)]
pub struct Cookie(std::collections::hash_map::RandomState);

impl Cookie {
    pub fn new() -> Self {
        Cookie(std::collections::hash_map::RandomState::new())
    }
    pub fn of(&self, ip: Ipv4Addr, port: u16) -> u32 {
        self.0.hash_one((u32::from(ip), port)) as u32
    }
}

impl Default for Cookie {
    fn default() -> Self {
        Self::new()
    }
}

/// A source port for one scan: above Linux's default ephemeral range.
pub fn pick_source_port() -> u16 {
    let r = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    61000 + (r % 4000) as u16
}

#[derive(Clone, Copy)]
enum Seen {
    Open,
    Closed,
    Unreachable,
}

/// One probe, fully decided, for whichever thread sends it.
#[derive(Clone, Copy)]
struct Probe {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dport: u16,
    seq: u32,
}

/// Sends a burst of probes, many per system call. A failed send (no route,
/// buffer trouble) leaves the probe silent: it is retried and, failing
/// that, reported filtered.
fn send_probes(s: &Socket, sport: u16, ps: &[Probe]) {
    let mut pkts = Vec::with_capacity(ps.len());
    let mut dsts = Vec::with_capacity(ps.len());
    for p in ps {
        let mut b = [0u8; 44];
        packet::ip_tcp_probe(p.src, p.dst, sport, p.dport, p.seq, TCP_SYN, 0, &mut b);
        pkts.push(b);
        dsts.push(p.dst);
    }
    sock::send_many(s, &pkts, &dsts);
}

/// The second sender. On a veth or loopback path the kernel does the
/// target's work (and routes its reply back) inside our send call, so a
/// single sender is CPU-bound in the kernel; a second thread sending half
/// of each burst puts the other core to work. Its socket was created by the
/// calling thread (in its namespace) and handed over; the thread opens none.
/// Each batch is handed back once sent: the scan waits for it, because a
/// probe's timeout runs from when it went out, not from when it was queued
/// (a helper descheduled on a busy machine held probes for longer than
/// their timeout, and their answers were counted as silence).
fn helper(
    rx: mpsc::Receiver<Vec<Probe>>,
    back: mpsc::Sender<Vec<Probe>>,
    sock: Socket,
    sport: u16,
) {
    for mut batch in rx {
        send_probes(&sock, sport, &batch);
        batch.clear();
        if back.send(batch).is_err() {
            return;
        }
    }
}

/// The scan's end of the helper's two channels.
struct Helper {
    tx: mpsc::Sender<Vec<Probe>>,
    sent: mpsc::Receiver<Vec<Probe>>,
}

struct SynDriver<'a> {
    /// Receives replies (every TCP segment for this namespace).
    tcp: Socket,
    /// Sends probes (IPPROTO_RAW: receives nothing).
    sender: Socket,
    helper: Option<Helper>,
    batch: Vec<Probe>,
    icmp: Option<Socket>,
    hosts: &'a [Ipv4Addr],
    srcs: Vec<Ipv4Addr>,
    ports: &'a [u16],
    port_index: Vec<u32>,
    host_index: HashMap<Ipv4Addr, usize>,
    sport: u16,
    cookie: Cookie,
    buf: Vec<u8>,
    rx: sock::Batch,
    /// Per host: the ARP round trip, for hosts on a directly attached link.
    seeds: Vec<Option<u32>>,
}

impl SynDriver<'_> {
    fn item(&self, host: usize, port: u16) -> Option<usize> {
        let p = *self.port_index.get(usize::from(port))?;
        (p != u32::MAX).then(|| p as usize * self.hosts.len() + host)
    }

    /// The replies to our probes in one read of the TCP socket.
    fn take_replies(&self, batch: &sock::Batch, out: &mut Vec<(usize, Seen)>) {
        for pkt in batch.packets() {
            let Some(r) = packet::parse_tcp(pkt) else {
                continue;
            };
            if r.dport != self.sport {
                continue;
            }
            let Some(&h) = self.host_index.get(&r.src) else {
                continue;
            };
            if r.ack.wrapping_sub(1) != self.cookie.of(r.src, r.sport) {
                continue;
            }
            let seen = if r.flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK {
                Seen::Open
            } else if r.flags & TCP_RST != 0 {
                Seen::Closed
            } else {
                continue;
            };
            if let Some(i) = self.item(h, r.sport) {
                out.push((i, seen));
            }
        }
    }
}

impl Driver for SynDriver<'_> {
    type Outcome = Seen;

    // Items run port-major, so consecutive probes go to different hosts.
    fn send(&mut self, i: usize) -> std::io::Result<()> {
        let h = i % self.hosts.len();
        let dport = self.ports[i / self.hosts.len()];
        let dst = self.hosts[h];
        self.batch.push(Probe {
            src: self.srcs[h],
            dst,
            dport,
            seq: self.cookie.of(dst, dport),
        });
        Ok(())
    }

    fn group(&self, i: usize) -> usize {
        i % self.hosts.len()
    }

    fn group_count(&self) -> usize {
        self.hosts.len()
    }

    fn seed_rtt(&self, g: usize) -> Option<u32> {
        self.seeds.get(g).copied().flatten()
    }

    fn flush(&mut self) {
        let mut batch = std::mem::take(&mut self.batch);
        let mut handed = false;
        if let Some(h) = &self.helper {
            if batch.len() >= 16 {
                let theirs = batch.split_off(batch.len() / 2);
                match h.tx.send(theirs) {
                    Ok(()) => handed = true,
                    Err(mpsc::SendError(back)) => batch.extend(back),
                }
            }
        }
        send_probes(&self.sender, self.sport, &batch);
        batch.clear();
        if handed {
            // If the helper is gone its probes count as silent: resent.
            let gone = self.helper.as_ref().is_none_or(|h| h.sent.recv().is_err());
            if gone {
                self.helper = None;
            }
        }
        self.batch = batch;
    }

    fn fds(&self) -> Vec<RawFd> {
        let mut v = vec![self.tcp.as_raw_fd()];
        v.extend(self.icmp.as_ref().map(|s| s.as_raw_fd()));
        v
    }

    fn drain(&mut self, out: &mut Vec<(usize, Seen)>) {
        let mut buf = std::mem::take(&mut self.buf);
        let mut batch = std::mem::take(&mut self.rx);
        while batch.recv(self.tcp.as_raw_fd()) > 0 {
            self.take_replies(&batch, out);
        }
        self.rx = batch;
        if let Some(icmp) = &self.icmp {
            while let Some(pkt) = sock::recv(icmp.as_raw_fd(), &mut buf) {
                if let Some(Icmp::Unreachable {
                    dst,
                    sport,
                    dport,
                    seq,
                }) = packet::parse_icmp(pkt)
                {
                    if sport != self.sport || seq != self.cookie.of(dst, dport) {
                        continue;
                    }
                    if let Some(i) = self.host_index.get(&dst).and_then(|&h| self.item(h, dport)) {
                        out.push((i, Seen::Unreachable));
                    }
                }
            }
        }
        self.buf = buf;
    }
}

/// How many (host, port) probes one batch holds, bounding memory for big
/// scans (hosts are scanned in groups, as nmap's hostgroups).
const BATCH_PROBES: usize = 1 << 22;

/// SYN-scans IPv4 `hosts` × `ports`. Returns every (host, port) result and
/// whether the scan was cut short by cancellation.
pub fn scan(
    hosts: &[Ipv4Addr],
    ports: &[u16],
    o: &PortOpts,
    cancel: &CancelToken,
    progress: &Progress,
    warn: &mut dyn FnMut(String),
) -> Result<(Vec<PortResult>, bool)> {
    let sport = o.source_port.unwrap_or_else(pick_source_port);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 || hosts.len() * ports.len() < 4096 {
        return scan_with(hosts, ports, o, sport, None, cancel, progress, warn);
    }
    let helper_sock = sock::raw_sender()?;
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        let (back, sent) = mpsc::channel();
        s.spawn(move || helper(rx, back, helper_sock, sport));
        // `tx` moves in and drops when the scan ends, which ends the helper.
        let h = Helper { tx, sent };
        scan_with(hosts, ports, o, sport, Some(h), cancel, progress, warn)
    })
}

#[allow(clippy::too_many_arguments)]
fn scan_with(
    hosts: &[Ipv4Addr],
    ports: &[u16],
    o: &PortOpts,
    sport: u16,
    helper: Option<Helper>,
    cancel: &CancelToken,
    progress: &Progress,
    warn: &mut dyn FnMut(String),
) -> Result<(Vec<PortResult>, bool)> {
    let tcp = sock::raw_ipv4(libc::IPPROTO_TCP)?;
    let icmp = sock::raw_ipv4(libc::IPPROTO_ICMP).ok();
    let mut sender = Some(sock::raw_sender()?);
    let ifaces = sock::interfaces();
    let mut helper = helper;
    let mut port_index = vec![u32::MAX; 65536];
    for (k, &p) in ports.iter().enumerate() {
        port_index[usize::from(p)] = k as u32;
    }
    let tuning = Tuning {
        rate: o.rate,
        window: o.concurrency.unwrap_or(4096).max(1),
        retries: o.retries,
        initial_rto: o.timeout.min(Duration::from_millis(1000)),
        min_rto: Duration::from_millis(50).min(o.timeout),
        retry_min_rto: Duration::from_millis(50).min(o.timeout),
        max_rto: o.timeout,
    };
    let group = (BATCH_PROBES / ports.len().max(1)).max(1);
    let mut out = Vec::with_capacity(hosts.len() * ports.len().min(64));
    let (mut tcp, mut icmp) = (Some(tcp), icmp);
    let cookie = Cookie::new();
    let mut done_before = 0u64;
    for chunk in hosts.chunks(group) {
        // Hosts with no route are reported once and skipped.
        let mut routed = Vec::new();
        let mut srcs = Vec::new();
        for &h in chunk {
            if ifaces.iter().any(|i| i.broadcast() == Some(h)) {
                continue;
            }
            match sock::source_for(IpAddr::V4(h)) {
                Some(IpAddr::V4(s)) => {
                    routed.push(h);
                    srcs.push(s);
                }
                _ => warn(format!("{h}: no route to this address; skipped")),
            }
        }
        if routed.is_empty() {
            continue;
        }
        let seeds = arp_seeds(&routed, &ifaces, cancel);
        let Some(tcp_sock) = tcp.take() else { break };
        let Some(send_sock) = sender.take() else {
            break;
        };
        let mut driver = SynDriver {
            tcp: tcp_sock,
            sender: send_sock,
            helper: helper.take(),
            batch: Vec::with_capacity(256),
            icmp: icmp.take(),
            hosts: &routed,
            srcs,
            ports,
            port_index: std::mem::take(&mut port_index),
            host_index: routed.iter().enumerate().map(|(i, h)| (*h, i)).collect(),
            sport,
            cookie: cookie.clone(),
            buf: vec![0u8; 65536],
            rx: sock::Batch::default(),
            seeds,
        };
        let sub = progress.offset(done_before);
        let res = engine::run(
            &mut driver,
            routed.len() * ports.len(),
            &tuning,
            cancel,
            &sub,
        );
        done_before += (routed.len() * ports.len()) as u64;
        tcp = Some(driver.tcp);
        sender = Some(driver.sender);
        helper = driver.helper;
        icmp = driver.icmp;
        port_index = driver.port_index;
        for (i, r) in res.results.iter().enumerate() {
            let (h, p) = (i % routed.len(), ports[i / routed.len()]);
            let (state, reason) = match r {
                Some((Seen::Open, _)) => ("open", "syn-ack"),
                Some((Seen::Closed, _)) => ("closed", "rst"),
                Some((Seen::Unreachable, _)) => ("filtered", "icmp-unreachable"),
                None if res.partial => continue,
                None => ("filtered", "timeout"),
            };
            out.push(PortResult {
                ip: routed[h].to_string(),
                port: p,
                proto: "tcp",
                state,
                reason,
                rtt_ms: r.map(|(_, us)| super::ms(us)),
                service: None,
                partial: res.partial,
            });
        }
        if res.partial {
            sort(&mut out);
            return Ok((out, true));
        }
    }
    sort(&mut out);
    Ok((out, false))
}

/// ARP round trips to the hosts on a directly attached link, as the first
/// timing sample of each (nmap seeds its timeouts from its ARP ping the same
/// way). Without one, a host that answers nothing at all (a firewall that
/// drops every SYN) is waited on with the blind 1 s initial timeout per try;
/// with one, with the floor every measured host gets. A host that does not
/// answer ARP gets no seed.
fn arp_seeds(hosts: &[Ipv4Addr], ifaces: &[sock::Iface], cancel: &CancelToken) -> Vec<Option<u32>> {
    let on_link: Vec<Ipv4Addr> = hosts
        .iter()
        .copied()
        .filter(|&h| {
            ifaces
                .iter()
                .any(|i| !i.loopback && i.mac.is_some() && i.contains(h) && i.ip != h)
        })
        .collect();
    if on_link.is_empty() || on_link.len() > 4096 {
        return vec![None; hosts.len()];
    }
    let o = super::discover::HostOpts {
        method: super::discover::HostMethod::Arp,
        timeout: Duration::from_millis(200),
        retries: 1,
        rate: 0,
        tcp_ports: Vec::new(),
    };
    let found = super::discover::hosts(&on_link, &o, cancel, &Progress::none(), &mut |_| {})
        .map(|(v, _)| v)
        .unwrap_or_default();
    let rtt: HashMap<String, u32> = found
        .into_iter()
        .filter(|h| h.method == "arp")
        .filter_map(|h| Some((h.ip, (h.rtt_ms? * 1000.0) as u32)))
        .collect();
    hosts
        .iter()
        .map(|h| rtt.get(&h.to_string()).copied())
        .collect()
}

/// Results by address, then port.
pub fn sort(v: &mut [PortResult]) {
    v.sort_by_cached_key(|r| (r.ip.parse::<IpAddr>().ok(), r.port));
}
