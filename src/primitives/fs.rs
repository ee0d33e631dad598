//! `fs::` primitives that read: find, glob, stat, read, head, tail, grep,
//! hash, temp_files. (Quarantine and restore live in `fs_act.rs`.)

use crate::host::fs::Filter;
use crate::primitives::{args, Opts, RhaiResult};
use rhai::plugin::*;
use rhai::Map;

/// The walk filters [`filter`] reads, shared by every primitive that walks
/// a tree (`fs::find`, `fs::yara`).
pub(crate) const WALK_KEYS: &[&str] = &[
    "name",
    "path",
    "min_size",
    "max_size",
    "modified_since",
    "executable",
    "owner",
    "setuid",
    "hidden",
    "limit",
    "max_depth",
    "same_fs",
];

/// Options `fs::temp_files` understands: the walk filters, `type` and
/// `root`.
fn temp_files_keys() -> Vec<&'static str> {
    let mut k = WALK_KEYS.to_vec();
    k.extend(["type", "root"]);
    k
}

/// A point in time given as an ISO time (`"2024-05-01T00:00:00Z"`), a date
/// (`"2024-05-01"`) or how long ago (`"2d"`, `"6h"`, or seconds); as seconds
/// since the epoch.
pub(crate) fn time_arg(prim: &str, arg: &str, v: &Dynamic) -> RhaiResult<i64> {
    if v.is_string() {
        let s = v.to_string();
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
            return Ok(t.timestamp());
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
            if let Some(t) = d.and_hms_opt(0, 0, 0) {
                return Ok(t.and_utc().timestamp());
            }
        }
    }
    let d = args::duration_max(
        prim,
        arg,
        v,
        std::time::Duration::from_secs(100 * 366 * 24 * 3600),
    )?;
    Ok(chrono::Utc::now().timestamp() - d.as_secs() as i64)
}

fn since(prim: &str, o: &Opts) -> RhaiResult<Option<i64>> {
    o.raw("modified_since")
        .map(|v| time_arg(prim, "option \"modified_since\"", v))
        .transpose()
}

/// The filter of an options map, already checked against the caller's keys
/// ([`WALK_KEYS`], with `type` where entries of any type come back).
pub(crate) fn filter(prim: &str, o: &Opts) -> RhaiResult<Filter> {
    let pat = |key: &str| -> RhaiResult<Option<glob::Pattern>> {
        o.str(key)?
            .map(|g| Filter::pattern(key, &g).map_err(|e| args::bad(prim, e.message)))
            .transpose()
    };
    let types = o
        .strings("type")?
        .unwrap_or_default()
        .iter()
        .map(|t| Filter::type_of(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| args::bad(prim, e.message))?;
    let size =
        |key: &str| -> RhaiResult<Option<u64>> { Ok(o.int(key, 0, i64::MAX)?.map(|n| n as u64)) };
    let owner = match o.raw("owner") {
        None => None,
        Some(v) if v.is_int() => Some(v.to_string()),
        Some(_) => o.str("owner")?,
    };
    Ok(Filter {
        name: pat("name")?,
        path: pat("path")?,
        types,
        min_size: size("min_size")?,
        max_size: size("max_size")?,
        modified_since: since(prim, o)?,
        executable: o.bool("executable")?,
        owner,
        setuid: o.bool("setuid")?,
        hidden: o.bool("hidden")?,
        limit: o.int("limit", 0, i64::MAX)?.map(|n| n as usize),
        max_depth: o
            .int("max_depth", 1, 4096)?
            .map(|n| n as usize)
            .unwrap_or(crate::host::fs::find::DEFAULT_DEPTH),
        same_fs: o.bool("same_fs")?.unwrap_or(false),
    })
}

#[export_module]
pub mod fs_fns {
    use super::*;
    use crate::host;
    use crate::host::fs::script_path;
    use crate::primitives::{ctx, to_dyn, IntoRhai};

    /// Entries below a directory, walked without following symlinks (like `find`).
    ///
    /// The directory itself is not listed; symlinks are listed, never
    /// entered; the walk goes at most 32 levels deep (`max_depth`).
    ///
    /// Each entry: `path`, `name`, `type` (`file`, `dir`, `symlink`, `fifo`,
    /// `socket`, `block`, `char`), `size` (bytes), `mode` (octal string such as
    /// `"0755"` or `"4755"`), `uid`, `user`, `gid`, `mtime`, `ctime`, `atime`
    /// (ISO 8601 UTC), `executable`, `setuid`, `setgid`, `link_target`
    /// (symlinks only). Names that are not UTF-8 keep each bad byte as `\xNN`.
    /// Unreadable directories are warnings; the walk goes on.
    ///
    /// ```rhai
    /// let all = fs::find("/etc");
    /// all.some(|f| f.path == "/etc/passwd")
    /// ```
    ///
    /// `fs::find(root, filter)`: the entries that pass every predicate.
    ///
    /// Filter keys: `name` (glob on the file name), `path` (glob on the whole
    /// path), `type` (a type or an array of them; `f`, `d`, `l` also work),
    /// `min_size`, `max_size` (bytes), `modified_since` (`"2d"`, `"6h"`,
    /// seconds, or an ISO time), `executable`, `owner` (name or uid),
    /// `setuid`, `hidden` (name starts with a dot), `limit`, `max_depth`
    /// (default 32), `same_fs` (stay on one file system), `fields` (return
    /// only these entry fields: `fields: ["path"]` skips the owner, mode and
    /// times, and with only `path`, `name` and `type` asked, a walk filtered
    /// on names and types stats nothing).
    ///
    /// Entries come sorted by path. The walk runs on several threads.
    ///
    /// ```rhai
    /// let recent = fs::find("/etc", #{ type: "file", modified_since: "2d", max_depth: 2 });
    /// let suid = fs::find("/usr/bin", #{ setuid: true, limit: 50 });
    /// let units = fs::find("/etc/systemd", #{ name: "*.service", fields: ["path", "size"] });
    /// suid.map(|e| e.path)
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "find", return_raw)]
    pub fn find(nc: NativeCallContext, root: &str) -> RhaiResult<Dynamic> {
        find_with(nc, root, Map::new())
    }

    #[rhai_fn(name = "find", return_raw)]
    pub fn find_with(nc: NativeCallContext, root: &str, filter: Map) -> RhaiResult<Dynamic> {
        const P: &str = "fs::find";
        let c = ctx(&nc, P)?;
        let mut keys = WALK_KEYS.to_vec();
        keys.extend(["type", "fields"]);
        let o = Opts::new(P, filter, &keys)?;
        let f = super::filter(P, &o)?;
        let Some(fields) = super::fields(P, &o)? else {
            let v =
                host::fs::find(&script_path(root), &f, &c.cancel, &mut |w| c.warn(P, w)).rhai(P)?;
            super::fits(&nc, P, v.len(), super::ENTRY_FIELDS)?;
            return to_dyn(&v);
        };
        let need_stat = fields
            .iter()
            .any(|k| !matches!(k.as_str(), "path" | "name" | "type"));
        let v = host::fs::find_found(&script_path(root), &f, need_stat, &c.cancel, &mut |w| {
            c.warn(P, w)
        })
        .rhai(P)?;
        super::fits(&nc, P, v.len(), fields.len())?;
        Ok(super::project(v, &fields).into())
    }

    /// Entries whose paths match a shell pattern.
    ///
    /// Entries whose paths match a shell pattern (`*`, `?`, `[a-z]`, `**`),
    /// with the same fields as `fs::find`. `*` also matches names that start
    /// with a dot.
    ///
    /// ```rhai
    /// let homes = fs::glob("/home/*/.ssh/authorized_keys");
    /// homes.map(|e| e.path)
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "glob", return_raw)]
    pub fn glob(nc: NativeCallContext, pattern: &str) -> RhaiResult<Dynamic> {
        const P: &str = "fs::glob";
        let c = ctx(&nc, P)?;
        let v = host::fs::glob(pattern, &c.cancel, &mut |w| c.warn(P, w)).rhai(P)?;
        super::fits(&nc, P, v.len(), super::ENTRY_FIELDS)?;
        to_dyn(&v)
    }

    /// One path's entry, not following a final symlink.
    ///
    /// One path's entry (the fields of `fs::find`), without following a final
    /// symlink; a missing path is a `not_found` error naming it.
    ///
    /// ```rhai
    /// let e = fs::stat("/etc/passwd");
    /// [e.mode, e.user, e.mtime]
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "stat", return_raw)]
    pub fn stat(path: &str) -> RhaiResult<Dynamic> {
        to_dyn(&host::fs::stat(&script_path(path)).rhai("fs::stat")?)
    }

    /// A file's contents as a string (the first MiB by default).
    ///
    /// The first MiB of a file as a string (invalid UTF-8 bytes as `\xNN`);
    /// a longer file is cut with a warning.
    ///
    /// ```rhai
    /// let text = fs::read("/etc/passwd");
    /// text.contains("root:")
    /// ```
    ///
    /// `fs::read(path, max_bytes)`: at most `max_bytes` of a file.
    ///
    /// ```rhai
    /// let start = fs::read("/etc/passwd", 64);
    /// start.len() <= 64
    /// ```
    #[rhai_fn(name = "read", return_raw)]
    pub fn read(nc: NativeCallContext, path: &str) -> RhaiResult<String> {
        read_max(nc, path, 1 << 20)
    }

    #[rhai_fn(name = "read", return_raw)]
    pub fn read_max(nc: NativeCallContext, path: &str, max_bytes: i64) -> RhaiResult<String> {
        const P: &str = "fs::read";
        let c = ctx(&nc, P)?;
        if max_bytes < 0 {
            return Err(args::bad(P, format!("max_bytes: {max_bytes} is negative")));
        }
        host::fs::read(&script_path(path), max_bytes as u64, &mut |w| c.warn(P, w)).rhai(P)
    }

    /// The first `n` lines of a file.
    ///
    /// The first `n` lines of a file, as an array of strings.
    ///
    /// ```rhai
    /// fs::head("/etc/passwd", 3)
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "head", return_raw)]
    pub fn head(path: &str, n: i64) -> RhaiResult<Dynamic> {
        let n = lines_arg("fs::head", n)?;
        to_dyn(&host::fs::head(&script_path(path), n).rhai("fs::head")?)
    }

    /// The last `n` lines of a file, read from the end (cheap on huge logs).
    ///
    /// The last `n` lines of a file, read backwards from the end in blocks:
    /// a multi-gigabyte log costs a few reads, not a full load.
    ///
    /// ```rhai
    /// fs::tail("/etc/passwd", 2)
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "tail", return_raw)]
    pub fn tail(nc: NativeCallContext, path: &str, n: i64) -> RhaiResult<Dynamic> {
        const P: &str = "fs::tail";
        let c = ctx(&nc, P)?;
        let n = lines_arg(P, n)?;
        to_dyn(&host::fs::tail(&script_path(path), n, &mut |w| c.warn(P, w)).rhai(P)?)
    }

    /// Lines matching a regex, in a file, a glob's files or a directory tree.
    ///
    /// Lines matching a regex in a file, in the files a glob matches, or in
    /// the files below a directory: `[#{path, line_no, line}]`, streamed line
    /// by line. Binary files found through a glob or directory are skipped.
    /// A bad regex is an `invalid_argument` error quoting the regex error.
    ///
    /// ```rhai
    /// let roots = fs::grep("/etc/passwd", "^root:");
    /// roots.len()
    /// ```
    ///
    /// `fs::grep(target, regex, opts)`; options: `ignore_case`, `invert`
    /// (non-matching lines), `limit` (matches in all), `binary` (search
    /// binary files too), `max_depth` (for a directory).
    ///
    /// ```rhai
    /// fs::grep("/etc/*.conf", "nameserver|server", #{ ignore_case: true, limit: 20 })
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "grep", return_raw)]
    pub fn grep(nc: NativeCallContext, target: &str, regex: &str) -> RhaiResult<Dynamic> {
        grep_with(nc, target, regex, Map::new())
    }

    #[rhai_fn(name = "grep", return_raw)]
    pub fn grep_with(
        nc: NativeCallContext,
        target: &str,
        regex: &str,
        opts: Map,
    ) -> RhaiResult<Dynamic> {
        super::grep_as(&nc, "fs::grep", target, regex, opts)
    }

    /// A file's SHA-256 (or SHA-1, MD5), streamed.
    ///
    /// The SHA-256 of a file, hex, streamed (any size).
    ///
    /// ```rhai
    /// fs::hash("/etc/hostname").len() == 64
    /// ```
    ///
    /// `fs::hash(path, algo)` with `algo` one of `"sha256"`, `"sha1"`, `"md5"`.
    ///
    /// ```rhai
    /// fs::hash("/etc/hostname", "md5").len() == 32
    /// ```
    #[rhai_fn(name = "hash", return_raw)]
    pub fn hash(nc: NativeCallContext, path: &str) -> RhaiResult<String> {
        hash_with(nc, path, "sha256")
    }

    #[rhai_fn(name = "hash", return_raw)]
    pub fn hash_with(nc: NativeCallContext, path: &str, algo: &str) -> RhaiResult<String> {
        const P: &str = "fs::hash";
        let c = ctx(&nc, P)?;
        host::fs::hash(&script_path(path), algo, &c.cancel).rhai(P)
    }

    /// Files in /tmp, /var/tmp and /dev/shm, where droppers land.
    ///
    /// Regular files under `/tmp`, `/var/tmp` and `/dev/shm`, with the fields
    /// of `fs::find`: where droppers and payloads usually land.
    ///
    /// ```rhai
    /// let exes = fs::temp_files(#{ executable: true, limit: 1000 });
    /// exes.map(|f| f.path)
    /// ```
    ///
    /// `fs::temp_files(opts)`: the `fs::find` filter keys, plus `root` (look
    /// under `<root>/tmp` and so on, for a mounted image or a test tree).
    ///
    /// ```rhai
    /// fs::temp_files(#{ modified_since: "1d", min_size: 1 })
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "temp_files", return_raw)]
    pub fn temp_files(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        temp_files_with(nc, Map::new())
    }

    #[rhai_fn(name = "temp_files", return_raw)]
    pub fn temp_files_with(nc: NativeCallContext, opts: Map) -> RhaiResult<Dynamic> {
        const P: &str = "fs::temp_files";
        let c = ctx(&nc, P)?;
        let o = Opts::new(P, opts, &temp_files_keys())?;
        let f = super::filter(P, &o)?;
        let root = o.str("root")?.unwrap_or_else(|| "/".into());
        let v = host::fs::temp_files(&script_path(&root), &f, &c.cancel, &mut |w| c.warn(P, w))
            .rhai(P)?;
        super::fits(&nc, P, v.len(), super::ENTRY_FIELDS)?;
        to_dyn(&v)
    }
}

/// The fields an `fs::find` entry has, for the `fields` option.
const ENTRY_KEYS: &[&str] = &[
    "path",
    "name",
    "type",
    "size",
    "mode",
    "uid",
    "user",
    "gid",
    "mtime",
    "ctime",
    "atime",
    "executable",
    "setuid",
    "setgid",
    "link_target",
];

/// The `fields` option: which entry fields to return (all when absent).
fn fields(prim: &str, o: &Opts) -> RhaiResult<Option<Vec<String>>> {
    let Some(v) = o.strings("fields")? else {
        return Ok(None);
    };
    if v.is_empty() {
        return Err(args::bad(
            prim,
            "option \"fields\": name at least one field",
        ));
    }
    for k in &v {
        if !ENTRY_KEYS.contains(&k.as_str()) {
            return Err(args::bad(
                prim,
                format!(
                    "option \"fields\": {k:?} is not an entry field (one of {})",
                    ENTRY_KEYS.join(", ")
                ),
            ));
        }
    }
    Ok(Some(v))
}

/// Entries with only the asked fields. The full record (owner name, three
/// times as text, mode string) is built only when a field needs the stat.
/// A big result is built in parts on several threads (a Rhai map costs a
/// few allocations; 10,000 of them are most of a name search's own work).
fn project(v: Vec<crate::host::fs::Found>, fields: &[String]) -> rhai::Array {
    const PER_THREAD: usize = 2048;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
        .min(v.len() / PER_THREAD)
        .max(1);
    if threads == 1 {
        return project_part(&v, fields);
    }
    let chunk = v.len().div_ceil(threads);
    std::thread::scope(|s| {
        let mut parts = v.chunks(chunk);
        let first = parts.next().unwrap_or(&[]);
        let handles: Vec<_> = parts
            .map(|p| (p, s.spawn(move || project_part(p, fields))))
            .collect();
        let mut out = project_part(first, fields);
        out.reserve(v.len() - out.len());
        for (p, h) in handles {
            // A part lost to a panic is built again here, not left out.
            out.extend(h.join().unwrap_or_else(|_| project_part(p, fields)));
        }
        out
    })
}

fn project_part(v: &[crate::host::fs::Found], fields: &[String]) -> rhai::Array {
    use crate::output::lossless;
    use std::os::unix::ffi::OsStrExt;
    let mut names = crate::host::fs::Names::new(std::path::Path::new("/"));
    let only_names = fields
        .iter()
        .all(|k| matches!(k.as_str(), "path" | "name" | "type"));
    // Keys made once; a UTF-8 path (nearly all) copied once, straight
    // into the script's string.
    let keys: Vec<rhai::Identifier> = fields.iter().map(|k| k.as_str().into()).collect();
    let text = |b: &[u8]| -> Dynamic {
        match std::str::from_utf8(b) {
            Ok(s) => rhai::ImmutableString::from(s).into(),
            Err(_) => lossless(b).into(),
        }
    };
    v.iter()
        .map(|x| {
            let full = if only_names {
                None
            } else {
                x.md.as_ref()
                    .map(|md| crate::host::fs::entry(&x.path, md, &mut names))
            };
            let mut m = Map::new();
            for k in &keys {
                let val: Dynamic = match (k.as_str(), &full) {
                    ("path", _) => text(x.path.as_os_str().as_bytes()),
                    ("name", _) => text(x.path.file_name().map_or(&[][..], |n| n.as_bytes())),
                    ("type", _) => x.kind.into(),
                    (_, None) => Dynamic::UNIT,
                    ("size", Some(e)) => (e.size as i64).into(),
                    ("mode", Some(e)) => e.mode.clone().into(),
                    ("uid", Some(e)) => (e.uid as i64).into(),
                    ("user", Some(e)) => e.user.clone().map_or(Dynamic::UNIT, Into::into),
                    ("gid", Some(e)) => (e.gid as i64).into(),
                    ("mtime", Some(e)) => e.mtime.clone().into(),
                    ("ctime", Some(e)) => e.ctime.clone().into(),
                    ("atime", Some(e)) => e.atime.clone().into(),
                    ("executable", Some(e)) => e.executable.into(),
                    ("setuid", Some(e)) => e.setuid.into(),
                    ("setgid", Some(e)) => e.setgid.into(),
                    ("link_target", Some(e)) => {
                        e.link_target.clone().map_or(Dynamic::UNIT, Into::into)
                    }
                    _ => Dynamic::UNIT,
                };
                m.insert(k.clone(), val);
            }
            Dynamic::from_map(m)
        })
        .collect()
}

/// Fields in one `fs::find` entry, for [`fits`].
pub(crate) const ENTRY_FIELDS: usize = 16;

/// Rhai counts every field of every map in a value against the run's
/// `max_map_size`; a big result would otherwise fail later with a bare
/// "Size of object map too large". Say what happened and what to do.
pub(crate) fn fits(
    nc: &NativeCallContext,
    prim: &str,
    rows: usize,
    fields: usize,
) -> RhaiResult<()> {
    let max = nc.engine().max_map_size();
    if max > 0 && rows.saturating_mul(fields) > max {
        return Err(crate::primitives::to_rhai(
            crate::Error::invalid(format!(
                "{rows} rows are more than this run's data limit holds \
                 (max_map_size {max} fields in all, {fields} per row)"
            ))
            .in_primitive(prim)
            .with_hint(
                "narrow the search (a filter, max_depth, `limit`) or raise Limits::max_map_size",
            ),
        ));
    }
    Ok(())
}

/// `fs::grep` and `log::grep`, named for errors and warnings as `prim`.
pub(crate) fn grep_as(
    nc: &NativeCallContext,
    prim: &str,
    target: &str,
    regex: &str,
    opts: Map,
) -> RhaiResult<Dynamic> {
    use crate::primitives::{ctx, to_dyn, IntoRhai};
    let c = ctx(nc, prim)?;
    let o = grep_opts(prim, opts)?;
    let v =
        crate::host::fs::grep(target, regex, &o, &c.cancel, &mut |w| c.warn(prim, w)).rhai(prim)?;
    fits(nc, prim, v.len(), 3)?;
    to_dyn(&v)
}

fn lines_arg(prim: &str, n: i64) -> RhaiResult<usize> {
    if !(0..=10_000_000).contains(&n) {
        return Err(args::bad(
            prim,
            format!("n: {n} is out of range 0..=10000000"),
        ));
    }
    Ok(n as usize)
}

fn grep_opts(prim: &str, opts: Map) -> RhaiResult<crate::host::fs::GrepOpts> {
    let o = Opts::new(
        prim,
        opts,
        &["ignore_case", "invert", "limit", "binary", "max_depth"],
    )?;
    let d = crate::host::fs::GrepOpts::default();
    Ok(crate::host::fs::GrepOpts {
        ignore_case: o.bool("ignore_case")?.unwrap_or(false),
        invert: o.bool("invert")?.unwrap_or(false),
        limit: o.int("limit", 0, i64::MAX)?.map(|n| n as usize),
        binary: o.bool("binary")?.unwrap_or(false),
        max_depth: o
            .int("max_depth", 1, 4096)?
            .map(|n| n as usize)
            .unwrap_or(d.max_depth),
    })
}
