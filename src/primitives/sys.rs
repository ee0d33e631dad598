//! `sys::` primitives: the host, its accounts, logins and persistence.
//!
//! Each reads files under a root (`/` by default). `#{root: "/mnt/image"}`
//! points it at a mounted disk image or a copied tree instead.

use crate::primitives::{Opts, RhaiResult};
use rhai::plugin::*;
use rhai::Map;
use std::path::PathBuf;

/// The `root` option (the only one most `sys::` functions take).
fn root_of(prim: &str, opts: Map) -> RhaiResult<PathBuf> {
    let o = Opts::new(prim, opts, &["root"])?;
    Ok(PathBuf::from(o.str("root")?.unwrap_or_else(|| "/".into())))
}

/// Runs a host reader with warnings routed to the script, naming `P`.
macro_rules! read_with_root {
    ($nc:expr, $prim:expr, $opts:expr, $f:path) => {{
        let c = ctx(&$nc, $prim)?;
        let root = super::root_of($prim, $opts)?;
        let v = $f(&root, &mut |w: &str| c.warn($prim, w)).rhai($prim)?;
        to_dyn(&v)
    }};
}

#[export_module]
pub mod sys_fns {
    use crate::host;
    use crate::primitives::{ctx, to_dyn, IntoRhai};

    /// Hostname, kernel, distro, uptime and boot time.
    ///
    /// The machine: `hostname`, `kernel` (release), `kernel_version`, `arch`,
    /// `distro` (os-release PRETTY_NAME), `distro_id`, `uptime_s`,
    /// `boot_time` and `now` (ISO 8601 UTC).
    ///
    /// ```rhai
    /// let i = sys::info();
    /// `${i.hostname} runs ${i.distro}, kernel ${i.kernel}, up ${i.uptime_s}s`
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "info", return_raw)]
    pub fn info() -> RhaiResult<Dynamic> {
        to_dyn(&host::sys::info(std::path::Path::new("/")).rhai("sys::info")?)
    }

    /// Accounts from /etc/passwd and /etc/shadow (uid-0 and password state).
    ///
    /// Accounts from /etc/passwd, with password states from /etc/shadow when
    /// readable: `name`, `uid`, `gid`, `gecos`, `home`, `shell`, `can_login`
    /// (a real shell), `uid0`, `password` (`locked`, `none`, `set`, or
    /// `unknown` when shadow is unreadable), `password_source` (`shadow`, or
    /// `passwd` for a hash left in /etc/passwd itself).
    ///
    /// ```rhai
    /// let root_like = sys::users().filter(|u| u.uid0 && u.name != "root");
    /// root_like
    /// ```
    ///
    /// `sys::users(#{root})`: the accounts of another tree (a mounted image).
    ///
    /// ```rhai
    /// sys::users(#{ root: "/" }).filter(|u| u.password == "none" && u.can_login)
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "users", return_raw)]
    pub fn users(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        users_with(nc, Map::new())
    }

    #[rhai_fn(name = "users", return_raw)]
    pub fn users_with(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        read_with_root!(nc, "sys::users", opts, host::sys::users)
    }

    /// Logins, reboots and failed logins from wtmp/btmp (the `last` view).
    ///
    /// The `last` view, newest first, from /var/log/wtmp (logins, reboots,
    /// shutdowns) and /var/log/btmp (failed logins): `user`, `tty`, `from`,
    /// `ip`, `start`, `end` (null while logged in), `duration_s`, `type`
    /// (`login`, `reboot`, `shutdown`, `failed`), `failed`, `status`
    /// (`logged_in`, `logout`, `crash`, `down`, `gone`), `pid`, `source`.
    /// Parsed natively, not through `last`.
    ///
    /// ```rhai
    /// let remote = sys::logins().filter(|l| l.type == "login" && l.from != "");
    /// remote
    /// ```
    ///
    /// `sys::logins(opts)`: `root` (a tree holding var/log/wtmp and btmp), or
    /// `wtmp` and `btmp` (paths of copied files).
    ///
    /// ```rhai
    /// sys::logins(#{ wtmp: "/var/log/wtmp" }).all(|l| l.type != "")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "logins", return_raw)]
    pub fn logins(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        logins_with(nc, Map::new())
    }

    #[rhai_fn(name = "logins", return_raw)]
    pub fn logins_with(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        const P: &str = "sys::logins";
        let c = ctx(&nc, P)?;
        let o = crate::primitives::Opts::new(P, opts, &["root", "wtmp", "btmp"])?;
        let root = std::path::PathBuf::from(o.str("root")?.unwrap_or_else(|| "/".into()));
        let mut warn = |w: &str| c.warn(P, w);
        let v = match (o.str("wtmp")?, o.str("btmp")?) {
            (None, None) => host::sys::logins(&root, &mut warn),
            (w, b) => {
                let w = w
                    .map(std::path::PathBuf::from)
                    .unwrap_or_else(|| host::sys::rel(&root, "var/log/wtmp"));
                let b = b.map(std::path::PathBuf::from);
                host::sys::logins_from(&w, b.as_deref(), &mut warn)
            }
        }
        .rhai(P)?;
        to_dyn(&v)
    }

    /// Who is logged in now (utmp).
    ///
    /// Who is logged in now, from /run/utmp: `user`, `tty`, `from`, `ip`,
    /// `start`, `pid`, `alive` (the session's process still exists).
    ///
    /// ```rhai
    /// sys::sessions().map(|s| `${s.user} on ${s.tty} from ${s.from}`)
    /// ```
    ///
    /// `sys::sessions(#{root})`.
    ///
    /// ```rhai
    /// sys::sessions(#{ root: "/" })
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "sessions", return_raw)]
    pub fn sessions(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        sessions_with(nc, Map::new())
    }

    #[rhai_fn(name = "sessions", return_raw)]
    pub fn sessions_with(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        read_with_root!(nc, "sys::sessions", opts, host::sys::sessions)
    }

    /// Cron, anacron and at jobs read from disk.
    ///
    /// Scheduled jobs read from disk: /etc/crontab, /etc/cron.d/*, the
    /// scripts in /etc/cron.{hourly,daily,weekly,monthly}, /etc/anacrontab,
    /// per-user crontabs in /var/spool/cron, and queued `at` jobs. Each:
    /// `file`, `line`, `user`, `schedule` (`*/5 * * * *`, `@reboot`, `@daily`
    /// for cron.daily scripts, `at 2024-05-01T03:00:00Z`), `command` (the
    /// script's path for scripts and `at` jobs), `kind` (`crontab`, `script`,
    /// `anacron`, `at`).
    ///
    /// ```rhai
    /// let odd = sys::crontabs().filter(|j| j.command.contains("/tmp/") || j.command.contains("curl"));
    /// odd
    /// ```
    ///
    /// `sys::crontabs(#{root})`.
    ///
    /// ```rhai
    /// sys::crontabs(#{ root: "/" }).filter(|j| j.schedule == "@reboot")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "crontabs", return_raw)]
    pub fn crontabs(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        crontabs_with(nc, Map::new())
    }

    #[rhai_fn(name = "crontabs", return_raw)]
    pub fn crontabs_with(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        read_with_root!(nc, "sys::crontabs", opts, host::sys::crontabs)
    }

    /// systemd units read from disk, with enablement and ExecStart.
    ///
    /// systemd unit files read from disk: system units (/etc/systemd/system,
    /// /run/systemd/system, /usr/lib/systemd/system, /lib/systemd/system;
    /// the first of a name wins), units for every user (/etc/systemd/user,
    /// /usr/lib/systemd/user) and each account's ~/.config/systemd/user.
    /// Fields: `unit`, `path`, `scope` (`system`, `user`, or the account
    /// name), `kind` (`service`, `timer`, ...), `enabled` (linked from a
    /// `*.wants`/`*.requires` directory), `state` (`enabled`, `disabled`,
    /// `static`, `masked`, `alias`), `description`, `exec_start` (drop-ins
    /// applied), `user`, `wanted_by`, `dropins` (the `<unit>.d/*.conf` files),
    /// `mtime`.
    ///
    /// ```rhai
    /// let local = sys::services().filter(|s| s.enabled && s.path.starts_with("/etc/"));
    /// local.map(|s| [s.unit, s.exec_start])
    /// ```
    ///
    /// `sys::services(#{root})`.
    ///
    /// ```rhai
    /// sys::services(#{ root: "/" }).filter(|s| s.kind == "timer")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "services", return_raw)]
    pub fn services(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        services_with(nc, Map::new())
    }

    #[rhai_fn(name = "services", return_raw)]
    pub fn services_with(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        read_with_root!(nc, "sys::services", opts, host::sys::services)
    }

    /// SSH keys in every account's authorized_keys files.
    ///
    /// Every account's `~/.ssh/authorized_keys` and `authorized_keys2`:
    /// `user`, `file`, `line`, `key_type`, `comment`, `options`
    /// (`command="..."`, `from="..."`), `fingerprint` (`SHA256:...`, as
    /// `ssh-keygen -l` prints it).
    ///
    /// ```rhai
    /// sys::authorized_keys().map(|k| `${k.user}: ${k.key_type} ${k.comment} ${k.fingerprint}`)
    /// ```
    ///
    /// `sys::authorized_keys(#{root})`.
    ///
    /// ```rhai
    /// sys::authorized_keys(#{ root: "/" }).filter(|k| k.options != "")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "authorized_keys", return_raw)]
    pub fn authorized_keys(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        authorized_keys_with(nc, Map::new())
    }

    #[rhai_fn(name = "authorized_keys", return_raw)]
    pub fn authorized_keys_with(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        read_with_root!(nc, "sys::authorized_keys", opts, host::sys::authorized_keys)
    }

    /// Loaded kernel modules and their taint flags.
    ///
    /// Loaded kernel modules from /proc/modules: `name`, `size`, `refcount`,
    /// `used_by`, `state`, `taint` (`O` out-of-tree, `E` unsigned: a rootkit
    /// module is usually both).
    ///
    /// ```rhai
    /// let mods = [];
    /// try { mods = sys::kernel_modules(); } catch (e) { warn(e.message); }
    /// mods.filter(|m| m.taint.contains("E"))
    /// ```
    ///
    /// `sys::kernel_modules(#{root})` (reads `<root>/proc/modules`).
    ///
    /// ```rhai
    /// let mods = [];
    /// try { mods = sys::kernel_modules(#{ root: "/" }); } catch (e) { }
    /// mods.all(|m| m.name != "")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "kernel_modules", return_raw)]
    pub fn kernel_modules(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        kernel_modules_with(nc, Map::new())
    }

    #[rhai_fn(name = "kernel_modules", return_raw)]
    pub fn kernel_modules_with(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        const P: &str = "sys::kernel_modules";
        let root = super::root_of(P, opts)?;
        let _ = ctx(&nc, P)?;
        to_dyn(&host::sys::kernel_modules(&root).rhai(P)?)
    }
}
