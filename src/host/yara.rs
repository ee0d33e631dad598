//! YARA rules on files and in process memory, with boreal (MIT OR Apache-2.0).
//!
//! boreal 1.4 is built with the `object` and `hash` features only, and the
//! compiler gets these modules, nothing else:
//! - `elf`: Linux executables are what hound meets on a suspect host.
//! - `pe`: feed rules for Windows payloads staged on Linux servers (samba
//!   shares, web uploads) are common; `object` builds it with `elf` anyway.
//! - `hash`, `math`, `string`, `time`: cheap, and feed rules use them in
//!   conditions (`hash.md5(0, filesize)`, `math.entropy(..)`).
//!
//! Left out on purpose: `console` (it prints from a rule straight to stdout,
//! past hound's escaping), `macho`, `dotnet`, `dex` (macOS, .NET and Android
//! formats), `magic` (links libmagic), `cuckoo` (sandbox reports), and the
//! `authenticode` feature (Windows signature checks; a heavy crypto stack).
//! A rules file importing one of them is skipped with a warning naming the
//! module, so one exotic file in a feed does not stop the rest.
//!
//! boreal's own `process` feature is off: its reader drops unreadable
//! regions silently and gives no region details, so [`ProcMemory`] reads
//! /proc/PID/maps and /proc/PID/mem itself, warning about what it skips and
//! telling which mapping each match is in.

use crate::error::{Error, Result};
use crate::text::lossless;
use boreal::scanner::{ScanParams, ScanResult};
use boreal::{Compiler, MetadataValue, Scanner};
use serde::Serialize;
use serde_json::{json, Value};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// Modules a rule may import.
pub const MODULES: &[&str] = &["elf", "pe", "hash", "math", "string", "time"];
/// Bytes of matched data kept per hit, and hits kept per string.
pub const DATA_CAP: usize = 64;
pub const HITS_CAP: usize = 16;

/// Compiled rules, shared by every scan of a run.
pub struct Rules {
    scanner: Scanner,
    /// Files compiled (empty for rule text).
    pub files: Vec<String>,
    pub count: usize,
    /// Rules whose condition reads `filesize`, which is undefined in memory.
    pub memory_unfit: Vec<String>,
    /// Compiler warnings and skipped files.
    pub warnings: Vec<String>,
}

fn compiler() -> Compiler {
    use boreal::module::{Elf, Hash, Math, Pe, String_, Time};
    boreal::compiler::CompilerBuilder::default()
        .add_module(Elf)
        .add_module(Pe)
        .add_module(Hash)
        .add_module(Math)
        .add_module(String_)
        .add_module(Time)
        .build()
}

fn rule_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut v: Vec<_> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .max_depth(8)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "yar" || x == "yara" || x == "rule")
        })
        .collect();
    v.sort();
    if v.is_empty() {
        return Err(Error::not_found(format!(
            "rules: no .yar or .yara file in {}",
            dir.display()
        )));
    }
    Ok(v)
}

/// What a rules argument names: files (with their mtimes, for caching) or text.
pub fn rules_key(spec: &str) -> String {
    let p = Path::new(spec);
    let files = if p.is_dir() {
        rule_files(p).unwrap_or_default()
    } else if p.is_file() {
        vec![p.to_path_buf()]
    } else {
        return format!("text:{spec}");
    };
    let mut key = String::from("files:");
    for f in files {
        let m = std::fs::metadata(&f).ok();
        let t = m.as_ref().and_then(|m| m.modified().ok());
        key.push_str(&format!(
            "{}|{:?}|{:?};",
            f.display(),
            t,
            m.map(|m| m.len())
        ));
    }
    key
}

fn imports(text: &str) -> Vec<String> {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r#"(?m)^\s*import\s+"([^"]+)""#).ok());
    re.as_ref()
        .map(|re| re.captures_iter(text).map(|c| c[1].to_string()).collect())
        .unwrap_or_default()
}

fn filesize_rules(text: &str, out: &mut Vec<String>) {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"(?m)^\s*(?:(?:private|global)\s+)*rule\s+([A-Za-z_][A-Za-z0-9_]*)").ok()
    });
    let Some(re) = re else { return };
    let starts: Vec<_> = re.captures_iter(text).collect();
    for (i, c) in starts.iter().enumerate() {
        let (Some(all), Some(name)) = (c.get(0), c.get(1)) else {
            continue;
        };
        let end = starts
            .get(i + 1)
            .and_then(|n| n.get(0))
            .map_or(text.len(), |m| m.start());
        if text[all.start()..end].contains("filesize") {
            out.push(name.as_str().to_string());
        }
    }
}

/// Compiles a rules file, a folder of `.yar`/`.yara` files (one namespace
/// per file, its path in the folder without the extension, so two feeds may
/// reuse a rule name), or rule
/// text. A syntax error is `invalid_argument` with `file:line:col: message`.
pub fn compile(spec: &str) -> Result<Rules> {
    let mut c = compiler();
    let mut r = Rules {
        scanner: Compiler::new().finalize(),
        files: Vec::new(),
        count: 0,
        memory_unfit: Vec::new(),
        warnings: Vec::new(),
    };
    let p = Path::new(spec);
    let sources: Vec<(Option<std::path::PathBuf>, String)> = if p.is_dir() {
        rule_files(p)?
            .into_iter()
            .map(|f| (Some(f), String::new()))
            .collect()
    } else if p.is_file() {
        vec![(Some(p.to_path_buf()), String::new())]
    } else if spec.contains('{') {
        vec![(None, spec.to_string())]
    } else {
        return Err(
            Error::not_found(format!("rules: {spec:?}: no such file or folder"))
                .with_hint("give a .yar file, a folder of them, or the rule text itself"),
        );
    };
    let in_dir = p.is_dir();
    let mut added = 0;
    for (file, text) in sources {
        let text = match &file {
            Some(f) => std::fs::read_to_string(f)
                .map_err(|e| Error::io(format!("rules: {}", f.display()), e))?,
            None => text,
        };
        let name = file
            .as_ref()
            .map_or("<rules>".to_string(), |f| f.display().to_string());
        if let Some(m) = imports(&text)
            .into_iter()
            .find(|m| !MODULES.contains(&m.as_str()))
        {
            r.warnings.push(format!(
                "{name}: skipped: it imports module {m:?}, which hound does not enable (enabled: {})",
                MODULES.join(", ")
            ));
            continue;
        }
        let status = match &file {
            Some(f) if in_dir => {
                // `feed/x.yar` and `other/x.yar` must not share a namespace.
                let rel = f.strip_prefix(p).unwrap_or(f).with_extension("");
                c.add_rules_file_in_namespace(f, rel.to_string_lossy())
            }
            Some(f) => c.add_rules_file(f),
            None => c.add_rules_str(&text),
        };
        let status = status.map_err(|e| {
            let msg = match &file {
                Some(_) => e.to_string(),
                None => {
                    boreal::compiler::generate_description(&e.to_diagnostic(), "<rules>", &text)
                }
            };
            Error::invalid(format!("rules: {msg}"))
        })?;
        for w in status.warnings() {
            let msg = match &file {
                Some(_) => w.to_string(),
                None => {
                    boreal::compiler::generate_description(&w.to_diagnostic(), "<rules>", &text)
                }
            };
            r.warnings.push(msg);
        }
        filesize_rules(&text, &mut r.memory_unfit);
        if let Some(f) = file {
            r.files.push(f.display().to_string());
        }
        added += 1;
    }
    if added == 0 {
        return Err(Error::invalid(format!(
            "rules: nothing to compile in {spec:?}: {}",
            r.warnings.join("; ")
        )));
    }
    r.scanner = c.finalize();
    r.count = r.scanner.rules().count();
    Ok(r)
}

/// One matched string occurrence. For a process, `offset` is the virtual address.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub string: String,
    pub offset: u64,
    pub length: u64,
    /// Up to [`DATA_CAP`] bytes: printable ASCII as is, other bytes `\xNN`.
    pub data: String,
}

/// A memory mapping of a process, as /proc/PID/maps lists it.
#[derive(Debug, Clone, Serialize)]
pub struct MapRegion {
    pub start: u64,
    pub end: u64,
    pub perms: String,
    pub path: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Match {
    /// `"file"` or `"process"`.
    pub target: &'static str,
    pub path: Option<String>,
    pub pid: Option<i64>,
    /// The process's start time in clock ticks: with the pid, who it is.
    pub start_time_ticks: Option<u64>,
    pub name: Option<String>,
    pub exe: Option<String>,
    /// The mapping holding the first matched string (processes).
    pub region: Option<MapRegion>,
    pub rule: String,
    pub namespace: String,
    pub tags: Vec<String>,
    pub meta: serde_json::Map<String, Value>,
    pub strings: Vec<Hit>,
}

/// Matched bytes as safe text: printable ASCII kept, everything else `\xNN`.
pub fn escape_bytes(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

fn convert(scanner: &Scanner, res: ScanResult<'_>, base: Match) -> Vec<Match> {
    res.rules
        .into_iter()
        .filter(|r| r.matched)
        .map(|r| {
            let mut m = base.clone();
            m.rule = r.name.to_string();
            m.namespace = r.namespace.to_string();
            m.tags = r
                .tags
                .iter()
                .map(|t| scanner.get_string_symbol(*t).to_string())
                .collect();
            for md in r.metadatas {
                let v = match md.value {
                    MetadataValue::Bytes(b) => json!(lossless(scanner.get_bytes_symbol(b))),
                    MetadataValue::Integer(i) => json!(i),
                    MetadataValue::Boolean(b) => json!(b),
                };
                m.meta
                    .insert(scanner.get_string_symbol(md.name).to_string(), v);
            }
            for s in r.matches {
                for h in s.matches.iter().take(HITS_CAP) {
                    m.strings.push(Hit {
                        string: format!("${}", s.name),
                        offset: (h.base + h.offset) as u64,
                        length: h.length as u64,
                        data: escape_bytes(&h.data[..h.data.len().min(DATA_CAP)]),
                    });
                }
            }
            m
        })
        .collect()
}

fn blank(target: &'static str) -> Match {
    Match {
        target,
        path: None,
        pid: None,
        start_time_ticks: None,
        name: None,
        exe: None,
        region: None,
        rule: String::new(),
        namespace: String::new(),
        tags: Vec::new(),
        meta: serde_json::Map::new(),
        strings: Vec::new(),
    }
}

fn params(timeout: Option<Duration>) -> ScanParams {
    ScanParams::default()
        .timeout_duration(timeout)
        .match_max_length(DATA_CAP)
        .string_max_nb_matches(HITS_CAP as u32 * 4)
}

/// Bounds on a scan. Every bound that is hit is reported as a warning.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// Files larger than this are skipped.
    pub max_file_size: u64,
    /// Per file or per process.
    pub timeout: Option<Duration>,
    /// The whole call: what is left is skipped.
    pub total: Option<Duration>,
    pub threads: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_file_size: 256 << 20,
            timeout: Some(Duration::from_secs(60)),
            total: None,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get().min(4)),
        }
    }
}

pub mod files;
pub use files::scan_files;
pub mod process;
pub use process::{process_pids, scan_process};

/// Scans bytes with the rules (a file's contents), for callers and tests.
pub fn scan_bytes(rules: &Rules, data: &[u8], path: &str) -> Vec<Match> {
    let mut base = blank("file");
    base.path = Some(path.to_string());
    match rules.scanner.scan_mem(data) {
        Ok(r) | Err((_, r)) => convert(&rules.scanner, r, base),
    }
}

fn path_text(p: &Path) -> String {
    lossless(p.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_text_and_reports_position() {
        let r = compile(
            "rule a : t1 { meta: severity = \"low\" strings: $x = \"needle\" condition: $x }",
        )
        .unwrap();
        let m = scan_bytes(&r, b"hay needle hay", "f");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].rule, "a");
        assert_eq!(m[0].tags, vec!["t1"]);
        assert_eq!(m[0].meta["severity"], "low");
        assert_eq!(m[0].strings[0].offset, 4);
        assert_eq!(m[0].strings[0].data, "needle");
        let e = compile("rule b {\n  condition: $nope\n}").err().unwrap();
        assert!(e.message.contains("<rules>:2:14"), "{}", e.message);
    }

    #[test]
    fn unknown_module_is_skipped_with_a_warning() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("a.yar"),
            "import \"dotnet\"\nrule a { condition: true }",
        )
        .unwrap();
        std::fs::write(d.path().join("b.yar"), "rule b { condition: filesize > 0 }").unwrap();
        let r = compile(d.path().to_str().unwrap()).unwrap();
        assert_eq!(r.count, 1);
        assert!(r.warnings[0].contains("dotnet"), "{:?}", r.warnings);
        assert_eq!(r.memory_unfit, vec!["b"]);
    }

    #[test]
    fn escapes_data() {
        assert_eq!(escape_bytes(b"a\x1b[31m\\\n"), "a\\x1b[31m\\\\\\x0a");
    }
}
