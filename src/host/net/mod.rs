//! Sockets of the current network namespace with their owners: the
//! `ss -tunap` view, read from /proc/net/{tcp,tcp6,udp,udp6} with the
//! procfs crate and one pass over /proc/*/fd for the owners.
//!
//! /proc/net is per process: it shows the namespace the process runs in,
//! which is what a responder on that host wants (`ip netns exec` moves the
//! whole process).

mod links;
pub mod watch;

pub use links::{interfaces, neighbors, routes, Interface, Neighbor, Route};

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::host::ioc::Indicator;
use procfs::net::{TcpState, UdpState};
use serde::Serialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Socket {
    pub proto: &'static str,
    pub family: &'static str,
    /// ss's names: ESTAB, SYN-SENT, LISTEN, TIME-WAIT, UNCONN, ...
    pub state: &'static str,
    pub local_ip: String,
    pub local_port: u16,
    pub remote_ip: String,
    pub remote_port: u16,
    pub inode: u64,
    pub uid: u32,
    pub pids: Vec<i32>,
    pub pid: Option<i32>,
    pub process: Option<String>,
}

fn tcp_state(s: &TcpState) -> &'static str {
    match s {
        TcpState::Established => "ESTAB",
        TcpState::SynSent => "SYN-SENT",
        TcpState::SynRecv | TcpState::NewSynRecv => "SYN-RECV",
        TcpState::FinWait1 => "FIN-WAIT-1",
        TcpState::FinWait2 => "FIN-WAIT-2",
        TcpState::TimeWait => "TIME-WAIT",
        TcpState::Close => "UNCONN",
        TcpState::CloseWait => "CLOSE-WAIT",
        TcpState::LastAck => "LAST-ACK",
        TcpState::Listen => "LISTEN",
        TcpState::Closing => "CLOSING",
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub fn plain(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

struct Raw {
    proto: &'static str,
    state: &'static str,
    local: SocketAddr,
    remote: SocketAddr,
    inode: u64,
    uid: u32,
}

/// The kernel's socket tables, without owners.
fn raw(protos: (bool, bool)) -> Result<Vec<Raw>> {
    let mut out = Vec::new();
    let err = |what: &str, e: procfs::ProcError| Error::io_msg(format!("/proc/net/{what}: {e}"));
    if protos.0 {
        for (what, rows) in [("tcp", procfs::net::tcp()), ("tcp6", procfs::net::tcp6())] {
            // A kernel without IPv6 has no tcp6 table: nothing to list, not an error.
            let rows = match rows {
                Ok(r) => r,
                Err(procfs::ProcError::NotFound(_)) => continue,
                Err(e) => return Err(err(what, e)),
            };
            out.extend(rows.into_iter().map(|r| Raw {
                proto: "tcp",
                state: tcp_state(&r.state),
                local: r.local_address,
                remote: r.remote_address,
                inode: r.inode,
                uid: r.uid,
            }));
        }
    }
    if protos.1 {
        for (what, rows) in [("udp", procfs::net::udp()), ("udp6", procfs::net::udp6())] {
            let rows = match rows {
                Ok(r) => r,
                Err(procfs::ProcError::NotFound(_)) => continue,
                Err(e) => return Err(err(what, e)),
            };
            out.extend(rows.into_iter().map(|r| Raw {
                proto: "udp",
                state: if r.state == UdpState::Established {
                    "ESTAB"
                } else {
                    "UNCONN"
                },
                local: r.local_address,
                remote: r.remote_address,
                inode: r.inode,
                uid: r.uid,
            }));
        }
    }
    Ok(out)
}

/// What to keep. `local` and `remote` take indicators: an address, a CIDR,
/// `address:port` or `:port` (any of them matches).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub proto: Option<String>,
    pub state: Option<Vec<String>>,
    pub local: Vec<Indicator>,
    pub remote: Vec<Indicator>,
    pub port: Option<u16>,
    pub local_port: Option<u16>,
    pub remote_port: Option<u16>,
    pub pid: Option<i32>,
}

/// `10.0.0.196` or `10.0.0.0/24` as a network.
pub fn parse_net(s: &str) -> Result<ipnet::IpNet> {
    crate::host::fw::target::parse_net(s)
}

impl Filter {
    fn keep_raw(&self, r: &Raw) -> bool {
        let ip_in = |inds: &[Indicator], a: SocketAddr| {
            inds.is_empty() || inds.iter().any(|i| i.matches(&plain(a.ip()), a.port()))
        };
        self.proto.as_deref().is_none_or(|p| p == r.proto)
            && self
                .state
                .as_ref()
                .is_none_or(|s| s.iter().any(|x| x.eq_ignore_ascii_case(r.state)))
            && ip_in(&self.local, r.local)
            && ip_in(&self.remote, r.remote)
            && self
                .port
                .is_none_or(|p| p == r.local.port() || p == r.remote.port())
            && self.local_port.is_none_or(|p| p == r.local.port())
            && self.remote_port.is_none_or(|p| p == r.remote.port())
    }
}

fn build(
    r: Raw,
    owners: &HashMap<u64, Vec<i32>>,
    names: &mut HashMap<i32, Option<String>>,
) -> Socket {
    let pids = if r.inode == 0 {
        vec![]
    } else {
        owners.get(&r.inode).cloned().unwrap_or_default()
    };
    let pid = pids.first().copied();
    let process = pid.and_then(|p| {
        names
            .entry(p)
            .or_insert_with(|| crate::host::proc::comm(p))
            .clone()
    });
    let local = plain(r.local.ip());
    Socket {
        proto: r.proto,
        family: if r.local.is_ipv4() { "ipv4" } else { "ipv6" },
        state: r.state,
        local_ip: local.to_string(),
        local_port: r.local.port(),
        remote_ip: plain(r.remote.ip()).to_string(),
        remote_port: r.remote.port(),
        inode: r.inode,
        uid: r.uid,
        pids,
        pid,
        process,
    }
}

/// The sockets that pass the filter, with their owners.
pub fn sockets(
    f: &Filter,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Socket>> {
    let protos = match f.proto.as_deref() {
        None => (true, true),
        Some("tcp") => (true, false),
        Some("udp") => (false, true),
        Some(p) => {
            return Err(Error::invalid(format!(
                "proto {p:?}: expected \"tcp\" or \"udp\""
            )))
        }
    };
    let rows: Vec<Raw> = raw(protos)?.into_iter().filter(|r| f.keep_raw(r)).collect();
    let (owners, denied) = crate::host::proc::socket_owners(cancel)?;
    if denied > 0 && !nix::unistd::Uid::effective().is_root() {
        warn(&format!(
            "not root: owners of other users' sockets are unknown ({denied} processes unreadable)"
        ));
    }
    let mut names = HashMap::new();
    Ok(rows
        .into_iter()
        .map(|r| build(r, &owners, &mut names))
        .filter(|s| f.pid.is_none_or(|p| s.pids.contains(&p)))
        .collect())
}
