//! `fs::yara` and `proc::yara`: YARA rules on files and process memory.
//!
//! Rules are compiled once and kept for the run (keyed by the rule text, or
//! by each rules file's path, mtime and size), so a hunt that scans files
//! and then processes with the same rules compiles them once. With a case
//! open, a match is preserved: the file copied and hashed, or the process
//! captured with the matching memory region.

use crate::host::evidence;
use crate::host::yara::{self as host, Bounds, Match, Rules};
use crate::primitives::{args, ctx, to_dyn, IntoRhai, Opts, RhaiResult};
use crate::runtime::Ctx;
use rhai::plugin::*;
use rhai::{Dynamic, Map};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Compiled rule sets of this run, most recent last. A handful is plenty:
/// a hunt uses one or two.
static CACHE: Mutex<Vec<(String, Arc<Rules>)>> = Mutex::new(Vec::new());
const CACHE_SIZE: usize = 4;
/// Bytes of a matching process region kept as evidence.
const REGION_CAP: u64 = 1 << 20;

/// `fs::yara`'s own options; it also takes the walk filters of `fs::find`
/// ([`super::fs::WALK_KEYS`]).
const FS_KEYS: &[&str] = &[
    "max_file_size",
    "timeout",
    "total_timeout",
    "threads",
    "evidence",
];
const PROC_KEYS: &[&str] = &["timeout", "total_timeout", "evidence"];

fn rules(c: &Ctx, p: &str, spec: &str) -> RhaiResult<Arc<Rules>> {
    let key = host::rules_key(spec);
    if let Ok(cache) = CACHE.lock() {
        if let Some((_, r)) = cache.iter().find(|(k, _)| *k == key) {
            return Ok(r.clone());
        }
    }
    let r = Arc::new(host::compile(spec).rhai(p)?);
    for w in &r.warnings {
        c.warn(p, w);
    }
    if let Ok(mut cache) = CACHE.lock() {
        if cache.len() >= CACHE_SIZE {
            cache.remove(0);
        }
        cache.push((key, r.clone()));
    }
    Ok(r)
}

fn bounds(o: &Opts) -> RhaiResult<Bounds> {
    let mut b = Bounds::default();
    if let Some(n) = o.int("max_file_size", 1, i64::MAX)? {
        b.max_file_size = n as u64;
    }
    if let Some(t) = o.duration("timeout")? {
        b.timeout = Some(t);
    }
    b.total = o.duration("total_timeout")?;
    if let Some(n) = o.int("threads", 1, 64)? {
        b.threads = n as usize;
    }
    Ok(b)
}

/// Whether matches are preserved: the `evidence` option, else whether the
/// run has a case on disk already.
fn want_evidence(c: &Ctx, o: &Opts) -> RhaiResult<bool> {
    if let Some(e) = o.bool("evidence")? {
        return Ok(e);
    }
    Ok(c.case
        .lock()
        .is_ok_and(|k| k.is_open() || k.dir.join(crate::runtime::case::JOURNAL).exists()))
}

fn journal(c: &Ctx, p: &str, args: Value, result: Value) -> RhaiResult<()> {
    let dry = c.dry_run();
    c.case
        .lock()
        .map_err(|_| args::bad(p, "case state poisoned"))?
        .append(p, args, result, None, dry)
        .rhai(p)
}

fn evidence_dir(c: &Ctx, p: &str) -> RhaiResult<std::path::PathBuf> {
    c.case
        .lock()
        .map_err(|_| args::bad(p, "case state poisoned"))?
        .evidence_dir()
        .rhai(p)
}

/// Copies and hashes each matched file once; adds `sha256` and `evidence`.
fn file_evidence(c: &Ctx, spec: &str, ms: &[Match], keep: bool) -> RhaiResult<Vec<Value>> {
    const P: &str = "fs::yara";
    let mut done: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    let mut out = Vec::with_capacity(ms.len());
    for m in ms {
        let path = m.path.clone().unwrap_or_default();
        if !done.contains_key(&path) {
            let fs_path = crate::host::fs::script_path(&path);
            let rec = if keep {
                let dir = evidence_dir(c, P)?;
                match evidence::file(&fs_path, &dir) {
                    Ok(e) => {
                        let rules: Vec<_> = ms
                            .iter()
                            .filter(|x| x.path.as_deref() == Some(&path))
                            .map(|x| format!("{}:{}", x.namespace, x.rule))
                            .collect();
                        journal(
                            c,
                            P,
                            json!({ "path": path, "rules": spec_name(spec) }),
                            json!({ "matched": rules, "evidence": e.id, "sha256": e.sha256, "stored": e.stored }),
                        )?;
                        (e.sha256, Some(e.id))
                    }
                    Err(e) => {
                        c.warn(P, format!("{path}: evidence not kept: {}", e.message));
                        (evidence::sha256_file(&fs_path).ok(), None)
                    }
                }
            } else {
                (evidence::sha256_file(&fs_path).ok(), None)
            };
            done.insert(path.clone(), rec);
        }
        let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
        let (sha, ev) = &done[&path];
        v["sha256"] = json!(sha);
        v["evidence"] = json!(ev);
        out.push(v);
    }
    Ok(out)
}

/// A process match as returned when nothing was preserved.
fn unkept(m: &Match) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
    v["evidence"] = Value::Null;
    v
}

/// How the rules are named in the journal: the path, or the text's hash.
fn spec_name(spec: &str) -> String {
    if std::path::Path::new(spec).exists() {
        spec.to_string()
    } else {
        format!(
            "rule text sha256:{}",
            hex::encode(Sha256::digest(spec.as_bytes()))
        )
    }
}

/// Captures a matching process (executable, maps, ...) and the memory
/// around each matching region, hashed; adds `evidence` to its matches.
fn proc_evidence(
    c: &Ctx,
    spec: &str,
    pid: i64,
    ms: &[Match],
    out: &mut Vec<Value>,
) -> RhaiResult<()> {
    const P: &str = "proc::yara";
    let dir = evidence_dir(c, P)?;
    let m = match evidence::process(pid as i32, &dir, &c.cancel) {
        Ok(m) => m,
        Err(e) => {
            c.warn(
                P,
                format!("pid {pid}: evidence not captured: {}", e.message),
            );
            out.extend(ms.iter().map(unkept));
            return Ok(());
        }
    };
    let stored = std::path::PathBuf::from(&m.stored);
    let mut regions: Vec<Value> = Vec::new();
    for x in ms {
        let (Some(r), Some(h)) = (&x.region, x.strings.first()) else {
            continue;
        };
        if regions.iter().any(|v| v["region_start"] == json!(r.start)) {
            continue;
        }
        match host::process::read_region(pid, r, h.offset, REGION_CAP) {
            Ok((start, bytes)) => {
                let file = stored.join(format!("region-{start:x}.bin"));
                if let Err(e) = std::fs::write(&file, &bytes) {
                    c.warn(P, format!("pid {pid}: {}: {e}", file.display()));
                    continue;
                }
                regions.push(json!({
                    "region_start": r.start, "start": start, "length": bytes.len(),
                    "perms": r.perms, "path": r.path,
                    "file": file.display().to_string(),
                    "sha256": hex::encode(Sha256::digest(&bytes)),
                }));
            }
            Err(e) => c.warn(P, format!("pid {pid}: region not kept: {}", e.message)),
        }
    }
    let rules: Vec<_> = ms
        .iter()
        .map(|x| format!("{}:{}", x.namespace, x.rule))
        .collect();
    let record = json!({ "matched": rules, "evidence": m.id, "exe_sha256": m.sha256, "regions": regions, "stored": m.stored });
    let _ = evidence::write_json(
        &stored.join("yara.json"),
        &json!({ "record": record, "matches": ms }),
    );
    journal(
        c,
        P,
        json!({ "pid": pid, "rules": spec_name(spec) }),
        record.clone(),
    )?;
    for x in ms {
        let mut v = serde_json::to_value(x).unwrap_or(Value::Null);
        v["evidence"] = record.clone();
        out.push(v);
    }
    Ok(())
}

fn fs_yara(nc: &NativeCallContext, target: &str, spec: &str, opts: Map) -> RhaiResult<Dynamic> {
    const P: &str = "fs::yara";
    let c = ctx(nc, P)?;
    let keys: Vec<&str> = super::fs::WALK_KEYS
        .iter()
        .chain(FS_KEYS)
        .copied()
        .collect();
    let o = Opts::new(P, opts, &keys)?;
    let f = super::fs::filter(P, &o)?;
    let b = bounds(&o)?;
    let keep = want_evidence(&c, &o)?;
    let r = rules(&c, P, spec)?;
    let path = crate::host::fs::script_path(target);
    let ms = host::scan_files(&r, &path, &f, &b, &c.cancel, &mut |w| c.warn(P, w)).rhai(P)?;
    to_dyn(&file_evidence(&c, spec, &ms, keep)?)
}

fn pids_of(p: &str, target: &Dynamic) -> RhaiResult<(Vec<i64>, bool)> {
    if target.is_string() && target.to_string() == "all" {
        return Ok((host::process_pids().rhai(p)?, true));
    }
    if let Ok(pid) = target.as_int() {
        return Ok((vec![pid], false));
    }
    if let Some(a) = target.read_lock::<rhai::Array>() {
        let v = a
            .iter()
            .map(|x| {
                x.as_int().map_err(|_| {
                    args::bad(
                        p,
                        format!("pids: expected integers, found {}", x.type_name()),
                    )
                })
            })
            .collect::<RhaiResult<Vec<_>>>()?;
        return Ok((v, true));
    }
    Err(args::bad(
        p,
        format!("target: expected a pid, an array of pids or \"all\", found {target}"),
    ))
}

fn proc_yara(
    nc: &NativeCallContext,
    target: Dynamic,
    spec: &str,
    opts: Map,
) -> RhaiResult<Dynamic> {
    const P: &str = "proc::yara";
    let c = ctx(nc, P)?;
    let o = Opts::new(P, opts, PROC_KEYS)?;
    let b = bounds(&o)?;
    let keep = want_evidence(&c, &o)?;
    let (pids, many) = pids_of(P, &target)?;
    let r = rules(&c, P, spec)?;
    if !r.memory_unfit.is_empty() {
        c.warn(
            P,
            format!(
                "rule(s) {} read `filesize`, which has no value in process memory: they cannot match there",
                r.memory_unfit.join(", ")
            ),
        );
    }
    let start = std::time::Instant::now();
    let mut out = Vec::new();
    for (i, pid) in pids.iter().enumerate() {
        c.cancel.check().rhai(P)?;
        if b.total.is_some_and(|t| start.elapsed() > t) {
            c.warn(
                P,
                format!(
                    "stopped at the total time bound ({} s): {} process(es) not scanned",
                    b.total.map_or(0, |t| t.as_secs()),
                    pids.len() - i
                ),
            );
            break;
        }
        let ms = match host::scan_process(&r, *pid, &b, &c.cancel, &mut |w| c.warn(P, w)) {
            Ok(ms) => ms,
            Err(e) if e.is_cancelled() => {
                return Err(crate::primitives::to_rhai(e.in_primitive(P)))
            }
            // One process among many: it may have exited, or be out of reach.
            Err(e) if many => {
                let quiet = pids.len() > 1
                    && target.is_string()
                    && e.kind == crate::ErrorKind::PermissionDenied;
                if !quiet {
                    c.warn(P, &e.message);
                }
                continue;
            }
            Err(e) => return Err(crate::primitives::to_rhai(e.in_primitive(P))),
        };
        if ms.is_empty() {
            continue;
        }
        if keep {
            proc_evidence(&c, spec, *pid, &ms, &mut out)?;
        } else {
            out.extend(ms.iter().map(unkept));
        }
    }
    to_dyn(&out)
}

#[export_module]
pub mod fs_yara_fns {
    use super::*;

    /// YARA rules on a file, a folder (walked like `fs::find`) or a glob.
    ///
    /// `rules` is a rules file, a folder of `.yar`/`.yara` files, or rule
    /// text; it is compiled once per run. A syntax error is an
    /// `invalid_argument` error with `file:line:col` and the compiler's
    /// message. Each match: `target` (`"file"`), `path`, `rule`,
    /// `namespace`, `tags`, `meta` (the rule's metadata), `strings` (each
    /// `string`, `offset`, `length`, `data`: at most 64 bytes, non-printable
    /// bytes as `\xNN`; at most 16 per string), `sha256`, `evidence` (the
    /// evidence id when the file was preserved in the case, else `()`).
    /// Unreadable files, and files over a bound, are warnings.
    ///
    /// ```rhai
    /// let m = fs::yara("/etc/passwd", "rule any_file { condition: filesize > 0 }");
    /// m[0].rule == "any_file"
    /// ```
    ///
    /// `fs::yara(target, rules, opts)`: the walk filters of `fs::find`
    /// (`name`, `path`, `min_size`, `max_size`, `modified_since`,
    /// `executable`, `owner`, `setuid`, `hidden`, `limit`, `max_depth`,
    /// `same_fs`) and the scan's bounds: `max_file_size` (bytes, default
    /// 256 MiB; larger files are skipped with a warning), `timeout` (per
    /// file, default 60 s), `total_timeout` (the whole call), `threads`
    /// (default: the cores, at most 4), `evidence` (preserve matched files
    /// in the case; default: when the case exists).
    ///
    /// ```rhai
    /// let rules = `rule shadow_root { strings: $r = "root:" condition: $r at 0 }`;
    /// let m = fs::yara("/etc", rules, #{ name: "passwd", max_depth: 1, evidence: false });
    /// m.len() == 1 && m[0].path == "/etc/passwd" && m[0].strings[0].offset == 0
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "yara", return_raw)]
    pub fn yara(nc: NativeCallContext, target: &str, rules: &str) -> RhaiResult<Dynamic> {
        fs_yara(&nc, target, rules, Map::new())
    }

    #[rhai_fn(name = "yara", return_raw)]
    pub fn yara_with(
        nc: NativeCallContext,
        target: &str,
        rules: &str,
        opts: Map,
    ) -> RhaiResult<Dynamic> {
        fs_yara(&nc, target, rules, opts)
    }
}

#[export_module]
pub mod proc_yara_fns {
    use super::*;

    /// YARA rules on the memory of a process, of several, or of `"all"`.
    ///
    /// Reads the readable regions of /proc/PID/maps through /proc/PID/mem
    /// (root, or the same user with ptrace allowed). Each match: `target`
    /// (`"process"`), `pid`, `name`, `exe`, `region` (`start`, `end`,
    /// `perms`, `path` of the mapping holding the first matched string),
    /// `rule`, `namespace`, `tags`, `meta`, `strings` (`offset` is the
    /// virtual address). With a case, a matching process is captured
    /// (executable, maps, cmdline, ...) with up to 1 MiB of each matching
    /// region, hashed, and `evidence` says where. Unreadable regions and
    /// processes that exit during the scan are warnings; `"all"` skips hound
    /// itself (its memory holds the rules) and, unprivileged, quietly skips
    /// other users' processes.
    ///
    /// ```rhai
    /// // no_run
    /// let hits = proc::yara("all", "/srv/rules/");
    /// hits.map(|m| `${m.pid} ${m.name} ${m.rule}`)
    /// ```
    ///
    /// `proc::yara(target, rules, opts)`: `timeout` (per process, default
    /// 60 s), `total_timeout`, `evidence` (default: when the case exists).
    ///
    /// ```rhai
    /// // no_run
    /// proc::yara([1234, 5678], "rules.yar", #{ timeout: "20s", evidence: true })
    /// ```
    ///
    /// Params: target: int|array|string
    /// Returns: array
    #[rhai_fn(name = "yara", return_raw)]
    pub fn yara(nc: NativeCallContext, target: Dynamic, rules: &str) -> RhaiResult<Dynamic> {
        proc_yara(&nc, target, rules, Map::new())
    }

    #[rhai_fn(name = "yara", return_raw)]
    pub fn yara_with(
        nc: NativeCallContext,
        target: Dynamic,
        rules: &str,
        opts: Map,
    ) -> RhaiResult<Dynamic> {
        proc_yara(&nc, target, rules, opts)
    }
}
