//! The fast paths give the reference tools' answers: the parallel
//! `fs::find` walk (with and without `fields`) against GNU find on one
//! fixture tree. (The socket table against ss is in `procnet.rs`.)

use crate::common::{hound, ok_result, run_json, run_json_in, script};
use std::collections::BTreeSet;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A tree with what a real /tmp holds: nested directories, spaces, hidden
/// names, a name that is not UTF-8, executables, symlinks (one to a
/// directory and one looping back), empty directories, a fifo.
fn tree(root: &Path) {
    for i in 0..1200 {
        let d = root.join(format!("d{}/s{}", i / 300, (i / 30) % 10));
        std::fs::create_dir_all(&d).unwrap();
        let (name, mode) = match i % 10 {
            0 => (format!("run{i}.sh"), 0o755),
            1 | 2 => (format!("app {i}.log"), 0o644),
            3 => (format!(".hidden{i}.log"), 0o600),
            4 if i % 100 == 4 => (format!("suid{i}"), 0o4755),
            _ => (format!("f{i}.txt"), 0o644),
        };
        let p = d.join(&name);
        std::fs::write(&p, vec![b'x'; i % 7]).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::create_dir_all(root.join("empty/deeper/still")).unwrap();
    std::os::unix::fs::symlink("../d1", root.join("d0/link-to-dir")).unwrap();
    std::os::unix::fs::symlink(root, root.join("d2/loop")).unwrap();
    std::os::unix::fs::symlink("nowhere.log", root.join("d3/dangling.log")).unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"bad\xffname.log");
    std::fs::write(root.join("d1").join(odd), b"").unwrap();
    nix::unistd::mkfifo(&root.join("d0/pipe"), nix::sys::stat::Mode::S_IRWXU).unwrap();
}

fn find_paths(root: &Path, args: &[&str]) -> BTreeSet<String> {
    let out = std::process::Command::new("find")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && *l != root.as_os_str().as_bytes())
        // hound reports a byte that is not UTF-8 as \xNN.
        .map(hound::output::lossless)
        .collect()
}

#[test]
fn parallel_find_agrees_with_gnu_find() {
    crate::require_cmd!("find");
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    tree(root);
    let r = serde_json::to_string(root.to_str().unwrap()).unwrap();
    // (hound filter, find arguments)
    let cases: &[(&str, &[&str])] = &[
        ("#{}", &[]),
        ("#{ name: \"*.log\" }", &["-name", "*.log"]),
        (
            "#{ name: \"*.log\", fields: [\"path\"] }",
            &["-name", "*.log"],
        ),
        (
            "#{ type: \"file\", executable: true, fields: [\"path\"] }",
            &["-type", "f", "-perm", "/111"],
        ),
        (
            "#{ type: \"file\", executable: true }",
            &["-type", "f", "-perm", "/111"],
        ),
        (
            "#{ type: \"d\", fields: [\"path\", \"type\"] }",
            &["-type", "d"],
        ),
        ("#{ type: \"l\" }", &["-type", "l"]),
        (
            "#{ setuid: true, fields: [\"path\", \"mode\"] }",
            &["-perm", "-4000"],
        ),
        (
            "#{ max_depth: 2, fields: [\"name\", \"path\"] }",
            &["-maxdepth", "2"],
        ),
        ("#{ hidden: true }", &["-name", ".*"]),
        ("#{ path: \"*/s3/*\" }", &["-path", "*/s3/*"]),
        (
            "#{ min_size: 5, type: \"f\" }",
            &["-type", "f", "-size", "+4c"],
        ),
    ];
    let body: String = cases
        .iter()
        .enumerate()
        .map(|(i, (f, _))| format!("out.push(fs::find({r}, {f}));\n// {i}\n"))
        .collect();
    let (_s, p) = script("f.rhai", &format!("let out = [];\n{body}#{{ out: out }}\n"));
    let v = ok_result(run_json(["run", p.to_str().unwrap()]));
    for (i, (filter, args)) in cases.iter().enumerate() {
        let rows = v["out"][i].as_array().unwrap();
        let paths: Vec<String> = rows
            .iter()
            .map(|e| e["path"].as_str().unwrap().to_string())
            .collect();
        let mut sorted = paths.clone();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let ours: BTreeSet<String> = paths.iter().cloned().collect();
        assert_eq!(ours.len(), paths.len(), "{filter}: no duplicates");
        assert_eq!(
            ours,
            find_paths(root, args),
            "fs::find({filter}) vs find {args:?}"
        );
        // Sorted by path (byte order) whatever the threads did.
        assert_eq!(paths, sorted, "{filter}: sorted by path");
        if let Some(f) = filter.split("fields: [").nth(1) {
            let want: BTreeSet<&str> = f
                .split(']')
                .next()
                .unwrap()
                .split(", ")
                .map(|k| k.trim_matches('"'))
                .collect();
            for e in rows {
                let keys: BTreeSet<&str> =
                    e.as_object().unwrap().keys().map(|k| k.as_str()).collect();
                assert_eq!(keys, want, "{filter}: only the asked fields");
            }
        } else if let Some(e) = rows.first() {
            assert!(e.get("mtime").is_some() && e.get("user").is_some(), "{e}");
        }
    }
    // A projected field agrees with the full record.
    let modes: BTreeSet<(String, String)> = v["out"][7]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["mode"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        !modes.is_empty() && modes.iter().all(|(_, m)| m == "4755"),
        "{modes:?}"
    );
}

#[test]
fn find_fields_reject_unknown_names() {
    let (_s, p) = script(
        "f.rhai",
        "let m = [];\ntry { fs::find(\"/tmp\", #{ fields: [\"pathh\"] }); } catch (e) { m.push(e.message); }\ntry { fs::find(\"/tmp\", #{ fields: [] }); } catch (e) { m.push(e.message); }\nm\n",
    );
    let out = hound().args(["run", p.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "fs::find: option \"fields\": \"pathh\" is not an entry field",
        "option \"fields\": name at least one field",
    ] {
        assert!(text.contains(needle), "missing {needle} in {text}");
    }
}

/// Listeners on a spread of ports, the lowest and the highest included.
const LISTEN: &str = r#"
import socket, sys
held = []
for p in sys.argv[1:]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(p))); s.listen(64); held.append(s)
print("ready", flush=True)
sys.stdin.read()
"#;

#[test]
fn full_range_connect_and_syn_scans_miss_no_port() {
    crate::require_root!();
    crate::require_cmd!("python3");
    use hound::host::netns::{veth, Netns};
    let s = Netns::create_unique("hsp").unwrap();
    let t = Netns::create_unique("hsp").unwrap();
    veth(&s, "eth0", "10.78.1.1/24", &t, "eth0", "10.78.1.2/24").unwrap();
    let ports = ["1", "22", "80", "443", "3306", "8080", "31337", "65535"];
    let mut child = t
        .command("python3")
        .arg("-c")
        .arg(LISTEN)
        .args(ports)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let _k = crate::common::Reaped(child);
    assert_eq!(line.trim(), "ready");
    let (_d, p) = script(
        "c.rhai",
        "let open = |r| r.filter(|x| x.state == \"open\").map(|x| x.port);\n\
         let c = scan::ports(\"10.78.1.2\", \"all\", #{ method: \"connect\" });\n\
         let s = scan::ports(\"10.78.1.2\", \"all\", #{ method: \"syn\" });\n\
         #{ connect: open.call(c), syn: open.call(s) }\n",
    );
    let v = ok_result(run_json_in(&s, ["run", p.to_str().unwrap()]));
    let want: Vec<u64> = ports.iter().map(|p| p.parse().unwrap()).collect();
    for k in ["connect", "syn"] {
        let got: Vec<u64> = v[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(got, want, "{k} scan of the full range");
    }
}
