//! Shared test helpers: the real binary, root checks, temp scripts.

#![allow(dead_code)]

use assert_cmd::Command;
use hound::host::netns::Netns;
use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output};

/// The built `hound` binary, with colours off and no inherited case folder.
pub fn hound() -> Command {
    let mut c = Command::cargo_bin("hound").expect("hound binary");
    c.env("NO_COLOR", "1")
        .env_remove("HOUND_CASE")
        .env("HOUND_CASES", test_case_base())
        .env_remove("HOUND_PATH");
    c
}

/// The built binary run inside `ns` (`ip netns exec`), with the same
/// environment as `hound()`: a run there must not record into the
/// machine's case base either.
pub fn hound_in(ns: &Netns) -> std::process::Command {
    let mut c = ns.command(&hound_path().to_string_lossy());
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

/// The fields `--json` adds to every line (docs/json.md).
pub const ENVELOPE: [&str; 9] = [
    "@timestamp",
    "host.name",
    "agent.type",
    "agent.version",
    "event.kind",
    "event.dataset",
    "hound.run_id",
    "hound.seq",
    "hound.type",
];

/// A `--json` line as the script's own value: every line carries the
/// envelope (`hound.type`, `host.name`, ...), and a scalar result is the
/// line's `value` field. A map of the script's that has a `value` field
/// has other fields too, and stays a map.
pub fn unwrap_scalar(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(mut m)
            if m.contains_key("hound.type")
                && m.contains_key("value")
                && m.keys()
                    .all(|k| k == "value" || ENVELOPE.contains(&k.as_str())) =>
        {
            m.remove("value").unwrap_or_default()
        }
        other => other,
    }
}

/// `--json` stdout as values, one a line, scalar results unwrapped
/// (`unwrap_scalar`). A line that is not JSON fails the test: `--json`
/// promises nothing else on stdout.
pub fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v = serde_json::from_str(l).unwrap_or_else(|e| {
                panic!(
                    "not a JSON line: {e}: {l}\n(all of stdout follows)\n{}",
                    String::from_utf8_lossy(stdout)
                )
            });
            unwrap_scalar(v)
        })
        .collect()
}

/// A finished `--json` run as (exit status, lines). Its stderr is echoed to
/// the test's own, which the test harness shows when the test fails, so
/// assertions need not carry it.
pub fn json_of(out: Output) -> (ExitStatus, Vec<Value>) {
    echo_stderr(&out);
    (out.status, json_lines(&out.stdout))
}

fn echo_stderr(out: &Output) {
    if !out.stderr.is_empty() {
        eprintln!("hound's stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// `hound --json ARGS…`: exit status and JSON lines (see `json_of`).
pub fn run_json<I, S>(args: I) -> (ExitStatus, Vec<Value>)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    json_of(
        hound()
            .arg("--json")
            .args(args)
            .output()
            .expect("run hound"),
    )
}

/// `run_json` with extra environment variables.
pub fn run_json_env<I, S>(env: &[(&str, &str)], args: I) -> (ExitStatus, Vec<Value>)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = hound();
    c.envs(env.iter().copied()).arg("--json").args(args);
    json_of(c.output().expect("run hound"))
}

/// `run_json` inside the network namespace `ns`.
pub fn run_json_in<I, S>(ns: &Netns, args: I) -> (ExitStatus, Vec<Value>)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    json_of(
        hound_in(ns)
            .arg("--json")
            .args(args)
            .output()
            .expect("run hound"),
    )
}

/// `hound --json run SCRIPT ARGS…` for a script `body` written to a temp
/// file (ARGS: `-p` params and global flags such as `--case DIR`).
pub fn script_json<I, S>(body: &str, args: I) -> (ExitStatus, Vec<Value>)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let (out, lines) = script_output(body, args);
    echo_stderr(&out);
    (out.status, lines)
}

/// For a run with no arguments beyond its script.
pub const NO_ARGS: [&str; 0] = [];

/// `--case DIR`, to chain in front of a run's other arguments.
pub fn in_case(case: &Path) -> [&OsStr; 2] {
    [OsStr::new("--case"), case.as_os_str()]
}

/// `script_json` for tests that read stderr or stdout themselves.
pub fn script_output<I, S>(body: &str, args: I) -> (Output, Vec<Value>)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let (_d, p) = script("t.rhai", body);
    let out = hound()
        .arg("--json")
        .arg("run")
        .arg(&p)
        .args(args)
        .output()
        .expect("run hound");
    let lines = json_lines(&out.stdout);
    (out, lines)
}

/// `run_json` with a case folder of its own (`--case`), removed
/// afterwards, so what the run records is seen by no other run.
pub fn run_json_own_case<I, S>(args: I) -> (ExitStatus, Vec<Value>)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let case = dir.path().join("c");
    let mut c = hound();
    c.arg("--json").arg("--case").arg(&case).args(args);
    json_of(c.output().expect("run hound"))
}

/// `script_json` with a case folder of its own (see `run_json_own_case`).
pub fn script_json_own_case(body: &str) -> (ExitStatus, Vec<Value>) {
    let (_d, p) = script("t.rhai", body);
    run_json_own_case([OsStr::new("run"), p.as_os_str()])
}

/// A JSON-lines file (a journal, a `--json-out` file) as values, unchanged.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: not a JSON line: {e}: {l}", path.display()))
        })
        .collect()
}

/// The script's value: the last line of a run (a map or a scalar is one
/// line; an array is one line an element, use all of them), or null.
pub fn result_of(lines: &[Value]) -> Value {
    lines.last().cloned().unwrap_or(Value::Null)
}

/// A run that must succeed: panics with the exit status otherwise (the
/// stderr is already in the test's output, see `json_of`).
pub fn ok(run: (ExitStatus, Vec<Value>)) -> Vec<Value> {
    assert!(run.0.success(), "hound exited with {}", run.0);
    run.1
}

/// The result of a run that must succeed (`ok`, then `result_of`).
pub fn ok_result(run: (ExitStatus, Vec<Value>)) -> Value {
    result_of(&ok(run))
}

/// A child process killed and waited for when dropped, so a failing
/// assertion leaves nothing running. Keep several in a `Vec<Reaped>`.
pub struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// `argv` run inside `ns`, with no terminal: stdin, stdout and stderr null.
pub fn spawn_in(ns: &Netns, argv: &[&str]) -> Reaped {
    let child = ns
        .command(argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {argv:?} in {}: {e}", ns.name()));
    Reaped(child)
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

/// The sysroot fixture copied to a temp dir, plus what git cannot hold
/// (symlinks) and binary login records.
pub fn sysroot() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("build the sysroot copy");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sysroot");
    copy_tree(&src, d.path());
    let r = d.path();
    let wants = r.join("etc/systemd/system/multi-user.target.wants");
    std::fs::create_dir_all(&wants).expect("build the sysroot copy");
    std::os::unix::fs::symlink("/lib/systemd/system/ssh.service", wants.join("ssh.service"))
        .expect("build the sysroot copy");
    std::os::unix::fs::symlink(
        "/etc/systemd/system/dbus-kworker.service",
        wants.join("dbus-kworker.service"),
    )
    .expect("build the sysroot copy");
    std::os::unix::fs::symlink("/dev/null", r.join("etc/systemd/system/cups.service"))
        .expect("build the sysroot copy");
    std::os::unix::fs::symlink(
        "/lib/systemd/system/ssh.service",
        r.join("etc/systemd/system/sshd.service"),
    )
    .expect("build the sysroot copy");
    let user_wants = r.join("home/alice/.config/systemd/user/default.target.wants");
    std::fs::create_dir_all(&user_wants).expect("build the sysroot copy");
    std::os::unix::fs::symlink(
        "/home/alice/.config/systemd/user/updater.service",
        user_wants.join("updater.service"),
    )
    .expect("build the sysroot copy");
    d
}

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).expect("build the sysroot copy") {
        let e = e.expect("build the sysroot copy");
        let dst = to.join(e.file_name());
        if e.file_type().expect("build the sysroot copy").is_dir() {
            std::fs::create_dir_all(&dst).expect("build the sysroot copy");
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).expect("build the sysroot copy");
        }
    }
}

/// A `hound lab` of the test's own (`PREFIX` + a unique tag), torn down on
/// drop: also when `lab up` failed half-way or the test panics.
pub struct TestLab {
    pub name: String,
}

impl TestLab {
    /// `hound lab up --name NAME EXTRA…`, which must succeed.
    pub fn up(prefix: &str, extra: &[&str]) -> TestLab {
        let lab = TestLab {
            name: format!("{prefix}{}", hound::host::netns::unique_tag()),
        };
        let out = hound()
            .args(["lab", "up", "--name", &lab.name])
            .args(extra)
            .output()
            .expect("run hound lab up");
        assert!(
            out.status.success(),
            "lab up {extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        lab
    }

    /// `argv` on a lab host, whatever its status.
    pub fn exec(&self, host: &str, argv: &[&str]) -> Output {
        hound()
            .args(["lab", "exec", "--name", &self.name, host, "--"])
            .args(argv)
            .output()
            .expect("run hound lab exec")
    }

    /// `argv` on a lab host, which must succeed: its stdout.
    pub fn ok(&self, host: &str, argv: &[&str]) -> String {
        let out = self.exec(host, argv);
        assert!(
            out.status.success(),
            "{host}: {argv:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `lab down`, then checks that it left no namespace and no mount;
    /// returns the lab's name for the caller's own checks.
    pub fn down_leaves_nothing(self) -> String {
        let name = self.name.clone();
        drop(self);
        assert!(
            hound::host::netns::list_prefix(&format!("{name}-")).is_empty(),
            "namespaces left"
        );
        let mounts = std::fs::read_to_string("/proc/mounts").expect("read /proc/mounts");
        let (inside, at) = (
            format!("/run/hound-lab/{name}/"),
            format!("/run/hound-lab/{name} "),
        );
        assert!(
            !mounts.contains(&inside) && !mounts.contains(&at),
            "mounts left"
        );
        name
    }

    /// hound on a lab host (`hound` there is the lab's copy of this binary).
    pub fn hound_on(&self, host: &str, args: &[&str]) -> Output {
        let argv: Vec<&str> = std::iter::once("hound")
            .chain(args.iter().copied())
            .collect();
        self.exec(host, &argv)
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        let _ = hound().args(["lab", "down", "--name", &self.name]).output();
    }
}

#[test]
fn json_lines_unwrap_scalars_only() {
    let out = br#"{"hound.type":"result","hound.seq":0,"value":42}
{"hound.type":"row","hound.seq":1,"value":"x","key":"k"}

{"hound.type":"result","hound.seq":2,"value":[1,2]}
"#;
    let v = json_lines(out);
    assert_eq!(v.len(), 3, "blank lines are skipped");
    assert_eq!(v[0], 42);
    assert_eq!(
        v[1]["key"], "k",
        "a record with a value field stays a record"
    );
    assert_eq!(v[2], serde_json::json!([1, 2]));
}

#[test]
#[should_panic(expected = "not a JSON line")]
fn json_lines_refuse_other_text() {
    json_lines(b"{\"a\":1}\nplain text\n");
}

#[test]
fn run_json_env_and_own_case() {
    let lib = tempfile::tempdir().expect("tempdir");
    std::fs::write(lib.path().join("m.rhai"), "fn f() { 7 }\n").expect("write module");
    let (_d, p) = script("t.rhai", "import \"m\" as m;\nm::f()\n");
    let dir = lib.path().to_str().expect("UTF-8 temp path");
    let (status, v) = run_json_env(&[("HOUND_PATH", dir)], [OsStr::new("run"), p.as_os_str()]);
    assert!(status.success());
    assert_eq!(v, [7]);
    let (status, v) = script_json_own_case("#{ n: 1 }");
    assert!(status.success());
    assert_eq!(result_of(&v)["n"], 1);
}
