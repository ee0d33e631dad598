//! The real binary: scripts run, parameters, errors with positions, limits,
//! JSON lines, exit codes.

use crate::common::{hound, script};
use predicates::prelude::*;

#[test]
fn runs_a_bundled_hunt_with_a_param() {
    hound()
        .args(["run", "hello", "--param", "who=alice"])
        .assert()
        .success()
        .stdout(predicate::str::contains("hello, alice"));
}

#[test]
fn unknown_param_is_refused_before_running() {
    hound()
        .args(["run", "hello", "-p", "whom=x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no parameter `whom`"))
        .stderr(predicate::str::contains("known parameters: who"))
        .stdout(predicate::str::is_empty());
}

#[test]
fn malformed_param_is_refused() {
    let (_d, p) = script(
        "t.rhai",
        "//! name = \"t\"\n//! [params.n]\n//! type = \"int\"\n//! default = 1\nemit(params.n);\n",
    );
    hound()
        .args(["run", p.to_str().unwrap(), "-p", "n=many"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected an integer"));
    hound()
        .args(["run", p.to_str().unwrap(), "-p", "n"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected key=value"));
}

#[test]
fn syntax_error_points_at_file_line_col() {
    let (_d, p) = script("broken.rhai", "let a = 1;\nlet b = a +;\n");
    hound()
        .args(["check", p.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.rhai:2:12"))
        .stderr(predicate::str::contains("let b = a +;"))
        .stderr(predicate::str::contains("^"));
}

#[test]
fn check_passes_good_scripts() {
    let (_d, p) = script("ok.rhai", "let a = 1;\na + 1\n");
    hound()
        .args(["check", p.to_str().unwrap()])
        .assert()
        .success();
}

#[test]
fn endless_loop_is_stopped_by_the_operation_limit() {
    let (_d, p) = script("spin.rhai", "let i = 0;\nloop { i += 1; }\n");
    hound()
        .args(["run", p.to_str().unwrap(), "--max-operations", "200000"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("stopped after 200000 operations"))
        .stderr(predicate::str::contains("--max-operations"));
}

#[test]
fn primitive_errors_are_catchable_maps_with_a_kind() {
    let (_d, p) = script(
        "c.rhai",
        "let k = \"\";\ntry { sleep(\"soon\"); } catch (e) { k = e.kind; }\nk\n",
    );
    hound()
        .args(["run", p.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("invalid_argument"));
}

#[test]
fn uncaught_primitive_error_names_primitive_and_position() {
    let (_d, p) = script("u.rhai", "let x = 1;\nsleep(\"soon\");\n");
    hound()
        .args(["run", p.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error[invalid_argument]: sleep:"))
        .stderr(predicate::str::contains("u.rhai:2:1"));
}

#[test]
fn json_output_is_json_lines() {
    let (_d, p) = script(
        "j.rhai",
        "emit(#{a: 1});\nemit(#{a: 2, name: \"x\\u001b[2J\"});\n[#{b: 1}, #{b: 2}]\n",
    );
    let out = hound()
        .args(["run", p.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("each line is JSON");
        assert!(v.is_object());
        assert!(!l.contains('\x1b'), "control characters are escaped");
    }
}

#[test]
fn attacker_text_is_escaped_in_tables() {
    let (_d, p) = script("t.rhai", "[#{name: \"evil\\u001b[31mred\"}]\n");
    hound()
        .args(["run", p.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("evil\\x1b[31mred"));
}

#[test]
fn missing_script_is_a_clear_error() {
    hound()
        .args(["run", "/nonexistent/hunt.rhai"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no script file or bundled hunt"));
}

#[test]
fn imports_resolve_from_script_dir_and_lib() {
    let (d, p) = script("main.rhai", "import \"helper\" as h;\nh::twice(21)\n");
    std::fs::write(d.path().join("helper.rhai"), "fn twice(x) { x * 2 }\n").unwrap();
    hound()
        .args(["run", p.to_str().unwrap()])
        .assert()
        .success()
        .stdout("42\n");
    let lib = tempfile::tempdir().unwrap();
    std::fs::write(lib.path().join("other.rhai"), "fn one() { 1 }\n").unwrap();
    let (_d2, p2) = script("m.rhai", "import \"other\" as o;\no::one()\n");
    hound()
        .args([
            "run",
            p2.to_str().unwrap(),
            "--lib",
            lib.path().to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout("1\n");
    hound()
        .env("HOUND_PATH", lib.path())
        .args(["run", p2.to_str().unwrap()])
        .assert()
        .success()
        .stdout("1\n");
}

#[test]
fn list_doc_and_completions() {
    hound()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("hello"));
    hound()
        .args(["doc", "hello"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Parameters"));
    hound()
        .args(["doc", "sleep"])
        .assert()
        .success()
        .stdout(predicate::str::contains("sleep(duration"));
    hound().args(["doc", "nosuch::thing"]).assert().code(2);
    hound()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("hound"));
}

#[test]
fn exit_code_is_2_on_bad_usage() {
    hound().arg("--no-such-flag").assert().code(2);
}

/// Regression: Rhai reserves `case`; hound maps it back to an identifier so
/// the `case::` family can be called.
#[test]
fn case_is_a_usable_namespace() {
    let (_d, p) = script(
        "k.rhai",
        "fn f() { case::finding(\"info\", \"t\") }\nlet x = 1;\n",
    );
    hound()
        .args(["check", p.to_str().unwrap()])
        .assert()
        .success();
}

/// Regression: Rhai drops the position of errors raised in namespaced calls;
/// hound still points at the call.
#[test]
fn namespaced_primitive_errors_keep_their_position() {
    let (_d, p) = script(
        "n.rhai",
        "let x = 1;\nlet s = fs::stat(\"/nonexistent/x\");\n",
    );
    hound()
        .args(["run", p.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error[not_found]: fs::stat:"))
        .stderr(predicate::str::contains("n.rhai:2:9"));
}

/// Ctrl-C stops a script blocked in a primitive, with exit status 130.
#[test]
fn ctrl_c_cancels_a_blocked_primitive() {
    let (_d, p) = script("slow.rhai", "sleep(30);\n");
    let child = std::process::Command::new(crate::common::hound_path())
        .args(["run", p.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cancelled"));
}

/// Parameters are checked against their types and ranges before anything
/// runs: a bad port never reaches a scan, a negative duration never a watch.
#[test]
fn params_are_checked_before_anything_runs() {
    hound()
        .args([
            "run",
            "sweep",
            "-p",
            "networks=127.0.0.1/32",
            "-p",
            "ports=70000",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--param ports=\"70000\""))
        .stdout(predicate::str::is_empty());
    hound()
        .args([
            "run",
            "sweep",
            "-p",
            "networks=127.0.0.1/32",
            "-p",
            "server_ports=22,0",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected int 1..=65535"));
    hound()
        .args(["run", "beacons", "-p", "seconds=-5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected int >= 1"));
    hound()
        .args(["doc", "sweep"])
        .assert()
        .success()
        .stdout(predicate::str::contains("list of int 1..=65535"));
}

#[test]
fn a_destructive_hunt_is_refused_at_once() {
    let (_d, p) = script(
        "d.rhai",
        "//! name = \"wrecker\"\n//! destructive = true\nemit(#{ ran: true });\n",
    );
    hound()
        .args(["run", p.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`wrecker` is destructive"))
        .stderr(predicate::str::contains("--dry-run"))
        .stdout(predicate::str::is_empty());
    hound()
        .args(["run", "remediate"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`remediate` is destructive"));
    hound()
        .args(["run", p.to_str().unwrap(), "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ran"));
}

#[test]
fn a_repeated_param_is_a_list_or_an_error() {
    hound()
        .args(["run", "hello", "-p", "who=a", "-p", "who=b"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--param who is given more than once",
        ));
    let (_d, p) = script(
        "l.rhai",
        "//! name = \"l\"\n//! [params.ips]\n//! type = \"list\"\n//! default = []\nparams.ips\n",
    );
    hound()
        .args(["run", p.to_str().unwrap(), "-p", "ips=a", "-p", "ips=b,c"])
        .assert()
        .success()
        .stdout("a\nb\nc\n");
}

/// A primitive's hint about its own options becomes, inside a bundled hunt,
/// the hunt's parameters: the only things the user can pass.
#[test]
fn hints_in_hunts_name_what_the_user_can_pass() {
    crate::require_root!();
    // 16M loopback addresses: refused by the target limit before any packet.
    let out = hound()
        .args(["run", "sweep", "-p", "networks=127.0.0.0/8"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("exceed the limit"), "{err}");
    assert!(!err.contains("max_targets"), "{err}");
    assert!(err.contains("--param networks"), "{err}");
}

#[test]
fn check_reports_unknown_functions_and_header_errors_with_positions() {
    let (_d, p) = script(
        "typo.rhai",
        "let g = |x| x + 1;\ng(1);\nlet ps = proc::lisst();\nps.fillter(|p| p.pid > 1);\n",
    );
    hound()
        .args(["check", p.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("proc::lisst: no such function"))
        .stderr(predicate::str::contains("typo.rhai:3:"))
        .stderr(predicate::str::contains("did you mean proc::list?"))
        .stderr(predicate::str::contains("did you mean filter?"))
        .stderr(predicate::str::contains("g: no such").not());
    let (_d2, h) = script("h.rhai", "//! name = \"x\"\n//! version 1\nlet a = 1;\n");
    let out = hound()
        .args(["check", h.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("h.rhai:2:13") && err.contains("2 | //! version 1"),
        "{err}"
    );
    assert!(!err.contains("\\n"), "{err}");
}

#[test]
fn check_accepts_every_bundled_script() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["stdlib", "stdlib/hunts", "tests/stdlib"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "rhai") {
                files.push(e.path());
            }
        }
    }
    hound().arg("check").args(&files).assert().success();
}

#[test]
fn doc_shows_options_types_and_near_names() {
    hound()
        .args(["doc", "fw::block"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "fw::block(target: string|array, opts: map) -> map",
        ))
        .stdout(predicate::str::contains("Options (the opts map)"))
        .stdout(predicate::str::contains("ttl        int|string  forever"));
    hound()
        .args(["doc", "scan::ports"])
        .assert()
        .success()
        .stdout(predicate::str::contains("source_port  int"));
    hound()
        .args(["doc", "fw::blok"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean fw::block"));
    hound()
        .args(["doc", "proc::gett"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean proc::get"));
    hound()
        .arg("doc")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "re_match(text: string, pattern: string) -> bool",
        ));
    let out = hound().args(["--json", "doc"]).output().unwrap();
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for d in all.as_array().unwrap() {
        for s in d["signatures"].as_array().unwrap() {
            assert!(!s.as_str().unwrap().contains('?'), "{s}");
        }
    }
}

/// `emit(#{...})` keeps the order the script wrote its keys in.
#[test]
fn emitted_columns_keep_the_literal_order() {
    let (_d, p) = script(
        "o.rhai",
        "for i in 0..2 { emit(#{ zeta: i, pid: 100 + i, alpha: \"a\" }); }\n",
    );
    let out = hound().args(["run", p.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let header = text.lines().nth(1).unwrap_or_default();
    let at = |k: &str| header.find(k).unwrap_or(usize::MAX);
    assert!(at("zeta") < at("pid") && at("pid") < at("alpha"), "{text}");
}

/// `hound list` prints whole descriptions.
#[test]
fn list_does_not_cut_descriptions() {
    hound()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "was this host compromised and used to attack, on what evidence.",
        ))
        .stdout(predicate::str::contains("…").not());
}

/// `proc::find("x")` is a name (or executable's name), not any command line
/// that contains the letters.
#[test]
fn proc_find_matches_names_not_substrings() {
    let mut sleeper = std::process::Command::new("sleep")
        .arg("300")
        .spawn()
        .unwrap();
    let mut sh = std::process::Command::new("sh")
        .args(["-c", "sleep 299; echo zzqrare"])
        .spawn()
        .unwrap();
    let (_d, p) = script(
        "f.rhai",
        &format!(
            "let a = proc::find(\"sleep\").filter(|p| p.pid == {}).len();\n\
             let b = proc::find(\"leep\").filter(|p| p.pid == {}).len();\n\
             let c = proc::find(\"zzqrare\").len();\n\
             `${{a}} ${{b}} ${{c}}`\n",
            sleeper.id(),
            sleeper.id()
        ),
    );
    let out = hound().args(["run", p.to_str().unwrap()]).output();
    let _ = sleeper.kill();
    let _ = sh.kill();
    let _ = sleeper.wait();
    let _ = sh.wait();
    let out = out.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1 0 0");
}

/// Building an array with `push` is linear (Rhai's data-size checks, which
/// re-measured the whole array at every push, are off), and a runaway array
/// is stopped by the memory limit with a clear error.
#[test]
fn push_is_linear_and_a_runaway_array_is_stopped() {
    let (_d, p) = script(
        "p.rhai",
        "let a = [];\nfor i in 0..20000 { a.push(#{ i: i, s: \"x\" }); }\na.len()\n",
    );
    hound()
        .args(["run", p.to_str().unwrap()])
        .assert()
        .success()
        .stdout("20000\n");
    let (_d2, r) = script(
        "r.rhai",
        "let a = [];\nloop { a.push(#{ i: 1, s: \"some text\" }); }\n",
    );
    hound()
        .args([
            "run",
            r.to_str().unwrap(),
            "--max-memory",
            "48",
            "--max-operations",
            "0",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "stopped at the memory limit: 48 MiB",
        ))
        .stderr(predicate::str::contains("--max-memory"));
}
