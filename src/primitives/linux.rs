//! `sys::` primitives for the Linux places intruders use: package
//! integrity, dynamic-linker hijacks, rootkit cross-views, privileged files,
//! shell history. Each is usable on its own; the `triage`, `persistence`
//! and `rootkit` hunts combine them (stdlib/linux.rhai).

use crate::host::linux::{dpkg, history, preload, rootkit, suid};
use crate::primitives::{ctx, to_dyn, IntoRhai, Opts, RhaiResult};
use rhai::plugin::*;
use rhai::{Dynamic, Map};
use std::path::PathBuf;

fn root_of(o: &Opts) -> RhaiResult<PathBuf> {
    Ok(PathBuf::from(o.str("root")?.unwrap_or_else(|| "/".into())))
}

fn verify_impl(nc: &NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
    const P: &str = "sys::packages_verify";
    let c = ctx(nc, P)?;
    let o = Opts::new(P, opts, &["root", "packages", "paths"])?;
    let root = root_of(&o)?;
    let vo = dpkg::VerifyOpts {
        packages: o.strings("packages")?.unwrap_or_default(),
        paths: o.strings("paths")?.unwrap_or_default(),
    };
    let v = dpkg::verify(&root, &vo, &c.cancel, &mut |w| c.warn(P, w)).rhai(P)?;
    to_dyn(&v)
}

/// Where set-uid files matter: the system's folders and the places users
/// and droppers write; not every data volume below `/`.
pub const DEFAULT_PRIVILEGED_PATHS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib64", "/opt", "/etc", "/var", "/tmp", "/dev/shm", "/home",
    "/root", "/srv", "/boot",
];

fn privileged_impl(nc: &NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
    const P: &str = "sys::privileged_files";
    let c = ctx(nc, P)?;
    let o = Opts::new(P, opts, &["root", "paths"])?;
    let root = root_of(&o)?;
    let under = o.strings("paths")?.unwrap_or_else(|| {
        DEFAULT_PRIVILEGED_PATHS
            .iter()
            .map(|s| s.to_string())
            .collect()
    });
    let owners = match dpkg::owners(&root, &mut |w| c.warn(P, w)) {
        Ok(m) => m,
        Err(e) => {
            c.warn(P, format!("no package owners: {}", e.message));
            std::sync::Arc::default()
        }
    };
    let v = suid::scan(&root, &under, &owners, &c.cancel, &mut |w| c.warn(P, w)).rhai(P)?;
    to_dyn(&v)
}

#[export_module]
pub mod linux_fns {
    use super::*;

    /// Installed files that differ from what dpkg installed.
    ///
    /// Compares every file listed in `/var/lib/dpkg/info/*.md5sums` with its
    /// md5 on disk (conffiles apart: they are meant to be edited). Returns
    /// `[#{pkg, path, status, expected_md5, actual_md5}]` with `status`
    /// `changed`, `missing` or `unreadable`. On an RPM system it fails with
    /// `unsupported` rather than guess. Options: `root` (a mounted image),
    /// `packages` and `paths` (absolute prefixes) to narrow it.
    ///
    /// ```rhai
    /// // no_run
    /// sys::packages_verify(#{ packages: ["openssh-server", "procps"] })
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "packages_verify", return_raw)]
    pub fn packages_verify(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        verify_impl(&nc, Map::new())
    }

    /// `sys::packages_verify(opts)`: `root`, `packages`, `paths`.
    ///
    /// ```rhai
    /// // no_run
    /// sys::packages_verify(#{ paths: ["/usr/sbin/sshd", "/usr/bin/ps"] })
    /// ```
    #[rhai_fn(name = "packages_verify", return_raw)]
    pub fn packages_verify_with(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        verify_impl(&nc, opts)
    }

    /// The dpkg package that owns a path, or `()` when none does.
    ///
    /// ```rhai
    /// let p = ();
    /// try { p = sys::package_owner("/bin/sh"); } catch { }
    /// p == () || type_of(p) == "string"
    /// ```
    ///
    /// Returns: string|()
    #[rhai_fn(name = "package_owner", return_raw)]
    pub fn package_owner(nc: NativeCallContext, path: &str) -> RhaiResult<Dynamic> {
        const P: &str = "sys::package_owner";
        let c = ctx(&nc, P)?;
        let owners = dpkg::owners(std::path::Path::new("/"), &mut |w| c.warn(P, w)).rhai(P)?;
        Ok(suid::owner_of(&owners, path)
            .map(Dynamic::from)
            .unwrap_or(Dynamic::UNIT))
    }

    /// What dpkg says of each path: `[#{path, pkg, status, conffile}]` with
    /// `status` `unchanged`, `changed`, `missing`, `unowned`, `unknown`
    /// (owned, no checksum kept) or `no_dpkg`. Conffiles are checked
    /// against the checksums in dpkg's status file. Hunts leave an
    /// unchanged packaged file alone, and report a changed one.
    ///
    /// ```rhai
    /// let s = sys::package_status(["/nonexistent/x"], #{ root: "/nonexistent" });
    /// s[0].status == "no_dpkg"
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "package_status", return_raw)]
    pub fn package_status(
        nc: NativeCallContext,
        paths: rhai::Array,
        opts: Map,
    ) -> RhaiResult<Dynamic> {
        const P: &str = "sys::package_status";
        let c = ctx(&nc, P)?;
        let o = Opts::new(P, opts, &["root"])?;
        let root = root_of(&o)?;
        let paths: Vec<String> = paths.into_iter().map(|d| d.to_string()).collect();
        to_dyn(&dpkg::status_of(&root, &paths, &c.cancel, &mut |w| c.warn(P, w)).rhai(P)?)
    }

    /// `sys::package_status(paths)` on this host.
    ///
    /// ```rhai
    /// // no_run
    /// sys::package_status(["/etc/init.d/x11-common", "/usr/sbin/sshd"])
    /// ```
    #[rhai_fn(name = "package_status", return_raw)]
    pub fn package_status_here(nc: NativeCallContext, paths: rhai::Array) -> RhaiResult<Dynamic> {
        package_status(nc, paths, Map::new())
    }

    /// Dynamic-linker hijacks: `/etc/ld.so.preload`, library folders outside
    /// the standard ones in `ld.so.conf(.d)`, and on a live host
    /// `LD_PRELOAD`/`LD_AUDIT` (or an `LD_LIBRARY_PATH` naming a temp folder)
    /// in process environments, and libraries mapped from temp folders or
    /// deleted files. Returns `[#{kind, library, source, pid, process, reason}]`.
    ///
    /// ```rhai
    /// let h = sys::preload_hijacks(#{ root: "/nonexistent" });
    /// h.is_empty()
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "preload_hijacks", return_raw)]
    pub fn preload_hijacks(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        const P: &str = "sys::preload_hijacks";
        let c = ctx(&nc, P)?;
        let o = Opts::new(P, opts, &["root"])?;
        let root = root_of(&o)?;
        let mut v = preload::config(&root, &mut |w| c.warn(P, w)).rhai(P)?;
        if root == std::path::Path::new("/") {
            v.extend(preload::processes(&c.cancel, &mut |w| c.warn(P, w)).rhai(P)?);
        }
        to_dyn(&v)
    }

    /// `sys::preload_hijacks()` on this host.
    ///
    /// ```rhai
    /// // no_run
    /// sys::preload_hijacks()
    /// ```
    #[rhai_fn(name = "preload_hijacks", return_raw)]
    pub fn preload_hijacks_here(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        preload_hijacks(nc, Map::new())
    }

    /// Rootkit cross-views of this host: pids that answer `kill(pid, 0)` but
    /// are missing from `/proc`, `/proc/PID` entries covered by a mount,
    /// modules in `/sys/module` hidden from `/proc/modules`, and TCP ports
    /// that are taken (a bind probe fails) but that `/proc/net` or netlink
    /// does not list (in this network namespace). Returns
    /// `[#{kind, subject, detail}]` (empty on a clean host). Checking every
    /// pid takes a second or two.
    ///
    /// ```rhai
    /// // no_run
    /// sys::crossview()
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "crossview", return_raw)]
    pub fn crossview(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        const P: &str = "sys::crossview";
        let c = ctx(&nc, P)?;
        let mut v = rootkit::proc_mounts().rhai(P)?;
        v.extend(rootkit::hidden_modules().rhai(P)?);
        v.extend(rootkit::hidden_processes(&c.cancel).rhai(P)?);
        v.extend(rootkit::hidden_ports(&c.cancel, &mut |w| c.warn(P, w)).rhai(P)?);
        to_dyn(&v)
    }

    /// The kernel's taint flags: `#{value, flags, suspicious}`, where
    /// `suspicious` lists what a rootkit module leaves (unsigned,
    /// out-of-tree, force-loaded or force-unloaded modules).
    ///
    /// ```rhai
    /// let t = sys::kernel_taint();
    /// type_of(t.flags) == "array"
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "kernel_taint", return_raw)]
    pub fn kernel_taint() -> RhaiResult<Dynamic> {
        to_dyn(&rootkit::taint().rhai("sys::kernel_taint")?)
    }

    /// Packet sockets (AF_PACKET, `/proc/net/packet`) and eBPF programs,
    /// each with the processes that hold them: what can sniff or filter
    /// traffic (BPFDoor). `[#{kind, inode, detail, pids, processes}]`.
    ///
    /// ```rhai
    /// // no_run
    /// sys::sniffers().filter(|s| s.kind == "packet_socket")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "sniffers", return_raw)]
    pub fn sniffers(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        const P: &str = "sys::sniffers";
        let c = ctx(&nc, P)?;
        to_dyn(&rootkit::sniffers(&c.cancel, &mut |w| c.warn(P, w)).rhai(P)?)
    }

    /// Set-uid and set-gid files and files with capabilities, each with the
    /// package that owns it (`pkg: ()` when none does). Options: `root`,
    /// `paths` (folders to walk; default the system folders and the places
    /// users and droppers write: /usr, /bin, /sbin, /lib, /lib64, /opt,
    /// /etc, /var, /tmp, /dev/shm, /home, /root, /srv, /boot; local file
    /// systems mounted below them are walked too, never /proc, /sys,
    /// network or FUSE mounts). `[#{path, setuid, setgid, capabilities, uid, mode, pkg}]`.
    ///
    /// ```rhai
    /// // no_run
    /// sys::privileged_files(#{ paths: ["/usr", "/opt"] }).filter(|f| f.pkg == ())
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "privileged_files", return_raw)]
    pub fn privileged_files(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        privileged_impl(&nc, opts)
    }

    /// Shell histories and rc files of every account: histories linked to
    /// `/dev/null` or emptied, history disabled at login (`unset HISTFILE`,
    /// `HISTSIZE=0`), and commands that fetch and run code, clear logs or
    /// touch keys. `[#{user, kind, path, line, text, reason}]`; option `root`.
    ///
    /// ```rhai
    /// sys::shell_history(#{ root: "/nonexistent" }).is_empty()
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "shell_history", return_raw)]
    pub fn shell_history(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        const P: &str = "sys::shell_history";
        let c = ctx(&nc, P)?;
        let o = Opts::new(P, opts, &["root"])?;
        let root = root_of(&o)?;
        to_dyn(&history::scan(&root, &mut |w| c.warn(P, w)).rhai(P)?)
    }
}
