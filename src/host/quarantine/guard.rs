//! What quarantine refuses to remove, by rule rather than by a list of
//! names: files a package owns (the dpkg database), the system's own
//! folders, virtual file systems, mount points, hound itself and its case.

use super::at::{kind, shown};
use crate::error::{Error, Result};
use nix::sys::stat::FileStat;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Files no package lists but the system cannot lose.
const CRITICAL: &[&str] = &[
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/fstab",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/machine-id",
    "/etc/ld.so.cache",
];

/// Top-level folders whose second level is system structure too (a
/// recursive quarantine of `/var/lib` or `/usr/bin` takes the system down).
const SYSTEM_TREES: &[&str] = &[
    "/usr", "/var", "/etc", "/boot", "/opt", "/lib", "/lib32", "/lib64", "/libx32", "/bin",
    "/sbin", "/srv",
];

/// Where file systems that are not files live; `/dev/shm` is ordinary
/// storage attackers use, so it stays reachable.
fn virtual_fs(p: &[u8]) -> bool {
    let under = |root: &[u8]| p == root || p.starts_with(&[root, b"/"].concat());
    (under(b"/proc") || under(b"/sys") || under(b"/dev") || under(b"/boot"))
        && !p.starts_with(b"/dev/shm/")
}

/// Paths owned by installed packages: dpkg's lists and diversions, read
/// by the one loader of `host::linux::dpkg`.
pub type Packages = crate::host::linux::dpkg::Owners;

/// The live system's packages, read once per run (then again only if dpkg
/// changed its database). Unreadable lists are not warned about here: the
/// folder rules still refuse system paths.
pub fn packages() -> Arc<Packages> {
    Packages::cached(Path::new("/var/lib/dpkg"), &mut |_| {})
}

/// Mount points from `/proc/self/mountinfo` (octal escapes undone).
fn mount_points() -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let text = crate::host::fs::read::read_system(
        Path::new("/proc/self/mountinfo"),
        16 << 20,
        &mut |_| {},
    )
    .unwrap_or_default();
    text.split(|&c| c == b'\n')
        .filter_map(|l| l.split(|&c| c == b' ').nth(4))
        .map(|m| {
            PathBuf::from(std::ffi::OsString::from_vec(
                crate::host::fs::bounded::unescape_mountinfo(m),
            ))
        })
        .collect()
}

/// Refuses `canon` (absolute, folders resolved) when removing it would hurt
/// the system, hound, or the case. `st` is its `lstat`.
/// The executables of hound's parents, up to init: the responder's shell,
/// sudo, Ansible's module runner or a test harness. Removing one of them
/// would take the responder's own tools away.
fn responder_exes() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pid = std::process::id();
    for _ in 0..64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0);
        if ppid <= 1 {
            break;
        }
        if let Ok(e) = std::fs::read_link(format!("/proc/{ppid}/exe")) {
            out.push(e);
        }
        pid = ppid;
    }
    out
}

pub fn check(canon: &Path, st: &FileStat, case_dir: &Path, pkgs: &Packages) -> Result<()> {
    let b = canon.as_os_str().as_bytes();
    let s = shown(canon);
    let refuse = |why: String| {
        Err(Error::invalid(format!(
            "{s:?} {why}; refusing to remove it"
        )))
    };
    if canon.parent().is_none() || virtual_fs(b) {
        return refuse("is a system path (root, /proc, /sys, /dev or /boot)".into());
    }
    if CRITICAL.iter().any(|c| c.as_bytes() == b) {
        return refuse("is a system path (a file the system needs)".into());
    }
    let depth = canon.components().count() - 1;
    if kind(st) == libc::S_IFDIR {
        let top = canon.components().nth(1).map(|c| Path::new("/").join(c));
        let in_tree = top
            .as_deref()
            .is_some_and(|t| SYSTEM_TREES.iter().any(|x| Path::new(x) == t));
        if depth == 1 || (depth == 2 && in_tree) {
            return refuse("is a system path (a system folder)".into());
        }
    }
    if let Some(pkg) = pkgs.owner_or_diverter(b) {
        return refuse(format!(
            "is a system path (it belongs to the package {pkg:?})"
        ));
    }
    if kind(st) == libc::S_IFDIR && mount_points().iter().any(|m| m == canon) {
        return refuse("is a system path (a mount point)".into());
    }
    if std::env::current_exe().is_ok_and(|e| e == canon) {
        return refuse("is a system path (hound itself)".into());
    }
    if responder_exes().iter().any(|e| e == canon) {
        return refuse("runs the session that started hound (one of its parents)".into());
    }
    let case = std::fs::canonicalize(case_dir).unwrap_or_else(|_| case_dir.to_path_buf());
    if !case.as_os_str().is_empty() && (canon.starts_with(&case) || case.starts_with(canon)) {
        return Err(Error::invalid(format!(
            "{s:?} is (or holds) the case folder"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_and_aliases() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("info")).unwrap();
        std::fs::write(
            d.path().join("info/libc6:amd64.list"),
            "/.\n/lib/x86_64-linux-gnu/libc.so.6\n/var/lib\n",
        )
        .unwrap();
        std::fs::write(d.path().join("info/dash.list"), "/bin/dash\n").unwrap();
        std::fs::write(
            d.path().join("diversions"),
            "/bin/sh\n/bin/sh.distrib\ndash\n",
        )
        .unwrap();
        let p = Packages::load(d.path(), &mut |w| panic!("{w}"));
        assert_eq!(
            p.owner(b"/usr/lib/x86_64-linux-gnu/libc.so.6"),
            Some("libc6")
        );
        assert_eq!(p.owner_or_diverter(b"/usr/bin/sh"), Some("dash"));
        assert_eq!(p.owner(b"/var/lib"), Some("libc6"));
        assert_eq!(p.owner_or_diverter(b"/usr/bin/.x"), None);
    }
}
