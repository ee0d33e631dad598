//! Rootkit cross-views (T1014, T1547.006, T1564.001): ask the kernel the
//! same question two ways and report where the answers differ. A process
//! that answers signals but has no `/proc` entry, a `/proc/PID` covered by a
//! mount, a module in `/sys/module` that `/proc/modules` hides, the taint
//! flags, and the sockets and programs that can sniff or filter packets
//! (AF_PACKET sockets, eBPF programs) with the processes that hold them.

use crate::error::{Error, Result};
use crate::runtime::CancelToken;
use serde::Serialize;
use std::collections::HashSet;

/// Something one view shows and another does not.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Discrepancy {
    /// `hidden_process`, `proc_mount`, `hidden_module`.
    pub kind: String,
    pub subject: String,
    pub detail: String,
}

fn proc_pids() -> Result<HashSet<i32>> {
    Ok(std::fs::read_dir("/proc")
        .map_err(|e| Error::io("/proc", e))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect())
}

/// Pids that exist for the kernel (`kill(pid, 0)` answers anything but
/// ESRCH) but are missing from the `/proc` listing. Thread ids are excluded
/// (a thread answers `kill` but is listed under its process's `task/`).
pub fn hidden_processes(cancel: &CancelToken) -> Result<Vec<Discrepancy>> {
    let read = |p: &str| -> Option<i32> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
    let pid_max = read("/proc/sys/kernel/pid_max")
        .unwrap_or(32768)
        .min(1 << 22);
    let listed = proc_pids()?;
    // Pids are handed out in order: nothing can live above the last one
    // given out, unless the counter wrapped (then above the highest listed
    // pid nothing is older than the wrap either; check to the end).
    let last = read("/proc/sys/kernel/ns_last_pid").unwrap_or(pid_max);
    let highest = listed.iter().copied().max().unwrap_or(0);
    let max = if last >= highest {
        (last + 64).min(pid_max)
    } else {
        pid_max
    };
    let mut out = Vec::new();
    for pid in 1..=max {
        if pid % 65536 == 0 {
            cancel.check()?;
        }
        if listed.contains(&pid) {
            continue;
        }
        // SAFETY: signal 0 only checks existence and permission.
        let r = unsafe { libc::kill(pid, 0) };
        let exists = r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !exists {
            continue;
        }
        // A thread: /proc/PID still resolves (it is only left out of the listing).
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let tgid = status
            .lines()
            .find_map(|l| l.strip_prefix("Tgid:"))
            .and_then(|v| v.trim().parse::<i32>().ok());
        if tgid.is_some_and(|t| t != pid) {
            continue;
        }
        // Raced with a process that started just now: look again.
        if proc_pids()?.contains(&pid) {
            continue;
        }
        out.push(Discrepancy {
            kind: "hidden_process".into(),
            subject: pid.to_string(),
            detail: "answers kill(pid, 0) but is missing from the /proc listing".into(),
        });
    }
    Ok(out)
}

/// `/proc/PID` folders covered by a mount (a bind mount of another
/// folder over a process's entry hides it from ps and hound alike).
pub fn proc_mounts() -> Result<Vec<Discrepancy>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("/proc/self/mountinfo", e))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(mp) = line.split(' ').nth(4) else {
            continue;
        };
        let Some(rest) = mp.strip_prefix("/proc/") else {
            continue;
        };
        let first = rest.split('/').next().unwrap_or("");
        if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
            out.push(Discrepancy {
                kind: "proc_mount".into(),
                subject: first.into(),
                detail: format!("something is mounted on {mp}: {line}"),
            });
        }
    }
    Ok(out)
}

/// Loadable modules present in `/sys/module` (they have `initstate`) but
/// missing from `/proc/modules`.
pub fn hidden_modules() -> Result<Vec<Discrepancy>> {
    // A kernel built without loadable modules has no /proc/modules.
    let Ok(text) = std::fs::read_to_string("/proc/modules") else {
        return Ok(Vec::new());
    };
    let listed: HashSet<String> = text
        .lines()
        .filter_map(|l| l.split(' ').next().map(String::from))
        .collect();
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/sys/module") else {
        return Ok(out);
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !e.path().join("initstate").exists() || listed.contains(&name) {
            continue;
        }
        out.push(Discrepancy {
            kind: "hidden_module".into(),
            subject: name,
            detail: "in /sys/module but not in /proc/modules".into(),
        });
    }
    Ok(out)
}

/// TCP ports something holds, found by trying to bind each one, that
/// `/proc/net` or netlink does not list: a listener or connection hidden
/// by a rootkit's hook shows here (T1014). Ports below 1024 need root to
/// probe; unprivileged, they are skipped (`warn`). Candidates are checked
/// twice, so a connection opened during the probe is not reported.
pub fn hidden_ports(cancel: &CancelToken, warn: &mut dyn FnMut(&str)) -> Result<Vec<Discrepancy>> {
    let root = nix::unistd::Uid::effective().is_root();
    if !root {
        warn("ports below 1024 not probed (binding them needs root)");
    }
    let first = if root { 1 } else { 1024 };
    // Three views of the same table: /proc/net, netlink without and with
    // only-bound sockets (which /proc/net never shows), and the bind probe.
    let views = || -> Result<Views> {
        let net = crate::host::net::tcp_ports_in_use;
        Ok(Views {
            procnet: net("procnet", false)?,
            netlink: net("netlink", false).ok(),
            netlink_all: net("netlink", true).ok(),
        })
    };
    let v = views()?;
    let mut candidates = Vec::new();
    for port in first..=u16::MAX {
        if port % 4096 == 0 {
            cancel.check()?;
        }
        if v.hidden_from(port).is_empty() && v.listed_somewhere(port) {
            continue;
        }
        if in_use(port) {
            candidates.push(port);
        }
    }
    // Look again: a port taken and listed between two views is not hidden.
    let v = views()?;
    let mut out = Vec::new();
    for port in candidates {
        let hidden_from = v.hidden_from(port);
        let unlisted = !v.listed_somewhere(port);
        if (hidden_from.is_empty() && !unlisted) || !in_use(port) {
            continue;
        }
        let detail = if unlisted {
            "the port is taken (bind fails) but no socket table lists it".to_string()
        } else {
            format!(
                "{} lists the port but {} does not",
                if hidden_from == ["/proc/net"] {
                    "netlink"
                } else {
                    "/proc/net"
                },
                hidden_from.join(" and ")
            )
        };
        out.push(Discrepancy {
            kind: "hidden_port".into(),
            subject: format!("tcp/{port}"),
            detail,
        });
    }
    Ok(out)
}

struct Views {
    procnet: std::collections::BTreeSet<u16>,
    netlink: Option<std::collections::BTreeSet<u16>>,
    netlink_all: Option<std::collections::BTreeSet<u16>>,
}

impl Views {
    /// The tables that leave out a port the other one lists.
    fn hidden_from(&self, port: u16) -> Vec<&'static str> {
        let Some(n) = &self.netlink else {
            return Vec::new();
        };
        match (self.procnet.contains(&port), n.contains(&port)) {
            (true, false) => vec!["netlink"],
            (false, true) => vec!["/proc/net"],
            _ => Vec::new(),
        }
    }
    fn listed_somewhere(&self, port: u16) -> bool {
        self.procnet.contains(&port) || self.netlink_all.as_ref().is_some_and(|n| n.contains(&port))
    }
}

/// Whether binding TCP `port` on every address fails because it is taken.
fn in_use(port: u16) -> bool {
    let try_bind = |addr: std::net::SocketAddr| {
        let domain = socket2::Domain::for_address(addr);
        let Ok(s) = socket2::Socket::new(domain, socket2::Type::STREAM, None) else {
            return false;
        };
        if addr.is_ipv6() {
            let _ = s.set_only_v6(true);
        }
        matches!(s.bind(&addr.into()), Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE))
    };
    try_bind(std::net::SocketAddr::from(([0, 0, 0, 0], port)))
        || try_bind(std::net::SocketAddr::from((
            std::net::Ipv6Addr::UNSPECIFIED,
            port,
        )))
}

/// The kernel's taint flags, decoded.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Taint {
    pub value: u64,
    pub flags: Vec<String>,
    /// Flags a rootkit module leaves: unsigned (E), out-of-tree (O), forced (F/R).
    pub suspicious: Vec<String>,
}

const TAINT: &[(u32, char, &str)] = &[
    (0, 'P', "proprietary module loaded"),
    (1, 'F', "module force-loaded"),
    (2, 'S', "SMP kernel on unsupported hardware"),
    (3, 'R', "module force-unloaded"),
    (4, 'M', "machine check exception"),
    (5, 'B', "bad page"),
    (6, 'U', "taint requested by user space"),
    (7, 'D', "kernel died (oops)"),
    (8, 'A', "ACPI table overridden"),
    (9, 'W', "kernel warning"),
    (10, 'C', "staging driver loaded"),
    (11, 'I', "firmware bug workaround"),
    (12, 'O', "out-of-tree module loaded"),
    (13, 'E', "unsigned module loaded"),
    (14, 'L', "soft lockup"),
    (15, 'K', "live-patched"),
    (16, 'X', "auxiliary taint"),
    (17, 'T', "built with struct randomisation"),
    (18, 'N', "in-kernel test"),
];

pub fn decode_taint(value: u64) -> Taint {
    let mut flags = Vec::new();
    let mut suspicious = Vec::new();
    for (bit, letter, what) in TAINT {
        if value & (1 << bit) != 0 {
            let f = format!("{letter}: {what}");
            if matches!(letter, 'F' | 'R' | 'O' | 'E') {
                suspicious.push(f.clone());
            }
            flags.push(f);
        }
    }
    Taint {
        value,
        flags,
        suspicious,
    }
}

pub fn taint() -> Result<Taint> {
    let v = std::fs::read_to_string("/proc/sys/kernel/tainted")
        .map_err(|e| Error::io("/proc/sys/kernel/tainted", e))?;
    Ok(decode_taint(v.trim().parse().unwrap_or(0)))
}

/// A packet socket or eBPF program, with the processes that hold it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sniffer {
    /// `packet_socket` or `bpf_program`.
    pub kind: String,
    pub inode: Option<u64>,
    /// eBPF: `prog_type` and `prog_id` from fdinfo; packet: protocol.
    pub detail: String,
    pub pids: Vec<i32>,
    pub processes: Vec<String>,
}

/// Every AF_PACKET socket (`/proc/net/packet`) and every eBPF program held
/// through a file descriptor, tied to their processes by one pass over
/// `/proc/*/fd`.
pub fn sniffers(cancel: &CancelToken, warn: &mut dyn FnMut(&str)) -> Result<Vec<Sniffer>> {
    let mut out: Vec<Sniffer> = Vec::new();
    let packet = std::fs::read_to_string("/proc/net/packet").unwrap_or_default();
    for line in packet.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        // sk RefCnt Type Proto Iface R Rmem User Inode
        if f.len() < 9 {
            continue;
        }
        let proto = u16::from_str_radix(f[3], 16).unwrap_or(0);
        out.push(Sniffer {
            kind: "packet_socket".into(),
            inode: f[8].parse().ok(),
            detail: format!("protocol 0x{proto:04x}, interface index {}", f[4]),
            pids: Vec::new(),
            processes: Vec::new(),
        });
    }
    let mut denied = 0usize;
    for e in std::fs::read_dir("/proc")
        .map_err(|e| Error::io("/proc", e))?
        .flatten()
    {
        cancel.check()?;
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let fds = match std::fs::read_dir(format!("/proc/{pid}/fd")) {
            Ok(f) => f,
            // A process that exited meanwhile is not a blind spot.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                denied += 1;
                continue;
            }
            Err(_) => continue,
        };
        let name = std::fs::read(format!("/proc/{pid}/comm"))
            .map(|b| crate::output::lossless(b.trim_ascii_end()))
            .unwrap_or_default();
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let t = target.to_string_lossy();
            if let Some(ino) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                let ino: u64 = ino.parse().unwrap_or(0);
                for s in out.iter_mut().filter(|s| s.inode == Some(ino)) {
                    if !s.pids.contains(&pid) {
                        s.pids.push(pid);
                        s.processes.push(name.clone());
                    }
                }
            } else if t == "anon_inode:bpf-prog" {
                let info = std::fs::read_to_string(format!(
                    "/proc/{pid}/fdinfo/{}",
                    fd.file_name().to_string_lossy()
                ))
                .unwrap_or_default();
                let get = |k: &str| {
                    info.lines()
                        .find_map(|l| l.strip_prefix(k))
                        .map(|v| v.trim().to_string())
                        .unwrap_or_default()
                };
                let detail = format!(
                    "prog_type {} prog_id {}",
                    get("prog_type:"),
                    get("prog_id:")
                );
                match out
                    .iter_mut()
                    .find(|s| s.kind == "bpf_program" && s.detail == detail)
                {
                    Some(s) if !s.pids.contains(&pid) => {
                        s.pids.push(pid);
                        s.processes.push(name.clone());
                    }
                    Some(_) => {}
                    None => out.push(Sniffer {
                        kind: "bpf_program".into(),
                        inode: None,
                        detail,
                        pids: vec![pid],
                        processes: vec![name.clone()],
                    }),
                }
            }
        }
    }
    if denied > 0 {
        warn(&format!(
            "{denied} process(es) could not be inspected (run as root)"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_one_table_leaves_out_is_hidden() {
        let set = |v: &[u16]| {
            v.iter()
                .copied()
                .collect::<std::collections::BTreeSet<u16>>()
        };
        let v = Views {
            procnet: set(&[22, 80]),
            netlink: Some(set(&[22, 443])),
            netlink_all: Some(set(&[22, 443, 5000])),
        };
        assert!(v.hidden_from(22).is_empty());
        assert_eq!(v.hidden_from(80), ["netlink"]);
        assert_eq!(v.hidden_from(443), ["/proc/net"]);
        // Only bound: netlink lists it, /proc/net never does; not hidden.
        assert!(v.hidden_from(5000).is_empty() && v.listed_somewhere(5000));
        assert!(!v.listed_somewhere(6000));
        // Without netlink, only the bind probe against /proc/net counts.
        let w = Views {
            procnet: set(&[22]),
            netlink: None,
            netlink_all: None,
        };
        assert!(w.hidden_from(80).is_empty() && !w.listed_somewhere(80));
    }

    #[test]
    fn taint_decodes_rootkit_flags() {
        let t = decode_taint((1 << 12) | (1 << 13) | (1 << 9));
        assert_eq!(t.flags.len(), 3);
        assert_eq!(t.suspicious.len(), 2);
        assert!(decode_taint(0).flags.is_empty());
    }
}
