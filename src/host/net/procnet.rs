//! The fallback when netlink sock_diag is unavailable: the same tables as
//! text from /proc/net (slower: every socket is printed and parsed as hex).

use super::{diag::state_name, Raw, UnixRaw};
use crate::error::{Error, Result};

/// One of /proc/net/{tcp,tcp6,udp,udp6}, appended to `out`. A kernel
/// without IPv6 has no tcp6 table: nothing to list, not an error. UDP
/// states are numbered the TCP way (1 connected, 7 not), so one state
/// table names both.
pub(super) fn table(which: &str, out: &mut Vec<Raw>) -> Result<()> {
    let err = |e: procfs::ProcError| Error::io_msg(format!("/proc/net/{which}: {e}"));
    let rows: procfs::ProcResult<Vec<(u8, Raw)>> = match which {
        "tcp" | "tcp6" => if which == "tcp" {
            procfs::net::tcp()
        } else {
            procfs::net::tcp6()
        }
        .map(|v| {
            v.into_iter()
                .map(|r| {
                    (
                        r.state.to_u8(),
                        raw("tcp", r.local_address, r.remote_address, r.inode, r.uid),
                    )
                })
                .collect()
        }),
        _ => if which == "udp" {
            procfs::net::udp()
        } else {
            procfs::net::udp6()
        }
        .map(|v| {
            v.into_iter()
                .map(|r| {
                    (
                        r.state.to_u8(),
                        raw("udp", r.local_address, r.remote_address, r.inode, r.uid),
                    )
                })
                .collect()
        }),
    };
    match rows {
        Ok(rows) => out.extend(rows.into_iter().map(|(st, mut r)| {
            r.state = state_name(st);
            r
        })),
        Err(procfs::ProcError::NotFound(_)) => {}
        Err(e) => return Err(err(e)),
    }
    Ok(())
}

fn raw(
    proto: &'static str,
    local: std::net::SocketAddr,
    remote: std::net::SocketAddr,
    inode: u64,
    uid: u32,
) -> Raw {
    Raw {
        proto,
        state: "",
        local,
        remote,
        inode,
        uid,
    }
}

/// /proc/net/unix: `Num RefCount Protocol Flags Type St Inode [Path]`.
/// It has no peers and no uids.
pub(super) fn unix(out: &mut Vec<UnixRaw>) -> Result<()> {
    let text =
        std::fs::read_to_string("/proc/net/unix").map_err(|e| Error::io("/proc/net/unix", e))?;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 7 {
            continue;
        }
        let hex = |s: &str| u64::from_str_radix(s, 16).unwrap_or(0);
        let flags = hex(f[3]);
        // __SO_ACCEPTCON marks a listener; St 3 is SS_CONNECTED.
        let state = if flags & 0x10000 != 0 {
            "LISTEN"
        } else if hex(f[5]) == 3 {
            "ESTAB"
        } else {
            "UNCONN"
        };
        out.push(UnixRaw {
            kind: hex(f[4]) as u8,
            state,
            inode: f[6].parse().unwrap_or(0),
            name: f.get(7).map(|p| p.to_string()),
            peer: None,
            uid: None,
        });
    }
    Ok(())
}
