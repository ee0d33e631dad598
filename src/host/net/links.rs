//! Neighbours (ARP), interfaces and routes: /proc/net and /sys through the
//! procfs crate, addresses through getifaddrs(3).

use crate::error::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Neighbor {
    pub ip: String,
    pub mac: Option<String>,
    pub device: String,
    pub state: &'static str,
}

fn mac(b: &[u8; 6]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The ARP table (`ip neigh` for IPv4).
pub fn neighbors() -> Result<Vec<Neighbor>> {
    let rows = procfs::net::arp().map_err(|e| Error::io_msg(format!("/proc/net/arp: {e}")))?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let complete = r.flags.contains(procfs::net::ARPFlags::COM);
            Neighbor {
                ip: r.ip_address.to_string(),
                mac: r
                    .hw_address
                    .as_ref()
                    .map(mac)
                    .filter(|m| m != "00:00:00:00:00:00"),
                device: r.device,
                state: if complete { "REACHABLE" } else { "INCOMPLETE" },
            }
        })
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct Interface {
    pub name: String,
    pub mac: Option<String>,
    pub addresses: Vec<String>,
    pub up: bool,
    pub mtu: Option<u32>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

fn sys(name: &str, what: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/class/net/{name}/{what}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Interfaces with MAC, addresses, state and counters.
pub fn interfaces() -> Result<Vec<Interface>> {
    let mut addrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in nix::ifaddrs::getifaddrs().map_err(|e| Error::io("getifaddrs", e.into()))? {
        let Some(addr) = a.address else { continue };
        let prefix = a
            .netmask
            .and_then(|m| {
                m.as_sockaddr_in()
                    .map(|s| u32::from(s.ip()).count_ones())
                    .or_else(|| m.as_sockaddr_in6().map(|s| u128::from(s.ip()).count_ones()))
            })
            .unwrap_or(0);
        let ip = addr
            .as_sockaddr_in()
            .map(|s| s.ip().to_string())
            .or_else(|| addr.as_sockaddr_in6().map(|s| s.ip().to_string()));
        if let Some(ip) = ip {
            addrs
                .entry(a.interface_name)
                .or_default()
                .push(format!("{ip}/{prefix}"));
        }
    }
    let devs =
        procfs::net::dev_status().map_err(|e| Error::io_msg(format!("/proc/net/dev: {e}")))?;
    let mut out: Vec<Interface> = devs
        .into_values()
        .map(|d| Interface {
            mac: sys(&d.name, "address").filter(|m| m != "00:00:00:00:00:00"),
            addresses: addrs.remove(&d.name).unwrap_or_default(),
            up: sys(&d.name, "operstate").is_some_and(|s| s == "up" || s == "unknown")
                && sys(&d.name, "flags")
                    .and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok())
                    .is_some_and(|f| f & 1 == 1),
            mtu: sys(&d.name, "mtu").and_then(|m| m.parse().ok()),
            rx_bytes: d.recv_bytes,
            tx_bytes: d.sent_bytes,
            rx_packets: d.recv_packets,
            tx_packets: d.sent_packets,
            name: d.name,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub destination: String,
    pub gateway: Option<String>,
    pub device: String,
    pub metric: u32,
    pub family: &'static str,
}

/// IPv4 routes (/proc/net/route) and IPv6 routes (/proc/net/ipv6_route).
pub fn routes() -> Result<Vec<Route>> {
    let mut out = Vec::new();
    for r in procfs::net::route().map_err(|e| Error::io_msg(format!("/proc/net/route: {e}")))? {
        let len = u32::from(r.mask).count_ones();
        out.push(Route {
            destination: if len == 0 {
                "default".into()
            } else {
                format!("{}/{len}", r.destination)
            },
            gateway: (!r.gateway.is_unspecified()).then(|| r.gateway.to_string()),
            device: r.iface,
            metric: r.metrics,
            family: "ipv4",
        });
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/ipv6_route") {
        for line in text.lines() {
            let c: Vec<&str> = line.split_whitespace().collect();
            if c.len() < 10 {
                continue;
            }
            let addr = |h: &str| {
                u128::from_str_radix(h, 16)
                    .ok()
                    .map(std::net::Ipv6Addr::from)
            };
            let (Some(dst), Some(gw)) = (addr(c[0]), addr(c[4])) else {
                continue;
            };
            let len = u32::from_str_radix(c[1], 16).unwrap_or(0);
            if c[9] == "lo" && len == 128 {
                continue; // the kernel's local host routes: noise
            }
            out.push(Route {
                destination: if len == 0 {
                    "default".into()
                } else {
                    format!("{dst}/{len}")
                },
                gateway: (!gw.is_unspecified()).then(|| gw.to_string()),
                device: c[9].to_string(),
                metric: u32::from_str_radix(c[5], 16).unwrap_or(0),
                family: "ipv6",
            });
        }
    }
    Ok(out)
}
