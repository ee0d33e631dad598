//! Sockets of the current network namespace with their owners: the
//! `ss -tunap` view (and `ss -xap` for unix sockets), read over netlink
//! `sock_diag` like ss does, with /proc/net as the fallback where netlink
//! is unavailable (a seccomp filter, a kernel without the diag modules).
//! Owners come from one pass over /proc/*/fd.
//!
//! Both sources are per network namespace: they show the namespace the
//! process runs in, which is what a responder on that host wants (`ip netns
//! exec` moves the whole process).

mod diag;
mod links;
mod owners;
mod procnet;
pub mod watch;

pub use links::{interfaces, neighbors, routes, Interface, Neighbor, Route};
pub use owners::{owners, Owners};

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::host::ioc::Indicator;
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
    /// Unix sockets only: the connected peer's inode (ss's "Peer Port").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_inode: Option<u64>,
    /// Unix sockets only: `stream`, `dgram` or `seqpacket`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sock_type: Option<&'static str>,
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

/// A unix socket from the kernel's table.
struct UnixRaw {
    /// SOCK_STREAM (1), SOCK_DGRAM (2), SOCK_SEQPACKET (5).
    kind: u8,
    state: &'static str,
    inode: u64,
    /// The bound path, `@name` for an abstract name.
    name: Option<String>,
    peer: Option<u64>,
    uid: Option<u32>,
}

/// Which tables to read.
#[derive(Debug, Clone, Copy)]
struct Protos {
    tcp: bool,
    udp: bool,
    unix: bool,
}

impl Protos {
    fn of(proto: Option<&str>) -> Result<Protos> {
        let (tcp, udp, unix) = match proto {
            None => (true, true, false),
            Some("tcp") => (true, false, false),
            Some("udp") => (false, true, false),
            Some("unix") => (false, false, true),
            Some(p) => {
                return Err(Error::invalid(format!(
                    "proto {p:?}: expected \"tcp\", \"udp\" or \"unix\""
                )))
            }
        };
        Ok(Protos { tcp, udp, unix })
    }
}

/// The kernel's TCP and UDP tables, without owners: netlink first, then
/// /proc/net for any table netlink could not give (`why` says why).
fn raw(p: Protos, diag: &mut Option<diag::Diag>, why: &mut Option<String>) -> Result<Vec<Raw>> {
    let mut out = Vec::new();
    // TCP of both families in one dump when the kernel serves it; per
    // family otherwise.
    let mut tcp_done = false;
    if p.tcp {
        if let Some(d) = diag.as_mut() {
            tcp_done = d.tcp_all(&mut out).is_ok();
            if !tcp_done {
                out.clear();
            }
        }
    }
    let tables = [
        (p.tcp && !tcp_done, libc::IPPROTO_TCP, libc::AF_INET, "tcp"),
        (
            p.tcp && !tcp_done,
            libc::IPPROTO_TCP,
            libc::AF_INET6,
            "tcp6",
        ),
        (p.udp, libc::IPPROTO_UDP, libc::AF_INET, "udp"),
        (p.udp, libc::IPPROTO_UDP, libc::AF_INET6, "udp6"),
    ];
    for (want, proto, family, table) in tables {
        if !want {
            continue;
        }
        if let Some(d) = diag.as_mut() {
            let before = out.len();
            match d.inet(family as u8, proto as u8, &mut out) {
                Ok(()) => continue,
                Err(e) => {
                    out.truncate(before);
                    why.get_or_insert_with(|| format!("netlink sock_diag ({table}): {e}"));
                }
            }
        }
        procnet::table(table, &mut out)?;
    }
    Ok(out)
}

/// A netlink diag socket, or why there is none. `HOUND_SOCK_DIAG=0` turns
/// netlink off, to check the /proc/net fallback against the same oracle.
fn open_diag(why: &mut Option<String>) -> Option<diag::Diag> {
    if std::env::var_os("HOUND_SOCK_DIAG").is_some_and(|v| v == "0") {
        *why = Some("netlink sock_diag turned off (HOUND_SOCK_DIAG=0)".into());
        return None;
    }
    match diag::Diag::open() {
        Ok(d) => Some(d),
        Err(e) => {
            *why = Some(format!("netlink sock_diag: {e}"));
            None
        }
    }
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
    /// Leave owners out (`pid`, `pids`, `process` empty): the walk of every
    /// `/proc/PID/fd` is most of a listing's cost, and a script counting
    /// states or checking that nothing is established needs none of it.
    pub without_owners: bool,
}

/// `10.0.0.196` or `10.0.0.0/24` as a network.
pub fn parse_net(s: &str) -> Result<ipnet::IpNet> {
    crate::host::fw::target::parse_net(s)
}

impl Filter {
    /// Unix sockets have no address or port: an address or port filter
    /// leaves them all out.
    fn keep_unix(&self, r: &UnixRaw) -> bool {
        self.local.is_empty()
            && self.remote.is_empty()
            && self.port.is_none()
            && self.local_port.is_none()
            && self.remote_port.is_none()
            && self
                .state
                .as_ref()
                .is_none_or(|s| s.iter().any(|x| x.eq_ignore_ascii_case(r.state)))
    }

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

fn owner_of(
    inode: u64,
    owners: &HashMap<u64, Vec<i32>>,
    names: &mut HashMap<i32, Option<String>>,
) -> (Vec<i32>, Option<i32>, Option<String>) {
    let pids = if inode == 0 {
        vec![]
    } else {
        owners.get(&inode).cloned().unwrap_or_default()
    };
    let pid = pids.first().copied();
    let process = pid.and_then(|p| {
        names
            .entry(p)
            .or_insert_with(|| crate::host::proc::comm(p))
            .clone()
    });
    (pids, pid, process)
}

/// An address as text; IPv4 without `fmt` (a socket table formats
/// thousands of them, and `Display` costs several times the rest of a row).
fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut s = String::with_capacity(15);
    for (i, o) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if o >= 100 {
            s.push(char::from(b'0' + o / 100));
        }
        if o >= 10 {
            s.push(char::from(b'0' + o / 10 % 10));
        }
        s.push(char::from(b'0' + o % 10));
    }
    s
}

fn build(
    r: Raw,
    owners: &HashMap<u64, Vec<i32>>,
    names: &mut HashMap<i32, Option<String>>,
) -> Socket {
    let (pids, pid, process) = owner_of(r.inode, owners, names);
    let local = plain(r.local.ip());
    Socket {
        proto: r.proto,
        family: if r.local.is_ipv4() { "ipv4" } else { "ipv6" },
        state: r.state,
        local_ip: ip_text(local),
        local_port: r.local.port(),
        remote_ip: ip_text(plain(r.remote.ip())),
        remote_port: r.remote.port(),
        inode: r.inode,
        uid: r.uid,
        pids,
        pid,
        process,
        peer_inode: None,
        sock_type: None,
    }
}

/// A unix socket as a row, as `ss -x` prints it: `local_ip` holds the
/// bound name (`*` when unnamed); the peer is known by its inode
/// (`peer_inode`), so `remote_ip` is `*`.
fn build_unix(
    r: &UnixRaw,
    owners: &HashMap<u64, Vec<i32>>,
    names: &mut HashMap<i32, Option<String>>,
) -> Socket {
    let (pids, pid, process) = owner_of(r.inode, owners, names);
    Socket {
        proto: "unix",
        family: "unix",
        state: r.state,
        local_ip: r.name.clone().unwrap_or_else(|| "*".into()),
        local_port: 0,
        remote_ip: "*".into(),
        remote_port: 0,
        inode: r.inode,
        uid: r.uid.unwrap_or(0),
        pids,
        pid,
        process,
        peer_inode: r.peer.filter(|&p| p != 0),
        sock_type: Some(match r.kind {
            1 => "stream",
            2 => "dgram",
            5 => "seqpacket",
            _ => "other",
        }),
    }
}

/// Unix sockets: netlink, or /proc/net/unix (no peers there).
fn unix_raw(diag: &mut Option<diag::Diag>, why: &mut Option<String>) -> Result<Vec<UnixRaw>> {
    let mut out = Vec::new();
    if let Some(d) = diag.as_mut() {
        match d.unix(&mut out) {
            Ok(()) => return Ok(out),
            Err(e) => {
                out.clear();
                why.get_or_insert_with(|| format!("netlink sock_diag (unix): {e}"));
            }
        }
    }
    procnet::unix(&mut out)?;
    Ok(out)
}

/// The sockets that pass the filter, with their owners.
pub fn sockets(
    f: &Filter,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Socket>> {
    let protos = Protos::of(f.proto.as_deref())?;
    // The owner walk reads /proc while this thread asks the kernel for its
    // tables: two independent waits on the kernel, overlapped.
    let walk_owners = !f.without_owners || f.pid.is_some();
    let (tables, owners) = std::thread::scope(|s| {
        let walker = walk_owners.then(|| s.spawn(|| owners::owners(cancel)));
        let mut why = None;
        let mut diag = open_diag(&mut why);
        let tables = raw(protos, &mut diag, &mut why).and_then(|inet| {
            let unix = if protos.unix {
                unix_raw(&mut diag, &mut why)?
            } else {
                Vec::new()
            };
            Ok((inet, unix, why))
        });
        let owners = match walker {
            Some(w) => w
                .join()
                .unwrap_or_else(|_| Err(Error::io_msg("the /proc/*/fd walk panicked"))),
            None => Ok(owners::Owners {
                by_inode: HashMap::new(),
                denied: 0,
            }),
        };
        (tables, owners)
    });
    let (inet, unix, why) = tables?;
    let owners = owners?;
    if let Some(why) = why {
        warn(&format!("{why}; read /proc/net instead"));
    }
    if owners.denied > 0 && !nix::unistd::Uid::effective().is_root() {
        warn(&format!(
            "not root: owners of other users' sockets are unknown ({} processes unreadable)",
            owners.denied
        ));
    }
    let mut names = HashMap::new();
    let mut out: Vec<Socket> = inet
        .into_iter()
        .filter(|r| f.keep_raw(r))
        .map(|r| build(r, &owners.by_inode, &mut names))
        .collect();
    out.extend(
        unix.iter()
            .filter(|u| f.keep_unix(u))
            .map(|u| build_unix(u, &owners.by_inode, &mut names)),
    );
    out.retain(|s| f.pid.is_none_or(|p| s.pids.contains(&p)));
    Ok(out)
}

/// Local TCP ports in use in this namespace, as one source sees them:
/// `"netlink"` (sock_diag, what `ss` reads) or `"procnet"` (/proc/net/tcp{,6},
/// what `netstat` reads and most rootkits hook). With `bound_only: false`,
/// sockets that are only bound (UNCONN: netlink lists them, /proc/net
/// never does) are left out, so the two sources are comparable.
pub fn tcp_ports_in_use(source: &str, bound_only: bool) -> Result<std::collections::BTreeSet<u16>> {
    let mut v = Vec::new();
    match source {
        "netlink" => diag::Diag::open()
            .and_then(|mut d| d.tcp_all(&mut v))
            .map_err(|e| Error::io("netlink sock_diag", e))?,
        "procnet" => {
            procnet::table("tcp", &mut v)?;
            procnet::table("tcp6", &mut v)?;
        }
        other => {
            return Err(Error::invalid(format!(
                "source {other:?}: netlink or procnet"
            )))
        }
    }
    Ok(v.iter()
        .filter(|r| bound_only || r.state != "UNCONN")
        .map(|r| r.local.port())
        .filter(|p| *p != 0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text_agrees_with_display() {
        for a in [
            "0.0.0.0",
            "127.0.0.1",
            "10.0.99.100",
            "255.255.255.255",
            "1.20.199.9",
            "::1",
            "fe80::1",
        ] {
            let ip: IpAddr = a.parse().unwrap();
            assert_eq!(ip_text(ip), ip.to_string());
        }
    }
}
