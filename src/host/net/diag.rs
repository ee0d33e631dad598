//! The kernel's socket tables over netlink `sock_diag`, as `ss` reads them:
//! one dump per family and protocol, fixed-size binary records, no text to
//! parse. /proc/net/{tcp,udp}6 print every socket as hex text and cost
//! several times as much for a few thousand sockets.
//!
//! The netlink socket is opened in the calling thread's network namespace,
//! which is the one a responder asked about (`ip netns exec`).

use super::{Raw, UnixRaw};
use netlink_packet_sock_diag::constants::SOCK_DIAG_BY_FAMILY;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
/// The original inet_diag request type, still served by the kernel: its
/// dump covers IPv4 and IPv6 in one walk of the TCP hash table.
const TCPDIAG_GETSOCK: u16 = 18;
const INET_DIAG_MSG_LEN: usize = 72;
const UNIX_DIAG_MSG_LEN: usize = 16;
const UDIAG_SHOW_NAME: u32 = 0x01;
const UDIAG_SHOW_PEER: u32 = 0x04;
const UDIAG_SHOW_UID: u32 = 0x40;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_UID: u16 = 7;

/// ss's name for a kernel socket state (include/net/tcp_states.h). UDP and
/// unix sockets use the same numbers: 1 connected, 7 unconnected, 10 listening.
pub fn state_name(s: u8) -> &'static str {
    match s {
        1 => "ESTAB",
        2 => "SYN-SENT",
        3 | 12 => "SYN-RECV",
        4 => "FIN-WAIT-1",
        5 => "FIN-WAIT-2",
        6 => "TIME-WAIT",
        7 => "UNCONN",
        8 => "CLOSE-WAIT",
        9 => "LAST-ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        _ => "UNKNOWN",
    }
}

/// A `NETLINK_SOCK_DIAG` socket; dumps run one after the other on it.
pub struct Diag {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl Diag {
    pub fn open() -> io::Result<Diag> {
        // SAFETY: plain socket(2); the result is checked before it is owned.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // The kernel fills at most ~32 KiB per read of a dump; a bigger
        // buffer only wastes memory.
        Ok(Diag {
            fd,
            seq: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    /// TCP or UDP sockets of one address family, every state.
    pub fn inet(&mut self, family: u8, protocol: u8, out: &mut Vec<Raw>) -> io::Result<()> {
        let proto = if protocol == libc::IPPROTO_TCP as u8 {
            "tcp"
        } else {
            "udp"
        };
        // struct inet_diag_req_v2: family, protocol, ext, pad, states, sockid (zeroed).
        let mut req = [0u8; 56];
        req[0] = family;
        req[1] = protocol;
        req[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
        self.dump(SOCK_DIAG_BY_FAMILY, &req, |m| {
            if let Some(r) = parse_inet(proto, m) {
                out.push(r);
            }
        })
    }

    /// TCP sockets of both address families in one dump. The kernel's
    /// established-connection table is shared by every namespace and sized
    /// from memory (millions of buckets on a big host), and each dump walks
    /// all of it: one walk instead of one per family is most of what a
    /// socket listing costs the kernel.
    pub fn tcp_all(&mut self, out: &mut Vec<Raw>) -> io::Result<()> {
        // struct inet_diag_req: family, src_len, dst_len, ext, sockid
        // (48 bytes, zeroed), states, dbs. The family is not used by a dump.
        let mut req = [0u8; 60];
        req[0] = libc::AF_INET as u8;
        req[52..56].copy_from_slice(&u32::MAX.to_ne_bytes());
        self.dump(TCPDIAG_GETSOCK, &req, |m| {
            if let Some(r) = parse_inet("tcp", m) {
                out.push(r);
            }
        })
    }

    /// Unix sockets of every type and state, with names, peers and owners' uids.
    pub fn unix(&mut self, out: &mut Vec<UnixRaw>) -> io::Result<()> {
        // struct unix_diag_req: family, protocol, pad, states, ino, show, cookie.
        let mut req = [0u8; 24];
        req[0] = libc::AF_UNIX as u8;
        req[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
        let show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_UID;
        req[12..16].copy_from_slice(&show.to_ne_bytes());
        self.dump(SOCK_DIAG_BY_FAMILY, &req, |m| {
            if let Some(r) = parse_unix(m) {
                out.push(r);
            }
        })
    }

    /// Sends one dump request of type `kind` and hands each record's
    /// payload to `each` (records come back with the request's type).
    fn dump(&mut self, kind: u16, req: &[u8], mut each: impl FnMut(&[u8])) -> io::Result<()> {
        self.seq += 1;
        let len = NLMSG_HDRLEN + req.len();
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&kind.to_ne_bytes());
        msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        msg.extend_from_slice(&self.seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(req);
        // SAFETY: msg is a live buffer of msg.len() bytes; the kernel address
        // of a netlink socket that was never connected is the default (pid 0).
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            // SAFETY: buf is a live, writable buffer of buf.len() bytes.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let data = &self.buf[..n as usize];
            let mut off = 0;
            while off + NLMSG_HDRLEN <= data.len() {
                let h = &data[off..];
                let mlen = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
                let mtype = u16::from_ne_bytes([h[4], h[5]]);
                let seq = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
                if mlen < NLMSG_HDRLEN || off + mlen > data.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated netlink message",
                    ));
                }
                let payload = &h[NLMSG_HDRLEN..mlen];
                off += (mlen + 3) & !3;
                if seq != self.seq {
                    continue; // the tail of an earlier, abandoned dump
                }
                match mtype {
                    NLMSG_DONE => return Ok(()),
                    NLMSG_ERROR => {
                        let code = payload
                            .get(..4)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .unwrap_or(0);
                        if code == 0 {
                            return Ok(());
                        }
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                    t if t == kind => each(payload),
                    _ => {}
                }
            }
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// struct inet_diag_msg: family, state, timer, retrans, then the socket id
/// (ports in network order, addresses as four 32-bit words), expires,
/// queues, uid, inode.
fn parse_inet(proto: &'static str, m: &[u8]) -> Option<Raw> {
    if m.len() < INET_DIAG_MSG_LEN {
        return None;
    }
    let addr = |at: usize| -> IpAddr {
        if m[0] == libc::AF_INET as u8 {
            IpAddr::V4(Ipv4Addr::new(m[at], m[at + 1], m[at + 2], m[at + 3]))
        } else {
            let mut a = [0u8; 16];
            a.copy_from_slice(&m[at..at + 16]);
            IpAddr::V6(Ipv6Addr::from(a))
        }
    };
    let sport = u16::from_be_bytes([m[4], m[5]]);
    let dport = u16::from_be_bytes([m[6], m[7]]);
    Some(Raw {
        proto,
        state: state_name(m[1]),
        local: SocketAddr::new(addr(8), sport),
        remote: SocketAddr::new(addr(24), dport),
        inode: u64::from(u32_at(m, 68)),
        uid: u32_at(m, 64),
    })
}

/// struct unix_diag_msg (family, type, state, pad, inode, cookie), then
/// netlink attributes: the bound name, the peer's inode, the owner's uid.
fn parse_unix(m: &[u8]) -> Option<UnixRaw> {
    if m.len() < UNIX_DIAG_MSG_LEN {
        return None;
    }
    let mut r = UnixRaw {
        kind: m[1],
        state: state_name(m[2]),
        inode: u64::from(u32_at(m, 4)),
        name: None,
        peer: None,
        uid: None,
    };
    let mut off = UNIX_DIAG_MSG_LEN;
    while off + 4 <= m.len() {
        let alen = u16::from_ne_bytes([m[off], m[off + 1]]) as usize;
        let kind = u16::from_ne_bytes([m[off + 2], m[off + 3]]);
        if alen < 4 || off + alen > m.len() {
            break;
        }
        let v = &m[off + 4..off + alen];
        match kind {
            UNIX_DIAG_NAME => r.name = Some(unix_name(v)),
            UNIX_DIAG_PEER if v.len() >= 4 => r.peer = Some(u64::from(u32_at(v, 0))),
            UNIX_DIAG_UID if v.len() >= 4 => r.uid = Some(u32_at(v, 0)),
            _ => {}
        }
        off += (alen + 3) & !3;
    }
    Some(r)
}

/// A bound name as ss prints it: abstract names (leading NUL) as `@name`.
pub fn unix_name(v: &[u8]) -> String {
    match v.split_first() {
        Some((0, rest)) => format!("@{}", crate::output::lossless(rest)),
        _ => {
            let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
            crate::output::lossless(&v[..end])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_inet_record() {
        let mut m = [0u8; 72];
        m[0] = libc::AF_INET as u8;
        m[1] = 10;
        m[4..6].copy_from_slice(&8080u16.to_be_bytes());
        m[8..12].copy_from_slice(&[127, 0, 0, 1]);
        m[64..68].copy_from_slice(&1000u32.to_ne_bytes());
        m[68..72].copy_from_slice(&4242u32.to_ne_bytes());
        let r = parse_inet("tcp", &m).unwrap();
        assert_eq!(r.state, "LISTEN");
        assert_eq!(r.local, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(r.remote, "0.0.0.0:0".parse().unwrap());
        assert_eq!((r.inode, r.uid), (4242, 1000));
        assert!(parse_inet("tcp", &m[..40]).is_none());
    }

    #[test]
    fn parses_a_unix_record_with_attributes() {
        let mut m = vec![0u8; 16];
        m[0] = libc::AF_UNIX as u8;
        m[1] = 1;
        m[2] = 1;
        m[4..8].copy_from_slice(&77u32.to_ne_bytes());
        // name "@x" (abstract), then peer 78, padded to 4 bytes each.
        m.extend_from_slice(&6u16.to_ne_bytes());
        m.extend_from_slice(&UNIX_DIAG_NAME.to_ne_bytes());
        m.extend_from_slice(&[0, b'x', 0, 0]);
        m.extend_from_slice(&8u16.to_ne_bytes());
        m.extend_from_slice(&UNIX_DIAG_PEER.to_ne_bytes());
        m.extend_from_slice(&78u32.to_ne_bytes());
        let r = parse_unix(&m).unwrap();
        assert_eq!((r.inode, r.peer, r.state), (77, Some(78), "ESTAB"));
        assert_eq!(r.name.as_deref(), Some("@x"));
        assert_eq!(unix_name(b"/run/a.sock"), "/run/a.sock");
    }

    #[test]
    fn dumps_this_namespace() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut d = Diag::open().unwrap();
        let mut v = Vec::new();
        d.inet(libc::AF_INET as u8, libc::IPPROTO_TCP as u8, &mut v)
            .unwrap();
        assert!(v
            .iter()
            .any(|r| r.state == "LISTEN" && r.local.port() == port));
        let mut u = Vec::new();
        d.unix(&mut u).unwrap();
        let mut all = Vec::new();
        d.tcp_all(&mut all).unwrap();
        assert!(all
            .iter()
            .any(|r| r.state == "LISTEN" && r.local.port() == port));
    }
}
