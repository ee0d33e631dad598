//! Issue 19, "safe on a hostile host": each test replays one attack from the
//! review (in temp dirs, tmpfs or the test's own namespaces) against the fix.

use crate::common::{hound, script};
use predicates::prelude::*;

// --- panics -----------------------------------------------------------------

/// A scanned host's `<title>` with no closing tag and a multi-byte character
/// across byte 200 used to panic the classifier (and drop the row).
#[test]
fn http_title_cut_at_a_char_boundary() {
    let mut body = b"HTTP/1.1 200 OK\r\n\r\n<title>".to_vec();
    body.extend(std::iter::repeat_n(b'a', 199));
    body.extend("é".repeat(50).as_bytes());
    let s = hound::host::scan::services::classify(80, &body, Some("http"));
    assert_eq!(s.service, "http");
    let t = s.title.expect("title kept");
    assert!(t.starts_with("aaa") && t.len() <= 200, "{t}");
}

/// `sleep(1e300)` exited 101; `sleep(1.8e19)` slept forever; huge `ttl`,
/// `grace` and timeouts the same. All are a catchable invalid_argument now.
#[test]
fn huge_durations_are_refused_not_fatal() {
    let (_d, p) = script(
        "durations.rhai",
        r#"
        let kinds = [];
        for f in [|| sleep(1e300), || sleep(1.8e19), || sleep(-1.0), || sleep("999999999999h"),
                  || proc::kill(999999999, #{ grace: 1e300 }),
                  || fw::block("192.0.2.1", #{ ttl: 1e300 }),
                  || net::probe("127.0.0.1", 9, 1e300)] {
            try { f.call(); kinds.push("none"); } catch (e) { kinds.push(e.kind); }
        }
        print(kinds);
        "#,
    );
    hound()
        .args(["--dry-run", "run"])
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            r#"["invalid_argument", "invalid_argument", "invalid_argument", "invalid_argument", "invalid_argument", "invalid_argument", "invalid_argument"]"#,
        ));
}

/// A head forged with seq = u64::MAX panicked verify in debug and wrapped
/// into "ok" in release.
#[test]
fn journal_head_seq_u64_max_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    let (_d, p) = script("note.rhai", r#"case::finding("info", "one");"#);
    hound()
        .arg("--case")
        .arg(&case)
        .arg("run")
        .arg(&p)
        .assert()
        .code(1);
    for seq in [u64::MAX, u64::MAX - 1] {
        let head = std::fs::read_to_string(case.join("journal.head")).unwrap();
        let mut h: serde_json::Value = serde_json::from_str(&head).unwrap();
        h["seq"] = seq.into();
        std::fs::write(case.join("journal.head"), h.to_string()).unwrap();
        hound()
            .args(["case", "verify"])
            .arg(&case)
            .assert()
            .failure();
    }
}
