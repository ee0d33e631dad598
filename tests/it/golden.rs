//! Golden output: the `triage` hunt on the sysroot fixture, normalised, is
//! compared line by line with tests/fixtures/golden/triage.json. A change in
//! what triage finds (or how it words it) shows as a diff; when the change
//! is meant, `HOUND_BLESS=1 cargo test --test it golden` rewrites the file,
//! and the diff of the golden file goes into the same commit.

use crate::common::{run_json_own_case, sysroot, ENVELOPE};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

#[test]
fn triage_on_the_sysroot_fixture_matches_the_golden_file() {
    let d = sysroot();
    let root = d.path();
    // The web log inside the root, where a real one would be.
    let log = root.join("var/log/apache2/access.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::copy(repo().join("tests/fixtures/access.log"), &log).unwrap();
    let (status, lines) = run_json_own_case([
        "run".to_string(),
        "triage".into(),
        "-p".into(),
        format!("root={}", root.display()),
        "-p".into(),
        format!("access_logs={}", log.display()),
    ]);
    assert_eq!(status.code(), Some(1), "triage finds the fixture's attack");
    let got: Vec<String> = lines
        .into_iter()
        .map(|l| normalise(l, root).to_string())
        .collect();
    check_golden("triage.json", &got);
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One output line without what differs between runs and machines: the
/// envelope (times, run id, host name; `hound.type` is kept), the temp
/// root (`<root>`), the host's own description and pids. Keys sorted.
fn normalise(v: Value, root: &Path) -> Value {
    let mut v = match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| k == "hound.type" || !ENVELOPE.contains(&k.as_str()))
                .collect(),
        ),
        other => other,
    };
    // The "Host NAME" line describes this machine, not the fixture.
    if v["title"].as_str().is_some_and(|t| t.starts_with("Host ")) {
        v["title"] = "Host <host>".into();
        v["evidence"] = "<distro, kernel, uptime>".into();
    }
    let root = root.display().to_string();
    let pid = regex::Regex::new(r"\bpid \d+").unwrap();
    strings(v, &|s| {
        pid.replace_all(&s.replace(&root, "<root>"), "pid <pid>")
            .into_owned()
    })
}

/// `v` with `f` applied to every string, and object keys sorted.
fn strings(v: Value, f: &dyn Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| strings(x, f)).collect()),
        Value::Object(m) => {
            let mut kv: Vec<(String, Value)> =
                m.into_iter().map(|(k, x)| (k, strings(x, f))).collect();
            kv.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(kv.into_iter().collect::<Map<_, _>>())
        }
        other => other,
    }
}

/// Compares `lines` (one JSON value each) with the golden file: a JSON
/// array written one element a line, so that a diff of it reads well.
fn check_golden(name: &str, lines: &[String]) {
    let path = repo().join("tests/fixtures/golden").join(name);
    let text = format!("[\n{}\n]\n", lines.join(",\n"));
    if std::env::var_os("HOUND_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        eprintln!("HOUND_BLESS=1: wrote {}", path.display());
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\n(HOUND_BLESS=1 writes it from this run)",
            path.display()
        )
    });
    if want != text {
        panic!(
            "{} differs from this run (- golden, + now):\n{}\n\
             If the change is meant: HOUND_BLESS=1 cargo test --test it golden, \
             and commit the golden file with it.",
            path.display(),
            diff(&want, &text)
        );
    }
}

/// A line diff (longest common subsequence): removed lines with `- `,
/// added with `+ `, and two unchanged lines of context around them with
/// two spaces (longer unchanged runs are cut to `  …`).
fn diff(a: &str, b: &str) -> String {
    let all = full_diff(a, b);
    let changed: Vec<bool> = all.iter().map(|l| !l.starts_with("  ")).collect();
    let near = |i: usize| (i.saturating_sub(2)..(i + 3).min(all.len())).any(|k| changed[k]);
    let mut out = String::new();
    let mut cut = false;
    for (i, l) in all.iter().enumerate() {
        if near(i) {
            out += l;
            out.push('\n');
            cut = false;
        } else if !cut {
            out += "  …\n";
            cut = true;
        }
    }
    out
}

fn full_diff(a: &str, b: &str) -> Vec<String> {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    // lcs[i][j]: length of the longest common subsequence of a[i..], b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(format!("  {}", a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("- {}", a[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", b[j]));
            j += 1;
        }
    }
    out
}

#[test]
fn the_golden_diff_marks_changed_lines() {
    assert_eq!(diff("a\nb\nc", "a\nx\nc"), "  a\n- b\n+ x\n  c\n");
    assert_eq!(diff("", "a"), "+ a\n");
    assert_eq!(diff("a", ""), "- a\n");
    let long = "1\n2\n3\n4\n5\n6\n7";
    assert_eq!(
        diff(long, &long.replace('6', "six")),
        "  …\n  4\n  5\n- 6\n+ six\n  7\n"
    );
}
