//! `log::auth` and `log::journal`: authentication events from auth.log /
//! secure (with rotations) and from the systemd journal files, in one record
//! shape, with `gap` records for cleared or trimmed logs.

use crate::host::log::auth::AuthOpts;
use crate::primitives::Opts;
use rhai::plugin::*;
use std::path::PathBuf;

type Res<T> = crate::primitives::RhaiResult<T>;

const KEYS: &[&str] = &["root", "paths", "since", "gap", "all"];

fn opts(prim: &str, map: rhai::Map) -> Res<AuthOpts> {
    let o = Opts::new(prim, map, KEYS)?;
    let mut a = AuthOpts::default();
    if let Some(r) = o.str("root")? {
        a.root = PathBuf::from(r);
    }
    if let Some(p) = o.strings("paths")? {
        a.paths = p.iter().map(|p| crate::host::fs::script_path(p)).collect();
    }
    a.since = super::log::since_iso(prim, o.raw("since"))?;
    if let Some(d) = o.duration("gap")? {
        a.gap_secs = d.as_secs().max(1) as i64;
    }
    a.all = o.bool("all")?.unwrap_or(false);
    Ok(a)
}

fn dyn_of(v: Vec<crate::host::log::auth::AuthEvent>) -> Res<Dynamic> {
    super::to_dyn(&v)
}

#[export_module]
pub mod log_auth_fns {
    use super::{dyn_of, opts};
    use crate::host::log::{auth, journal};
    use crate::primitives::{ctx, IntoRhai, RhaiResult};
    use rhai::Map;

    /// Authentication events from auth.log / secure and their rotations.
    ///
    /// Reads `/var/log/auth.log` (Debian) or `/var/log/secure` (Red Hat)
    /// with their rotated copies (`auth.log.1`, `auth.log.2.gz`,
    /// `secure-20240101`), oldest first, into records
    /// `#{time, host, kind, user, source_ip, method, program, pid, message,
    /// file, line}`. `kind` is `ssh_accept`, `ssh_fail`, `ssh_invalid_user`,
    /// `sudo` (method: the command), `su` (user: the account taken over),
    /// `useradd`, `usermod`, `groupadd`, `passwd_change`, or `gap`: a
    /// silence longer than `gap` (method `silence`, or `rotation` when a
    /// rotated file starts long after the previous one ends), a current log
    /// emptied (`emptied`), NUL bytes from a file cut while written
    /// (`truncated`). Times are UTC to the second; traditional syslog stamps
    /// are read as local time. Options: `root` (a mounted image), `paths`
    /// (files instead of the usual ones), `since`, `gap` (default `"6h"`).
    /// `log::journal` gives identical records for the same events.
    ///
    /// ```rhai
    /// let fails = [];
    /// try { fails = log::auth(#{ since: "1d" }).filter(|r| r.kind == "ssh_fail"); }
    /// catch (e) { print(e.message); }   // not_found on a journal-only host
    /// fails.all(|r| r.kind == "ssh_fail")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "auth", return_raw)]
    pub fn auth_default(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        auth_opts(nc, Map::new())
    }

    /// `log::auth(opts)`: `root`, `paths`, `since`, `gap`.
    #[rhai_fn(name = "auth", return_raw)]
    pub fn auth_opts(nc: NativeCallContext, o: Map) -> RhaiResult<Dynamic> {
        const P: &str = "log::auth";
        let c = ctx(&nc, P)?;
        let a = opts(P, o)?;
        let v = auth::read_auth(&a, &c.cancel, &mut |w| c.warn(P, w)).rhai(P)?;
        crate::primitives::fs::fits(&nc, P, v.len(), 11)?;
        dyn_of(v)
    }

    /// Authentication events read from the systemd journal files.
    ///
    /// Reads the journal files themselves (`/var/log/journal/*/*.journal`,
    /// `/run/log/journal`, no journalctl needed, so it works on an image
    /// with `root`) into the records of `log::auth`; `line` is the entry's
    /// sequence number. Gaps: silences longer than `gap`, and sequence
    /// numbers that jump (`deleted`: entries or whole files removed).
    /// Options: `root`, `paths` (journal files), `since`, `gap`, `all`
    /// (every entry; unclassified ones have kind `other`). Long fields that
    /// journald compressed are skipped with a warning.
    ///
    /// ```rhai
    /// let rs = [];
    /// try { rs = log::journal(#{ since: "2h" }); } catch (e) { print(e.message); }
    /// rs.all(|r| type_of(r.kind) == "string")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "journal", return_raw)]
    pub fn journal_default(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        journal_opts(nc, Map::new())
    }

    /// `log::journal(opts)`: `root`, `paths`, `since`, `gap`, `all`.
    #[rhai_fn(name = "journal", return_raw)]
    pub fn journal_opts(nc: NativeCallContext, o: Map) -> RhaiResult<Dynamic> {
        const P: &str = "log::journal";
        let c = ctx(&nc, P)?;
        let a = opts(P, o)?;
        let v = journal::read_journal(&a, &c.cancel, &mut |w| c.warn(P, w)).rhai(P)?;
        crate::primitives::fs::fits(&nc, P, v.len(), 11)?;
        dyn_of(v)
    }
}
