//! The envelope every `--json` line carries, so a SIEM can ingest hound's
//! output from many hosts without a parser of its own: when, where, which
//! run, what kind of record. Two formats:
//!
//! - `hound` (default): the envelope as dotted keys (`host.name`,
//!   `event.kind`, …) next to the script's own fields, which stay exactly as
//!   the script wrote them. Dotted keys cannot collide with a script field
//!   such as `host: "10.0.0.5"` in the JSON text; Elasticsearch and Splunk
//!   both read them as nested fields.
//! - `ecs`: Elastic Common Schema. Nested objects; the fields hound knows
//!   (processes, sockets, files, findings) are mapped to their ECS names,
//!   and every field of the script is also kept whole under `hound.data`,
//!   so nothing is lost and nothing collides with ECS's own fields.

use rhai::Dynamic;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Which field names the lines use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonFormat {
    Hound,
    Ecs,
}

impl JsonFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hound" => Some(JsonFormat::Hound),
            "ecs" => Some(JsonFormat::Ecs),
            _ => None,
        }
    }
}

/// What a line holds (`hound.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// A record the script emitted (`emit`), not a finding.
    Row,
    /// A finding-style record (`severity` other than info, and `title`).
    Finding,
    /// The script's final value.
    Result,
    /// A warning (one item that could not be read, a fallback taken).
    Warning,
    /// The run failed.
    Error,
}

impl RecordType {
    fn as_str(self) -> &'static str {
        match self {
            RecordType::Row => "row",
            RecordType::Finding => "finding",
            RecordType::Result => "result",
            RecordType::Warning => "warning",
            RecordType::Error => "error",
        }
    }
    /// ECS `event.kind`: findings are alerts, inventory rows are state.
    fn event_kind(self) -> &'static str {
        match self {
            RecordType::Finding => "alert",
            RecordType::Row | RecordType::Result => "state",
            RecordType::Warning | RecordType::Error => "event",
        }
    }
}

/// Numeric severities, ECS `event.severity` (higher is worse).
fn severity_number(s: &str) -> Option<u8> {
    Some(match s {
        "info" => 1,
        "low" => 21,
        "medium" => 47,
        "high" => 73,
        "critical" => 99,
        _ => return None,
    })
}

/// Whether a record is a finding: a severity above info and a title.
pub fn is_finding_value(v: &Value) -> bool {
    let sev = v.get("severity").and_then(Value::as_str);
    sev.is_some_and(|s| s != "info") && v.get("title").is_some_and(Value::is_string)
}

/// [`is_finding_value`] on a script value, without converting it.
fn is_finding_dynamic(d: &Dynamic) -> bool {
    let Some(m) = d.read_lock::<rhai::Map>() else {
        return false;
    };
    let sev = m.get("severity").and_then(|v| {
        v.read_lock::<rhai::ImmutableString>()
            .map(|s| s.to_string())
    });
    sev.is_some_and(|s| s != "info") && m.get("title").is_some_and(|t| t.is_string())
}

/// Where the lines go and what they share.
pub struct Envelope {
    format: JsonFormat,
    dataset: Mutex<String>,
    run_id: String,
    seq: AtomicU64,
    host: String,
    /// The last timestamp text and its millisecond.
    stamp: Mutex<(i64, String)>,
    /// The constant fields as JSON text, and the dataset they were made for.
    constant: Mutex<(String, String)>,
    /// `None`: stdout (records) and stderr (warnings, errors).
    file: Option<Mutex<std::io::BufWriter<std::fs::File>>>,
}

/// A run id that differs between runs and hosts: hash of the time, pid and
/// host name (no random-number crate needed for an identifier).
fn new_run_id(host: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(host.as_bytes());
    hex::encode(&h.finalize()[..16])
}

impl Envelope {
    /// An envelope writing records to stdout, warnings and errors to stderr.
    pub fn new(format: JsonFormat) -> Self {
        let host = crate::runtime::case::hostname();
        Envelope {
            format,
            dataset: Mutex::new("hound.run".into()),
            run_id: new_run_id(&host),
            seq: AtomicU64::new(0),
            host,
            stamp: Mutex::new((i64::MIN, String::new())),
            constant: Mutex::new((String::new(), String::new())),
            file: None,
        }
    }

    /// An envelope writing every line, warnings included, to `path`
    /// (created or truncated).
    pub fn to_path(format: JsonFormat, path: &std::path::Path) -> crate::Result<Self> {
        let f = std::fs::File::create(path).map_err(|e| crate::Error::io(path.display(), e))?;
        Ok(Envelope {
            file: Some(Mutex::new(std::io::BufWriter::new(f))),
            ..Envelope::new(format)
        })
    }

    /// Names the dataset after the hunt or script (`hound.<name>`).
    pub fn set_dataset(&self, name: &str) {
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if let Ok(mut d) = self.dataset.lock() {
            *d = format!("hound.{clean}");
        }
    }

    /// Whether lines go to a file (then `--quiet` does not silence warnings:
    /// the file is for machines).
    pub fn to_file(&self) -> bool {
        self.file.is_some()
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The envelope fields of the next line, as (dotted key, value).
    fn fields(&self, kind: RecordType) -> Vec<(&'static str, Value)> {
        let dataset = self
            .dataset
            .lock()
            .map(|d| d.clone())
            .unwrap_or_else(|_| "hound.run".into());
        vec![
            (
                "@timestamp",
                json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            ),
            ("host.name", json!(self.host)),
            ("agent.type", json!("hound")),
            ("agent.version", json!(env!("CARGO_PKG_VERSION"))),
            ("event.kind", json!(kind.event_kind())),
            ("event.dataset", json!(dataset)),
            ("hound.run_id", json!(self.run_id)),
            ("hound.seq", json!(self.seq.fetch_add(1, Ordering::SeqCst))),
            ("hound.type", json!(kind.as_str())),
        ]
    }

    /// The envelope of the next line as JSON text (`{"@timestamp":…,…,"hound.type":"row"`,
    /// no closing brace), from parts computed once: the constant fields are
    /// serialised when the dataset is named, the timestamp once per
    /// millisecond. The same fields, in the same order, as [`Envelope::fields`].
    fn fast_prefix(&self, kind: RecordType, out: &mut Vec<u8>) {
        let now = chrono::Utc::now();
        let ms = now.timestamp_millis();
        if let Ok(mut c) = self.stamp.lock() {
            if c.0 != ms {
                *c = (ms, now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            }
            out.extend_from_slice(b"{\"@timestamp\":\"");
            out.extend_from_slice(c.1.as_bytes());
            out.extend_from_slice(b"\",");
        }
        if let (Ok(d), Ok(mut c)) = (self.dataset.lock(), self.constant.lock()) {
            if c.0 != *d {
                let j = |v: &str| serde_json::to_string(v).unwrap_or_else(|_| "\"\"".into());
                let text = format!(
                    "\"host.name\":{},\"agent.type\":\"hound\",\"agent.version\":{},\"event.dataset\":{},\"hound.run_id\":{},",
                    j(&self.host),
                    j(env!("CARGO_PKG_VERSION")),
                    j(&d),
                    j(&self.run_id)
                );
                *c = (d.clone(), text);
            }
            out.extend_from_slice(c.1.as_bytes());
        }
        out.extend_from_slice(b"\"event.kind\":\"");
        out.extend_from_slice(kind.event_kind().as_bytes());
        out.extend_from_slice(b"\",\"hound.seq\":");
        out.extend_from_slice(
            self.seq
                .fetch_add(1, Ordering::SeqCst)
                .to_string()
                .as_bytes(),
        );
        out.extend_from_slice(b",\"hound.type\":\"");
        out.extend_from_slice(kind.as_str().as_bytes());
        out.push(b'"');
    }

    /// One line for a record.
    pub fn line(&self, kind: RecordType, record: &Value) -> Value {
        let env = self.fields(kind);
        match self.format {
            JsonFormat::Hound => {
                let mut m = Map::new();
                for (k, v) in env {
                    // The script's own field wins: its fields stay as they are.
                    if record.get(k).is_none() {
                        m.insert(k.into(), v);
                    }
                }
                match record {
                    Value::Object(r) => {
                        for (k, v) in r {
                            m.insert(k.clone(), v.clone());
                        }
                    }
                    other => {
                        m.insert("value".into(), other.clone());
                    }
                }
                Value::Object(m)
            }
            JsonFormat::Ecs => ecs(env, kind, record),
        }
    }

    /// Writes a record the script emitted (an array is one line per element).
    pub fn emit(&self, v: &Dynamic, result: bool) {
        if v.is_unit() && result {
            return;
        }
        let route = if result {
            RecordType::Result
        } else {
            RecordType::Row
        };
        if let Some(a) = v.read_lock::<rhai::Array>() {
            // One write per 256 KiB, not per line: stdout is line-buffered.
            let mut batch = Vec::with_capacity(1 << 18);
            for item in a.iter() {
                self.emit_one(item, result, &mut batch);
                if batch.len() >= 1 << 18 {
                    self.write_raw(route, &batch);
                    batch.clear();
                }
            }
            if !batch.is_empty() {
                self.write_raw(route, &batch);
            }
            return;
        }
        let mut line = Vec::new();
        self.emit_one(v, result, &mut line);
        if !line.is_empty() {
            self.write_raw(route, &line);
        }
    }

    /// Appends the line of one record to `out` (ECS lines are written at once).
    fn emit_one(&self, item: &Dynamic, result: bool, out: &mut Vec<u8>) {
        let kind = if result {
            RecordType::Result
        } else if is_finding_dynamic(item) {
            RecordType::Finding
        } else {
            RecordType::Row
        };
        if self.format == JsonFormat::Ecs {
            self.write(kind, &super::to_json(item));
            return;
        }
        // Straight from the script's value to text, the envelope spliced in
        // front of its fields: a 100k-row hunt pays no intermediate JSON tree.
        let mut body = Vec::with_capacity(256);
        if serde_json::to_writer(&mut body, item).is_err() {
            return;
        }
        // Only a script that names an envelope key itself needs the slow
        // path (its own field wins); most records name none.
        let collides = item.read_lock::<rhai::Map>().is_some_and(|m| {
            m.keys().any(|k| {
                let k = k.as_str();
                k.starts_with('@')
                    || k.starts_with("host.")
                    || k.starts_with("agent.")
                    || k.starts_with("event.")
                    || k.starts_with("hound.")
            })
        });
        let is_map = body.first() == Some(&b'{') && item.is::<rhai::Map>();
        let mut line = Vec::with_capacity(body.len() + 320);
        if collides {
            let keys: Vec<String> = item
                .read_lock::<rhai::Map>()
                .map(|m| m.keys().map(|k| k.to_string()).collect())
                .unwrap_or_default();
            line.push(b'{');
            let mut first = true;
            for (k, v) in self.fields(kind) {
                if keys.iter().any(|x| x == k) {
                    continue;
                }
                if !first {
                    line.push(b',');
                }
                first = false;
                let _ = serde_json::to_writer(&mut line, k);
                line.push(b':');
                let _ = serde_json::to_writer(&mut line, &v);
            }
        } else {
            self.fast_prefix(kind, &mut line);
        }
        if is_map {
            if body.len() > 2 {
                line.push(b',');
                line.extend_from_slice(&body[1..]);
            } else {
                line.push(b'}');
            }
        } else {
            line.extend_from_slice(b",\"value\":");
            line.extend_from_slice(&body);
            line.push(b'}');
        }
        line.push(b'\n');
        out.extend_from_slice(&line);
    }

    /// Writes out what a `--json-out` file still buffers (the CLI exits
    /// with `process::exit`, which runs no destructors).
    pub fn flush(&self) {
        if let Some(f) = &self.file {
            if let Ok(mut f) = f.lock() {
                let _ = f.flush();
            }
        }
    }

    pub fn warn(&self, source: &str, message: &str) {
        self.write(
            RecordType::Warning,
            &json!({ "source": source, "message": message }),
        );
    }

    pub fn error(&self, error: &Value) {
        self.write(RecordType::Error, &json!({ "error": error }));
    }

    fn write(&self, kind: RecordType, record: &Value) {
        let mut text = self.line(kind, record).to_string();
        text.push('\n');
        self.write_raw(kind, text.as_bytes());
    }

    fn write_raw(&self, kind: RecordType, line: &[u8]) {
        // C1, bidi and line-separator characters as \uXXXX (the --json
        // policy): the value is the same, a terminal never obeys them.
        let escaped;
        let line = if !line.is_ascii() {
            escaped = crate::text::json_safe(&String::from_utf8_lossy(line));
            escaped.as_bytes()
        } else {
            line
        };
        if let Some(f) = &self.file {
            if let Ok(mut f) = f.lock() {
                // Buffered: flushed when a warning or error comes, and on drop.
                let _ = f.write_all(line);
                if matches!(
                    kind,
                    RecordType::Warning | RecordType::Error | RecordType::Result
                ) {
                    let _ = f.flush();
                }
            }
            return;
        }
        // Records on stdout; warnings and errors on stderr, as without JSON.
        let _ = match kind {
            RecordType::Warning | RecordType::Error => std::io::stderr().lock().write_all(line),
            _ => std::io::stdout().lock().write_all(line),
        };
    }
}

/// Sets `path` (dotted) in a nested object, creating the objects on the way.
fn put(root: &mut Map<String, Value>, path: &str, v: Value) {
    if v.is_null() {
        return;
    }
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or(path);
    let mut cur = root;
    for p in parts {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        match entry {
            Value::Object(m) => cur = m,
            _ => return,
        }
    }
    cur.insert(last.to_string(), v);
}

/// The ECS mapping of one record.
fn ecs(env: Vec<(&'static str, Value)>, kind: RecordType, r: &Value) -> Value {
    let mut m = Map::new();
    for (k, v) in env {
        put(&mut m, k, v);
    }
    put(&mut m, "ecs.version", json!("8.11.0"));
    put(&mut m, "hound.data", r.clone());
    let Some(o) = r.as_object() else {
        return Value::Object(m);
    };
    let g = |k: &str| o.get(k).cloned().unwrap_or(Value::Null);
    let s = |k: &str| o.get(k).and_then(Value::as_str);
    // Processes (proc::, and rows naming a pid).
    put(&mut m, "process.pid", g("pid"));
    put(&mut m, "process.parent.pid", g("ppid"));
    put(&mut m, "process.executable", g("exe"));
    if o.contains_key("cmdline") || o.contains_key("exe") {
        put(&mut m, "process.name", g("name"));
    }
    if let Some(a) = o.get("cmdline").and_then(Value::as_array) {
        let line: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
        put(&mut m, "process.args", Value::Array(a.clone()));
        put(&mut m, "process.command_line", json!(line.join(" ")));
    }
    put(&mut m, "process.start", g("start_time"));
    put(&mut m, "user.name", g("user"));
    put(
        &mut m,
        "user.id",
        g("uid")
            .as_u64()
            .map(|u| json!(u.to_string()))
            .unwrap_or(Value::Null),
    );
    // Sockets.
    put(&mut m, "source.ip", g("local_ip"));
    put(&mut m, "source.port", g("local_port"));
    put(&mut m, "destination.ip", g("remote_ip"));
    put(&mut m, "destination.port", g("remote_port"));
    if let Some(p) = s("proto") {
        put(&mut m, "network.transport", json!(p.trim_end_matches('6')));
    }
    // Scan rows: the scanned host and port are the destination.
    if o.contains_key("port") && (o.contains_key("ip") || o.contains_key("host")) {
        put(&mut m, "destination.ip", g("ip"));
        put(&mut m, "destination.port", g("port"));
        put(&mut m, "network.protocol", g("service"));
    }
    // Files.
    if o.contains_key("path")
        && (o.contains_key("mode") || o.contains_key("sha256") || o.contains_key("size"))
    {
        put(&mut m, "file.path", g("path"));
        put(&mut m, "file.name", g("name"));
        put(&mut m, "file.size", g("size"));
        put(&mut m, "file.mode", g("mode"));
        put(&mut m, "file.owner", g("user"));
        put(&mut m, "file.mtime", g("mtime"));
        put(&mut m, "file.hash.sha256", g("sha256"));
    }
    // Findings.
    if let Some(sev) = s("severity") {
        if let Some(n) = severity_number(sev) {
            put(&mut m, "event.severity", json!(n));
        }
        put(&mut m, "log.level", json!(sev));
    }
    if kind == RecordType::Finding {
        put(&mut m, "rule.name", g("title"));
        put(&mut m, "message", g("title"));
        put(&mut m, "event.reason", g("evidence"));
        put(&mut m, "rule.ruleset", g("hunt"));
        let ids: Vec<Value> = match o.get("mitre") {
            Some(Value::String(t)) => t
                .split([',', ' '])
                .filter(|x| !x.is_empty())
                .map(|x| json!(x))
                .collect(),
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        if !ids.is_empty() {
            put(&mut m, "threat.framework", json!("MITRE ATT&CK"));
            put(&mut m, "threat.technique.id", Value::Array(ids));
        }
    }
    if kind == RecordType::Warning {
        put(&mut m, "message", g("message"));
        put(&mut m, "log.level", json!("warning"));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hound_format_keeps_script_fields_and_adds_envelope() {
        let e = Envelope::new(JsonFormat::Hound);
        e.set_dataset("triage");
        let l = e.line(RecordType::Row, &json!({"host": "10.0.0.5", "port": 22}));
        assert_eq!(l["host"], "10.0.0.5");
        assert_eq!(l["host.name"], crate::runtime::case::hostname());
        assert_eq!(l["event.dataset"], "hound.triage");
        assert_eq!(l["event.kind"], "state");
        assert_eq!(l["hound.seq"], 0);
        let l2 = e.line(
            RecordType::Finding,
            &json!({"severity": "high", "title": "x"}),
        );
        assert_eq!(l2["event.kind"], "alert");
        assert_eq!(l2["hound.seq"], 1);
        assert_eq!(l2["hound.run_id"], l["hound.run_id"]);
    }

    #[test]
    fn ecs_maps_processes_sockets_files_findings() {
        let e = Envelope::new(JsonFormat::Ecs);
        let p = e.line(
            RecordType::Row,
            &json!({"pid": 7, "ppid": 1, "name": "nc", "exe": "/usr/bin/nc", "cmdline": ["nc", "-zv", "h", "80"], "host": "x"}),
        );
        assert_eq!(p["process"]["pid"], 7);
        assert_eq!(p["process"]["parent"]["pid"], 1);
        assert_eq!(p["process"]["command_line"], "nc -zv h 80");
        assert_eq!(p["host"]["name"], crate::runtime::case::hostname());
        assert_eq!(p["hound"]["data"]["host"], "x");
        let s = e.line(
            RecordType::Row,
            &json!({"proto": "tcp6", "local_ip": "::1", "local_port": 5, "remote_ip": "::2", "remote_port": 80}),
        );
        assert_eq!(s["destination"]["port"], 80);
        assert_eq!(s["network"]["transport"], "tcp");
        let f = e.line(
            RecordType::Finding,
            &json!({"severity": "high", "title": "bad", "mitre": "T1053.003", "path": "/tmp/x", "sha256": "ab", "size": 3}),
        );
        assert_eq!(f["event"]["kind"], "alert");
        assert_eq!(f["event"]["severity"], 73);
        assert_eq!(f["rule"]["name"], "bad");
        assert_eq!(f["threat"]["technique"]["id"][0], "T1053.003");
        assert_eq!(f["file"]["hash"]["sha256"], "ab");
    }
}
