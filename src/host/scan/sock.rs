//! Raw sockets and the routing facts a scan needs (which source address and
//! interface reach a target, whether it is on the link).
//!
//! Sockets are opened with socket2/libc rather than pnet's datalink: pnet's
//! receiver blocks, has no kernel filter and turns promiscuous mode on. Here
//! every socket is nonblocking, created on the calling thread (so in its
//! network namespace), filtered by the kernel on protocol (IPPROTO_TCP,
//! IPPROTO_ICMP, ETH_P_ARP bound to one interface), and read with poll(2).

use crate::error::{Error, Result};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A nonblocking raw IPv4 socket for one protocol (6 = TCP, 1 = ICMP).
/// Receives every packet of that protocol addressed to this namespace.
pub fn raw_ipv4(proto: i32) -> Result<Socket> {
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(proto))).map_err(|e| {
        Error::io("opening a raw socket", e)
            .with_hint("SYN scans, ICMP and ARP need root or CAP_NET_RAW")
    })?;
    s.set_nonblocking(true)?;
    big_rcvbuf(s.as_raw_fd());
    Ok(s)
}

/// A large receive buffer so a burst of replies is not dropped: a dropped
/// RST would cost a retransmission round. FORCE works as root past rmem_max.
fn big_rcvbuf(fd: RawFd) {
    let size: libc::c_int = 16 << 20;
    // SAFETY: fd is a valid socket; the option value is a c_int on our stack.
    unsafe {
        let p = &size as *const libc::c_int as *const libc::c_void;
        let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        if libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, p, len) != 0 {
            libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, p, len);
        }
    }
}

/// A send-only raw IPv4 socket (IPPROTO_RAW: the caller writes the IP
/// header, and the kernel delivers nothing to it, so it costs no copies of
/// incoming traffic). Blocking: a full send buffer waits rather than drops.
pub fn raw_sender() -> Result<Socket> {
    Socket::new(
        Domain::IPV4,
        Type::RAW,
        Some(Protocol::from(libc::IPPROTO_RAW)),
    )
    .map_err(|e| {
        Error::io("opening a raw socket", e).with_hint("SYN scans need root or CAP_NET_RAW")
    })
}

/// Sends `buf` to `dst` on a raw socket; `WouldBlock` when the send buffer
/// is full (the caller waits and tries again).
pub fn send_to(s: &Socket, buf: &[u8], dst: Ipv4Addr) -> io::Result<usize> {
    s.send_to(buf, &SockAddr::from(SocketAddr::new(IpAddr::V4(dst), 0)))
}

/// Reads one datagram; `None` when nothing is waiting.
pub fn recv(fd: RawFd, buf: &mut [u8]) -> Option<&[u8]> {
    // SAFETY: buf is a valid writable region of buf.len() bytes.
    let n = unsafe {
        libc::recv(
            fd,
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if n <= 0 {
        return None;
    }
    Some(&buf[..n as usize])
}

/// Datagrams read per system call by [`Batch::recv`].
const SLOTS: usize = 64;
/// Bytes kept of each: headers are all a scan reads.
const SLOT: usize = 256;

/// Buffers for reading many datagrams per system call (recvmmsg): a full
/// port range brings 65,535 replies, and one recv each was a fifth of the
/// scan's time.
pub struct Batch {
    data: Vec<u8>,
    lens: [usize; SLOTS],
    n: usize,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            data: vec![0; SLOTS * SLOT],
            lens: [0; SLOTS],
            n: 0,
        }
    }
}

impl Batch {
    /// Reads what is waiting on `fd`, up to the batch size; returns how many.
    pub fn recv(&mut self, fd: RawFd) -> usize {
        // SAFETY: iovec and mmsghdr are plain data; zeroed is a valid start.
        let mut iov: [libc::iovec; SLOTS] = unsafe { MaybeUninit::zeroed().assume_init() };
        let mut hdr: [libc::mmsghdr; SLOTS] = unsafe { MaybeUninit::zeroed().assume_init() };
        for (i, (v, h)) in iov.iter_mut().zip(hdr.iter_mut()).enumerate() {
            v.iov_base = self.data[i * SLOT..].as_mut_ptr().cast();
            v.iov_len = SLOT;
            h.msg_hdr.msg_iov = v;
            h.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at its own iovec, each iovec at SLOT
        // writable bytes of `data`; all outlive the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                hdr.as_mut_ptr(),
                SLOTS as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        self.n = n.max(0) as usize;
        for (l, h) in self.lens.iter_mut().zip(&hdr).take(self.n) {
            *l = (h.msg_len as usize).min(SLOT);
        }
        self.n
    }

    /// The datagrams of the last read.
    pub fn packets(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.n).map(|i| &self.data[i * SLOT..i * SLOT + self.lens[i]])
    }
}

/// Sends IPv4 packets (each with its own header) on a raw socket, many per
/// system call (sendmmsg). Returns how many went out; a failure is the
/// caller's to count as a silent probe.
pub fn send_many(s: &Socket, pkts: &[[u8; 44]], dsts: &[Ipv4Addr]) -> usize {
    let mut sent = 0;
    for (pk, ds) in pkts.chunks(SLOTS).zip(dsts.chunks(SLOTS)) {
        // SAFETY: plain data; zeroed is a valid start for all three.
        let mut addr: [libc::sockaddr_in; SLOTS] = unsafe { MaybeUninit::zeroed().assume_init() };
        let mut iov: [libc::iovec; SLOTS] = unsafe { MaybeUninit::zeroed().assume_init() };
        let mut hdr: [libc::mmsghdr; SLOTS] = unsafe { MaybeUninit::zeroed().assume_init() };
        for i in 0..pk.len() {
            addr[i].sin_family = libc::AF_INET as libc::sa_family_t;
            addr[i].sin_addr.s_addr = u32::from(ds[i]).to_be();
            iov[i].iov_base = pk[i].as_ptr() as *mut libc::c_void;
            iov[i].iov_len = pk[i].len();
            hdr[i].msg_hdr.msg_name = (&mut addr[i] as *mut libc::sockaddr_in).cast();
            hdr[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
            hdr[i].msg_hdr.msg_iov = &mut iov[i];
            hdr[i].msg_hdr.msg_iovlen = 1;
        }
        let mut off = 0;
        while off < pk.len() {
            // SAFETY: headers off..len point at live addresses and iovecs,
            // which point at the caller's packets; nothing is written.
            let n = unsafe {
                libc::sendmmsg(
                    s.as_raw_fd(),
                    hdr[off..].as_mut_ptr(),
                    (pk.len() - off) as libc::c_uint,
                    0,
                )
            };
            if n <= 0 {
                // This packet failed (no route, say): skip it, send the rest.
                off += 1;
                continue;
            }
            off += n as usize;
            sent += n as usize;
        }
    }
    sent
}

/// Waits until one of `fds` is readable or `timeout` passes.
pub fn poll_read(fds: &[RawFd], timeout: Duration) {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = timeout.as_millis().min(1000) as libc::c_int;
    // SAFETY: p is a valid array of p.len() pollfd structs.
    unsafe {
        libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, ms);
    }
}

/// The source address the kernel would use to reach `dst`. Connecting a
/// UDP socket sends nothing; it only asks the routing table.
pub fn source_for(dst: IpAddr) -> Option<IpAddr> {
    let bind: SocketAddr = if dst.is_ipv4() {
        "0.0.0.0:0".parse().ok()?
    } else {
        "[::]:0".parse().ok()?
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect(SocketAddr::new(dst, 9)).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}

/// An IPv4 interface address.
#[derive(Debug, Clone)]
pub struct Iface {
    pub name: String,
    pub index: u32,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub mac: Option<[u8; 6]>,
    pub loopback: bool,
}

impl Iface {
    /// The subnet's broadcast address (never a host; the kernel refuses to
    /// route to it without SO_BROADCAST).
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        (self.prefix < 31 && !self.loopback).then(|| {
            let host_bits = u32::MAX >> u32::from(self.prefix);
            Ipv4Addr::from(u32::from(self.ip) | host_bits)
        })
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        };
        u32::from(ip) & mask == u32::from(self.ip) & mask
    }
}

/// The IPv4 addresses of this namespace's interfaces that are up.
pub fn interfaces() -> Vec<Iface> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let all: Vec<_> = addrs.collect();
    let mut out = Vec::new();
    for a in &all {
        use nix::net::if_::InterfaceFlags as F;
        if !a.flags.contains(F::IFF_UP) {
            continue;
        }
        let (Some(ip), Some(mask)) = (
            a.address.as_ref().and_then(|s| s.as_sockaddr_in()),
            a.netmask.as_ref().and_then(|s| s.as_sockaddr_in()),
        ) else {
            continue;
        };
        let mac = all
            .iter()
            .filter(|b| b.interface_name == a.interface_name)
            .find_map(|b| b.address.as_ref()?.as_link_addr()?.addr());
        out.push(Iface {
            name: a.interface_name.clone(),
            index: nix::net::if_::if_nametoindex(a.interface_name.as_str()).unwrap_or(0),
            ip: ip.ip(),
            prefix: u32::from(mask.ip()).count_ones() as u8,
            mac,
            loopback: a.flags.contains(F::IFF_LOOPBACK),
        });
    }
    out
}

/// Closes packet sockets on a thread of their own. Closing one waits for
/// an RCU grace period (packet_release calls synchronize_net: 15-28 ms
/// measured), which the scan need not wait for; at process exit the wait
/// overlaps what the run does meanwhile.
pub fn close_later(fds: impl IntoIterator<Item = OwnedFd>) {
    let fds: Vec<OwnedFd> = fds.into_iter().collect();
    if fds.is_empty() {
        return;
    }
    // If no thread can be started, the closing happens here, as before.
    let _ = std::thread::Builder::new()
        .name("hound-close".into())
        .spawn(move || drop(fds));
}

/// An AF_PACKET socket for ARP on one interface: the kernel hands it only
/// ARP frames of that interface (bound protocol + ifindex), no promiscuity.
pub fn arp_socket(ifindex: u32) -> Result<OwnedFd> {
    let proto = (libc::ETH_P_ARP as u16).to_be();
    // Protocol 0 at creation: the socket receives nothing until `bind`
    // names ETH_P_ARP. Created with the protocol, it would be receiving
    // already, and binding it to the interface would have to unhook it
    // first, which waits for an RCU grace period (synchronize_net): 13-16 ms
    // per scan, measured, on the sweep's critical path.
    // SAFETY: plain socket(2) call; the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(
            Error::io("opening an ARP socket", io::Error::last_os_error())
                .with_hint("ARP discovery needs root or CAP_NET_RAW"),
        );
    }
    // SAFETY: fd was just returned by socket(2) and is not owned elsewhere.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid starting value.
    let mut sll: libc::sockaddr_ll = unsafe { MaybeUninit::zeroed().assume_init() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: sll is a properly initialised sockaddr_ll of the given size.
    let r = unsafe {
        libc::bind(
            fd,
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(Error::io(
            "binding the ARP socket",
            io::Error::last_os_error(),
        ));
    }
    big_rcvbuf(fd);
    Ok(owned)
}

/// Sends one frame on a bound packet socket.
pub fn send_frame(fd: RawFd, frame: &[u8]) -> io::Result<()> {
    // SAFETY: frame is a valid readable buffer of frame.len() bytes.
    let n = unsafe { libc::send(fd, frame.as_ptr() as *const libc::c_void, frame.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether raw sockets may be opened here (root or CAP_NET_RAW).
pub fn raw_allowed() -> bool {
    Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP)).is_ok()
}
