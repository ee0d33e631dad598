//! Shared test helpers: the real binary, root checks, temp scripts.

#![allow(dead_code)]

use assert_cmd::Command;
use std::path::PathBuf;

/// The built `hound` binary, with colours off and no inherited case folder.
pub fn hound() -> Command {
    let mut c = Command::cargo_bin("hound").expect("hound binary");
    c.env("NO_COLOR", "1")
        .env_remove("HOUND_CASE")
        .env("HOUND_CASES", test_case_base())
        .env_remove("HOUND_PATH");
    c
}

/// Cases of tests that name no folder go here, never into the machine's
/// case base (whose open case, if any, must not collect test runs).
pub fn test_case_base() -> PathBuf {
    std::env::temp_dir().join(format!("hound-test-cases-{}", std::process::id()))
}

/// Path of the built binary, for commands run through `ip netns exec`.
pub fn hound_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("hound")
}

pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Skips (with a printed reason) unless root: raw sockets, namespaces and
/// nftables need it. CI runs as root, so these always run there.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::common::is_root() {
            eprintln!(
                "SKIP {}: needs root (namespaces, raw sockets, nftables)",
                module_path!()
            );
            return;
        }
    };
}

/// Skips unless `cmd` is on PATH (the test command installs it).
#[macro_export]
macro_rules! require_cmd {
    ($cmd:expr) => {
        if std::process::Command::new("sh")
            .args(["-c", &format!("command -v {} >/dev/null", $cmd)])
            .status()
            .map(|s| !s.success())
            .unwrap_or(true)
        {
            eprintln!(
                "SKIP {}: `{}` is not installed (scripts/test installs it)",
                module_path!(),
                $cmd
            );
            return;
        }
    };
}

/// A temp dir holding `name` with `body`; returns (dir guard, path).
pub fn script(name: &str, body: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join(name);
    std::fs::write(&p, body).expect("write script");
    (dir, p)
}

/// A `--json` line as the script's own value: every line carries the
/// envelope (`hound.type`, `host.name`, ...), and a scalar result is the
/// line's `value` field.
pub fn unwrap_scalar(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(mut m)
            if m.contains_key("hound.type") && m.contains_key("value") =>
        {
            m.remove("value").unwrap_or_default()
        }
        other => other,
    }
}

/// Spawns a binary the test has just copied. Another test thread that
/// forked while the copy was open for writing holds a writable descriptor
/// until its own exec, so exec fails with ETXTBSY for a moment: retry.
pub fn spawn_fresh_copy(cmd: &mut std::process::Command) -> std::process::Child {
    for _ in 0..100 {
        match cmd.spawn() {
            Ok(c) => return c,
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("spawning {cmd:?}: {e}"),
        }
    }
    panic!("{cmd:?}: still ETXTBSY after 2 s")
}
