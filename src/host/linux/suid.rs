//! Set-uid and set-gid files and file capabilities (T1548.001): each with
//! the package that owns it. One that no package owns (or whose package
//! says it is different now) is how a user becomes root again later.

use crate::error::Result;
use crate::runtime::CancelToken;
use serde::Serialize;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Privileged {
    /// Absolute path on the inspected system.
    pub path: String,
    pub setuid: bool,
    pub setgid: bool,
    /// File capabilities (`cap_setuid+ep` style names), empty when none.
    pub capabilities: Vec<String>,
    pub uid: u32,
    pub mode: String,
    /// The dpkg package that owns it (None: no package does).
    pub pkg: Option<String>,
}

const CAP_NAMES: &[&str] = &[
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];

/// Decodes a `security.capability` value (vfs_cap_data v1, v2 or v3).
pub fn decode_caps(raw: &[u8]) -> Vec<String> {
    let word = |i: usize| {
        raw.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or(0)
    };
    if raw.len() < 12 {
        return Vec::new();
    }
    let magic = word(0);
    let effective = magic & 1 != 0;
    let permitted = u64::from(word(1))
        | if raw.len() >= 20 {
            u64::from(word(3)) << 32
        } else {
            0
        };
    let inheritable = u64::from(word(2))
        | if raw.len() >= 20 {
            u64::from(word(4)) << 32
        } else {
            0
        };
    let mut out = Vec::new();
    for (i, name) in CAP_NAMES.iter().enumerate() {
        let p = permitted & (1 << i) != 0;
        let inh = inheritable & (1 << i) != 0;
        if p || inh {
            let mut flags = String::from("+");
            if effective {
                flags.push('e');
            }
            if inh {
                flags.push('i');
            }
            if p {
                flags.push('p');
            }
            out.push(format!("{name}{flags}"));
        }
    }
    out
}

fn capabilities(path: &Path) -> Vec<String> {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return Vec::new();
    };
    let mut buf = [0u8; 64];
    // SAFETY: both strings are NUL-terminated, the buffer's length is passed.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"security.capability".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n <= 0 {
        return Vec::new();
    }
    decode_caps(&buf[..n as usize])
}

/// Whether a folder holds a system of its own: a package database and
/// the programs it installed.
fn nested_system(dir: &Path) -> bool {
    (dir.join("var/lib/dpkg/status").is_file() || dir.join("var/lib/rpm").is_dir())
        && dir.join("usr/bin").is_dir()
}

/// The package of a path, trying both sides of the /usr merge (dpkg may
/// list /bin/x while the file is reached as /usr/bin/x, or the reverse).
pub fn owner_of(owners: &super::dpkg::Owners, path: &str) -> Option<String> {
    owners.owner(path.as_bytes()).map(str::to_string)
}

/// File systems that hold files someone installed or wrote: their mounts
/// below a walked folder are walked too (a separate /var/tmp or /home
/// partition is where a dropped set-uid shell sits). Not the kernel's
/// pseudo file systems, not network or FUSE mounts (slow, or a hang), not
/// read-only images (squashfs snaps and ISOs carry their own packages).
const LOCAL_FS: &[&str] = &[
    "ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "f2fs", "jfs", "reiserfs",
    "bcachefs", "nilfs2",
];

/// Mount points of local file systems strictly below one of `starts`, as
/// this process sees them (none when the mount table cannot be read). Only
/// for the running system: an image's mounts are not ours.
fn local_mounts_below(starts: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (mnt, fstype) in crate::host::fs::bounded::mount_table() {
        if !LOCAL_FS.iter().any(|t| t.as_bytes() == fstype.as_slice()) {
            continue;
        }
        let Some(m) = mnt.to_str() else { continue };
        let below = starts
            .iter()
            .any(|s| mnt.starts_with(s) && mnt != Path::new(s));
        if below && !out.iter().any(|o| o == m) {
            out.push(m.to_string());
        }
    }
    out
}

/// Set-uid/set-gid files and files with capabilities under `root`: each
/// starting folder on its own file system, and on the running system the
/// local file systems mounted below them (/proc, /sys, network and FUSE
/// mounts are not crossed). `owners` maps paths to packages (from dpkg).
pub fn scan(
    root: &Path,
    under: &[String],
    owners: &super::dpkg::Owners,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Privileged>> {
    let mut out = Vec::new();
    let mut denied = 0usize;
    let mut starts: Vec<String> = under.to_vec();
    if root == Path::new("/") {
        for m in local_mounts_below(under) {
            // A container's or chroot's root mounted below /var/lib (Docker's
            // overlay2 `merged`) is a whole system with its own packages
            // (apk, rpm, dpkg): judged against ours, every set-uid file in it
            // would look foreign.
            let dir = Path::new(&m);
            if dir.join("usr/bin").is_dir() && dir.join("etc").is_dir() {
                warn(&format!(
                    "{m}: a system tree (container or chroot) mounted here, not searched; inspect it with root: {m}"
                ));
                continue;
            }
            if !starts.contains(&m) {
                starts.push(m);
            }
        }
    }
    for start in &starts {
        let top = crate::host::sys::rel(root, start);
        let Ok(meta) = std::fs::symlink_metadata(&top) else {
            continue;
        };
        // /bin -> usr/bin on merged systems: its target is walked under /usr
        // (and an image's absolute link would lead out of the image).
        if meta.file_type().is_symlink() {
            continue;
        }
        let walk = walkdir::WalkDir::new(&top)
            .follow_links(false)
            .same_file_system(true);
        let mut it = walk.into_iter();
        let mut n = 0usize;
        while let Some(e) = it.next() {
            n += 1;
            if n % 4096 == 0 {
                cancel.check()?;
            }
            let e = match e {
                Ok(e) => e,
                Err(_) => {
                    denied += 1;
                    continue;
                }
            };
            // A whole system tree below (a chroot, a container image, a
            // debootstrap cache) has its own packages: judged against ours,
            // every set-uid file in it would look foreign.
            if e.file_type().is_dir() && e.depth() > 0 && nested_system(e.path()) {
                warn(&format!(
                    "{}: a system tree (chroot or image) inside this one, not searched; inspect it with root: {0}",
                    e.path().display()
                ));
                it.skip_current_dir();
                continue;
            }
            if !e.file_type().is_file() {
                continue;
            }
            // No device check here: walkdir keeps to the start's file
            // system by its folders. A file's own device may differ from
            // its folder's (overlayfs reports the layer it lives on), and
            // comparing it hid every file of an overlay.
            let Ok(m) = e.metadata() else { continue };
            let setuid = m.mode() & 0o4000 != 0;
            let setgid = m.mode() & 0o2000 != 0;
            // Capabilities only act on files that can be executed.
            let caps = if m.mode() & 0o111 != 0 {
                capabilities(e.path())
            } else {
                Vec::new()
            };
            if !setuid && !setgid && caps.is_empty() {
                continue;
            }
            let abs = format!(
                "/{}",
                e.path()
                    .strip_prefix(root)
                    .unwrap_or(e.path())
                    .to_string_lossy()
                    .trim_start_matches('/')
            );
            out.push(Privileged {
                pkg: owner_of(owners, &abs),
                path: abs,
                setuid,
                setgid,
                capabilities: caps,
                uid: m.uid(),
                mode: format!("{:04o}", m.mode() & 0o7777),
            });
        }
    }
    if denied > 0 {
        warn(&format!("{denied} folder(s) could not be read"));
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    // A folder listed and also mounted below another is walked once each.
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_decode() {
        // v2, effective, permitted cap_net_raw (13) and cap_setuid (7).
        let mut raw = vec![0u8; 20];
        raw[..4].copy_from_slice(&(0x0200_0001u32).to_le_bytes());
        raw[4..8].copy_from_slice(&((1u32 << 13) | (1 << 7)).to_le_bytes());
        assert_eq!(decode_caps(&raw), ["cap_setuid+ep", "cap_net_raw+ep"]);
    }
}
