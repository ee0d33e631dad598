//! Host discovery with raw sockets: ARP for addresses on a directly attached
//! link (authoritative there: a host that drops all IP still answers ARP),
//! and for routed addresses an ICMP echo, a TCP SYN to 443 and a TCP ACK to
//! 80 (nmap's default mix; any answer, even a RST, proves the host is up).
//! The unprivileged fallback is in `connect.rs`.

use super::engine::{self, Driver, Tuning};
use super::packet::{self, Icmp, TCP_ACK, TCP_SYN};
use super::sock::{self, Iface};
use super::syn::{pick_source_port, Cookie};
use super::{oui, HostResult, Progress};
use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use socket2::Socket;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

/// Floor of the timeout of a discovery probe that will be resent, in ms:
/// twenty times a slow LAN round trip, a fifth of the last try's floor.
const RETRY_FLOOR_MS: u64 = 20;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Which probes discovery may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostMethod {
    Auto,
    Arp,
    Icmp,
    Tcp,
    Connect,
}

#[derive(Debug, Clone)]
pub struct HostOpts {
    pub method: HostMethod,
    pub timeout: Duration,
    pub retries: u32,
    pub rate: u64,
    /// TCP ports for the SYN probe (first) and ACK probe (second), and for
    /// the connect fallback (all).
    pub tcp_ports: Vec<u16>,
}

impl Default for HostOpts {
    fn default() -> Self {
        HostOpts {
            method: HostMethod::Auto,
            timeout: Duration::from_millis(1000),
            retries: 1,
            rate: 0,
            tcp_ports: vec![443, 80, 22],
        }
    }
}

#[derive(Clone, Copy)]
enum How {
    Arp([u8; 6]),
    Echo,
    Tcp,
}

enum Plan {
    Arp(usize),
    Routed(Ipv4Addr),
}

struct DiscDriver<'a> {
    hosts: &'a [Ipv4Addr],
    plans: Vec<Plan>,
    ifaces: Vec<(Iface, OwnedFd)>,
    icmp: Option<Socket>,
    tcp: Option<Socket>,
    index: HashMap<Ipv4Addr, usize>,
    method: HostMethod,
    syn_port: u16,
    ack_port: u16,
    sport: u16,
    echo_id: u16,
    cookie: Cookie,
    buf: Vec<u8>,
}

impl Driver for DiscDriver<'_> {
    type Outcome = How;

    fn packets_per_item(&self) -> u64 {
        match self.method {
            HostMethod::Auto => 3,
            _ => 1,
        }
    }

    fn send(&mut self, i: usize) -> std::io::Result<()> {
        let dst = self.hosts[i];
        match self.plans[i] {
            Plan::Arp(k) => {
                let (ifc, fd) = &self.ifaces[k];
                let mut f = [0u8; 42];
                packet::arp_request(ifc.mac.unwrap_or_default(), ifc.ip, dst, &mut f);
                sock::send_frame(fd.as_raw_fd(), &f)
            }
            Plan::Routed(src) => {
                let auto = self.method == HostMethod::Auto;
                let mut sent = false;
                let mut last_err = None;
                if auto || self.method == HostMethod::Icmp {
                    if let Some(s) = &self.icmp {
                        let mut b = [0u8; 16];
                        packet::icmp_echo(self.echo_id, i as u16, &mut b);
                        match sock::send_to(s, &b, dst) {
                            Ok(_) => sent = true,
                            Err(e) => last_err = Some(e),
                        }
                    }
                }
                if auto || self.method == HostMethod::Tcp {
                    if let Some(s) = &self.tcp {
                        let c = self.cookie.of(dst, 0);
                        let mut b = [0u8; 24];
                        packet::tcp_probe(
                            src,
                            dst,
                            self.sport,
                            self.syn_port,
                            c,
                            0,
                            TCP_SYN,
                            &mut b,
                        );
                        match sock::send_to(s, &b, dst) {
                            Ok(_) => sent = true,
                            Err(e) => last_err = Some(e),
                        }
                        packet::tcp_probe(
                            src,
                            dst,
                            self.sport,
                            self.ack_port,
                            0,
                            c,
                            TCP_ACK,
                            &mut b,
                        );
                        if sock::send_to(s, &b, dst).is_ok() {
                            sent = true;
                        }
                    }
                }
                match (sent, last_err) {
                    (true, _) => Ok(()),
                    (false, Some(e)) => Err(e),
                    (false, None) => Err(std::io::Error::other("no probe for this method")),
                }
            }
        }
    }

    fn fds(&self) -> Vec<RawFd> {
        let mut v: Vec<RawFd> = self.ifaces.iter().map(|(_, f)| f.as_raw_fd()).collect();
        v.extend(self.icmp.as_ref().map(|s| s.as_raw_fd()));
        v.extend(self.tcp.as_ref().map(|s| s.as_raw_fd()));
        v
    }

    fn drain(&mut self, out: &mut Vec<(usize, How)>) {
        let mut buf = std::mem::take(&mut self.buf);
        for (ifc, fd) in &self.ifaces {
            while let Some(f) = sock::recv(fd.as_raw_fd(), &mut buf) {
                if let Some((ip, mac)) = packet::parse_arp_reply(f, ifc.ip) {
                    if let Some(&i) = self.index.get(&ip) {
                        out.push((i, How::Arp(mac)));
                    }
                }
            }
        }
        if let Some(s) = &self.icmp {
            while let Some(p) = sock::recv(s.as_raw_fd(), &mut buf) {
                if let Some(Icmp::EchoReply { src, id, .. }) = packet::parse_icmp(p) {
                    if id == self.echo_id {
                        if let Some(&i) = self.index.get(&src) {
                            out.push((i, How::Echo));
                        }
                    }
                }
            }
        }
        if let Some(s) = &self.tcp {
            while let Some(p) = sock::recv(s.as_raw_fd(), &mut buf) {
                let Some(r) = packet::parse_tcp(p) else {
                    continue;
                };
                if r.dport != self.sport {
                    continue;
                }
                let c = self.cookie.of(r.src, 0);
                if r.ack.wrapping_sub(1) == c || r.seq == c {
                    if let Some(&i) = self.index.get(&r.src) {
                        out.push((i, How::Tcp));
                    }
                }
            }
        }
        self.buf = buf;
    }
}

/// Finds live IPv4 hosts among `hosts`. Returns them in address order and
/// whether the sweep was cut short.
pub fn hosts(
    hosts: &[Ipv4Addr],
    o: &HostOpts,
    cancel: &CancelToken,
    progress: &Progress,
    warn: &mut dyn FnMut(String),
) -> Result<(Vec<HostResult>, bool)> {
    let all_ifaces = sock::interfaces();
    let mut out = Vec::new();
    let mut probe_hosts = Vec::new();
    let mut plans = Vec::new();
    let mut ifaces: Vec<(Iface, OwnedFd)> = Vec::new();
    let mut need_ip = false;
    for &h in hosts {
        if let Some(me) = all_ifaces.iter().find(|i| i.ip == h) {
            let mac = me.mac.filter(|_| !me.loopback);
            out.push(HostResult {
                ip: h.to_string(),
                mac: mac.map(|m| oui::fmt_mac(&m)),
                vendor: mac
                    .and_then(|m| oui::vendor(&oui::fmt_mac(&m)))
                    .map(String::from),
                method: "local".into(),
                rtt_ms: Some(0.0),
                partial: false,
            });
            continue;
        }
        if all_ifaces.iter().any(|i| i.broadcast() == Some(h)) {
            continue;
        }
        let src = match sock::source_for(IpAddr::V4(h)) {
            Some(IpAddr::V4(s)) => s,
            _ => {
                warn(format!("{h}: no route to this address; skipped"));
                continue;
            }
        };
        let link = all_ifaces
            .iter()
            .find(|i| i.ip == src && !i.loopback && i.mac.is_some() && i.contains(h));
        let arp_ok = matches!(o.method, HostMethod::Auto | HostMethod::Arp);
        match link {
            Some(ifc) if arp_ok => {
                let k = match ifaces.iter().position(|(i, _)| i.index == ifc.index) {
                    Some(k) => k,
                    None => {
                        ifaces.push((ifc.clone(), sock::arp_socket(ifc.index)?));
                        ifaces.len() - 1
                    }
                };
                plans.push(Plan::Arp(k));
            }
            _ if o.method == HostMethod::Arp => {
                warn(format!(
                    "{h}: not on a directly attached link; ARP cannot reach it"
                ));
                continue;
            }
            _ => {
                need_ip = true;
                plans.push(Plan::Routed(src));
            }
        }
        probe_hosts.push(h);
    }
    let (icmp, tcp) = if need_ip {
        (
            sock::raw_ipv4(libc::IPPROTO_ICMP).ok(),
            sock::raw_ipv4(libc::IPPROTO_TCP).ok(),
        )
    } else {
        (None, None)
    };
    if need_ip && icmp.is_none() && tcp.is_none() {
        return Err(
            Error::permission("cannot open raw sockets for ICMP/TCP probes")
                .with_hint("run as root, or use method: \"connect\""),
        );
    }
    let mut d = DiscDriver {
        hosts: &probe_hosts,
        plans,
        ifaces,
        icmp,
        tcp,
        index: probe_hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (*h, i))
            .collect(),
        method: o.method,
        syn_port: o.tcp_ports.first().copied().unwrap_or(443),
        ack_port: o.tcp_ports.get(1).copied().unwrap_or(80),
        sport: pick_source_port(),
        echo_id: (std::process::id() & 0xffff) as u16,
        cookie: Cookie::new(),
        buf: vec![0u8; 65536],
    };
    let tuning = Tuning {
        rate: o.rate,
        window: 1024,
        retries: o.retries,
        initial_rto: o.timeout.min(Duration::from_millis(500)),
        // ARP and pings on a LAN answer in well under a millisecond. The
        // last try's floor leaves room for a busy or dozing host without
        // waiting like nmap's 1 s+; an earlier try is resent sooner, after
        // the measured round trips, since its answer still counts until the
        // last try times out.
        min_rto: Duration::from_millis(100).min(o.timeout),
        retry_min_rto: Duration::from_millis(RETRY_FLOOR_MS).min(o.timeout),
        max_rto: o.timeout,
    };
    progress.set(out.len() as u64);
    let res = engine::run(
        &mut d,
        probe_hosts.len(),
        &tuning,
        cancel,
        &progress.offset(out.len() as u64),
    );
    sock::close_later(std::mem::take(&mut d.ifaces).into_iter().map(|(_, f)| f));
    for (i, r) in res.results.iter().enumerate() {
        let Some((how, us)) = r else { continue };
        let (method, mac) = match how {
            How::Arp(m) => ("arp", Some(*m)),
            How::Echo => ("icmp-echo", None),
            How::Tcp => ("tcp", None),
        };
        let mac_s = mac.map(|m| oui::fmt_mac(&m));
        out.push(HostResult {
            ip: probe_hosts[i].to_string(),
            vendor: mac_s.as_deref().and_then(oui::vendor).map(String::from),
            mac: mac_s,
            method: method.into(),
            rtt_ms: Some(super::ms(*us)),
            partial: res.partial,
        });
    }
    if res.partial {
        out.iter_mut().for_each(|h| h.partial = true);
    }
    sort_hosts(&mut out);
    Ok((out, res.partial))
}

pub fn sort_hosts(v: &mut [HostResult]) {
    v.sort_by_cached_key(|h| h.ip.parse::<IpAddr>().ok());
}
