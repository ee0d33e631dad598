//! Containment in the incident's shape, inside namespaces the test creates:
//! a server that beacons to a victim every 0.3 s and serves 22/80/3306 to a
//! client. hound blocks the victim on the server; the bot's attempts fail,
//! the counter grows, the client is still served, and undo restores it all.

use crate::common::{hound_in, in_case, json_of, ok_result, spawn_in, Reaped};
use hound::host::netns::{unique_tag, veth, Netns};
use serde_json::Value;
use std::process::Output;
use std::time::{Duration, Instant};

const VICTIM: &str = "10.99.1.2";
const SERVER_FOR_CLIENT: &str = "10.99.2.1";

struct Shape {
    server: Netns,
    victim: Netns,
    client: Netns,
    table: String,
    /// Killed on drop.
    children: Vec<Reaped>,
    case: tempfile::TempDir,
}

impl Shape {
    fn build() -> Shape {
        let t = unique_tag();
        let server = Netns::create(&format!("hfs-{t}")).unwrap();
        let victim = Netns::create(&format!("hfv-{t}")).unwrap();
        let client = Netns::create(&format!("hfc-{t}")).unwrap();
        veth(
            &server,
            &format!("fs{t}v"),
            "10.99.1.1/24",
            &victim,
            &format!("fv{t}"),
            "10.99.1.2/24",
        )
        .unwrap();
        veth(
            &server,
            &format!("fs{t}c"),
            "10.99.2.1/24",
            &client,
            &format!("fc{t}"),
            "10.99.2.2/24",
        )
        .unwrap();
        let mut children = vec![spawn_in(&victim, &["nc", "-lk", "80"])];
        for port in ["22", "80", "3306"] {
            children.push(spawn_in(&server, &["nc", "-lk", port]));
        }
        // Someone else's table: must stay byte-identical through everything.
        for cmd in [
            "add table ip keepme",
            "add chain ip keepme c { type filter hook input priority 10 ; policy accept ; }",
            "add rule ip keepme c tcp dport 9999 accept comment \"not hound's\"",
        ] {
            let mut argv = vec!["nft"];
            argv.extend(cmd.split(' '));
            server.exec_ok(&argv).unwrap();
        }
        // A filtering victim port, to tell silence from a local block.
        victim
            .exec_ok(&["nft", "add", "table", "inet", "v"])
            .unwrap();
        victim
            .exec_ok(&[
                "nft",
                "add",
                "chain",
                "inet",
                "v",
                "i",
                "{ type filter hook input priority 0 ; }",
            ])
            .unwrap();
        victim
            .exec_ok(&[
                "nft", "add", "rule", "inet", "v", "i", "tcp", "dport", "82", "drop",
            ])
            .unwrap();
        let shape = Shape {
            server,
            victim,
            client,
            table: format!("ht{t}"),
            children,
            case: tempfile::tempdir().unwrap(),
        };
        shape.wait_listening(&shape.victim, "80");
        for p in ["22", "80", "3306"] {
            shape.wait_listening(&shape.server, p);
        }
        shape
    }

    fn wait_listening(&self, ns: &Netns, port: &str) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            let out = ns
                .exec(&["ss", "-ltnH", &format!("sport = :{port}")])
                .unwrap();
            if !out.stdout.is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nothing listens on {port} in {}", ns.name());
    }

    fn start_bot(&mut self) {
        let bot = format!("while true; do nc -z -w1 {VICTIM} 80; sleep 0.3; done");
        let child = spawn_in(&self.server, &["bash", "-c", &bot]);
        self.children.push(child);
    }

    /// Runs a hound script on the server, as JSON lines.
    fn hound(&self, script: &str, extra: &[&str]) -> Output {
        let (_d, path) = crate::common::script("s.rhai", script);
        hound_in(&self.server)
            .args(["--json", "run"])
            .arg(&path)
            .args(in_case(self.case.path()))
            .args(extra)
            .env("HOUND_FW_TABLE", &self.table)
            .env_remove("SSH_CONNECTION")
            .output()
            .unwrap()
    }

    fn value(&self, script: &str) -> Value {
        eprintln!("script: {script}");
        ok_result(json_of(self.hound(script, &["--allow-destructive"])))
    }

    fn keepme(&self) -> String {
        String::from_utf8(
            self.server
                .exec_ok(&["nft", "list", "table", "ip", "keepme"])
                .unwrap()
                .stdout,
        )
        .unwrap()
    }

    fn reaches(&self, from: &Netns, ip: &str, port: &str) -> bool {
        from.exec(&["nc", "-z", "-w", "2", ip, port])
            .unwrap()
            .status
            .success()
    }

    fn established_to_victim(&self) -> usize {
        let out = self
            .server
            .exec(&["ss", "-tnH", "state", "established", "dst", VICTIM])
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}

#[test]
fn block_stops_the_bot_and_keeps_services() {
    crate::require_root!();
    crate::require_cmd!("nft");
    crate::require_cmd!("nc");
    let mut s = Shape::build();
    let theirs = s.keepme();
    assert!(
        s.reaches(&s.server, VICTIM, "80"),
        "victim reachable before containment"
    );
    s.start_bot();

    let r = s.value(&format!("fw::block(\"{VICTIM}\", #{{ comment: \"bot\" }})"));
    assert_eq!(r["status"], "blocked", "{r}");
    let again = s.value(&format!("fw::block(\"{VICTIM}\")"));
    assert_eq!(
        again["status"], "already_blocked",
        "repeating is a no-op that says so"
    );

    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !s.reaches(&s.server, VICTIM, "80"),
        "victim unreachable after the block"
    );
    assert_eq!(s.established_to_victim(), 0);
    let blocks = s.value("#{ v: fw::blocks() }")["v"].clone();
    let packets = blocks.as_array().unwrap()[0]["packets"].as_u64().unwrap();
    assert!(packets > 0, "the block's counter grows: {blocks}");
    let probe = s.value(&format!("net::probe(\"{VICTIM}\", 80, 1)"));
    assert_eq!(probe["state"], "blocked", "{probe}");
    for port in ["22", "80", "3306"] {
        assert!(
            s.reaches(&s.client, SERVER_FOR_CLIENT, port),
            "client still reaches {port}"
        );
    }
    assert_eq!(s.keepme(), theirs, "someone else's table is untouched");

    let u = s.value(&format!("fw::unblock(\"{VICTIM}\")"));
    assert_eq!(u["status"], "unblocked");
    assert!(s.reaches(&s.server, VICTIM, "80"), "unblock restores");
    s.value(&format!("fw::block(\"{VICTIM}\")"));
    let rb = s.value("fw::rollback()");
    assert_eq!(rb["status"], "rolled_back");
    assert!(s.reaches(&s.server, VICTIM, "80"), "rollback restores");
    assert_eq!(
        s.keepme(),
        theirs,
        "rollback leaves the rest of the ruleset exactly as it was"
    );
    let table = s
        .server
        .exec(&["nft", "list", "table", "inet", &s.table])
        .unwrap();
    assert!(!table.status.success(), "hound's table is gone");

    // Every change was journaled before it happened.
    let journal = std::fs::read_to_string(s.case.path().join("journal.jsonl")).unwrap();
    assert!(
        journal
            .lines()
            .filter(|l| l.contains("\"fw::block\""))
            .count()
            >= 2
    );
    assert!(journal.contains("\"fw::rollback\""));
    // ...and says in words what changed, as the prompt and report do.
    assert!(
        journal.contains(&format!(
            "block outbound traffic to {VICTIM} (nftables table inet {})",
            s.table
        )),
        "{journal}"
    );
}

#[test]
fn ttl_expires_by_itself_and_probe_tells_states_apart() {
    crate::require_root!();
    crate::require_cmd!("nft");
    crate::require_cmd!("nc");
    let s = Shape::build();
    let probe =
        |port: u16| s.value(&format!("net::probe(\"{VICTIM}\", {port}, 1)"))["state"].clone();
    assert_eq!(probe(80), "open");
    assert_eq!(probe(81), "closed");
    assert_eq!(probe(82), "filtered");
    s.value(&format!(
        "fw::block(\"{VICTIM}\", #{{ ttl: 2, proto: \"tcp\", port: 80 }})"
    ));
    assert_eq!(probe(80), "blocked");
    assert_eq!(probe(81), "closed", "a port block leaves other ports alone");
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(
        s.value("#{ v: fw::blocks() }")["v"],
        Value::Array(vec![]),
        "expired"
    );
    assert_eq!(probe(80), "open");
}

#[test]
fn dry_run_and_policy_change_nothing() {
    crate::require_root!();
    crate::require_cmd!("nft");
    let s = Shape::build();
    let before = String::from_utf8(
        s.server
            .exec_ok(&["nft", "list", "ruleset"])
            .unwrap()
            .stdout,
    )
    .unwrap();
    let script = format!("fw::block(\"{VICTIM}\", #{{ direction: \"both\" }})");
    let v = ok_result(json_of(s.hound(&script, &["--dry-run"])));
    assert_eq!(v["status"], "dry_run");
    assert!(
        v["batch"].as_array().is_some_and(|b| !b.is_empty()),
        "dry-run shows the batch: {v}"
    );
    let refused = s.hound(&script, &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--allow-destructive"));
    let after = String::from_utf8(
        s.server
            .exec_ok(&["nft", "list", "ruleset"])
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        before, after,
        "neither dry-run nor a refused run changed the ruleset"
    );
}

#[test]
fn bad_arguments_are_named() {
    let (_d, p) = crate::common::script(
        "b.rhai",
        "let m = [];\nfor a in [\"10.0.0.0/33\", \"nope\"] { try { fw::block(a); } catch (e) { m.push(e.message); } }\ntry { fw::block(\"10.0.0.1\", #{ directon: \"in\" }); } catch (e) { m.push(e.message); }\ntry { fw::block(\"10.0.0.1\", #{ ttl: \"soon\" }); } catch (e) { m.push(e.message); }\ntry { net::probe(\"10.0.0.1\", 70000); } catch (e) { m.push(e.message); }\nm\n",
    );
    let out = crate::common::hound()
        .args(["run", p.to_str().unwrap(), "--json", "--dry-run"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "fw::block: \\\"10.0.0.0/33\\\" is not a valid CIDR",
        "\\\"nope\\\" is not an IP address or CIDR",
        "unknown option \\\"directon\\\"",
        "is not a duration",
        "net::probe: port: 70000 is out of range",
    ] {
        assert!(text.contains(needle), "missing {needle} in {text}");
    }
}

#[test]
fn isolation_keeps_only_the_management_path() {
    crate::require_root!();
    crate::require_cmd!("nft");
    crate::require_cmd!("nc");
    let s = Shape::build();
    let refused = s.hound("fw::isolate(#{})", &["--allow-destructive"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "an empty allow-list would cut everything"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no management address"));
    let r = s.value("fw::isolate(#{ allow: [\"10.99.2.2\"], ports: [22] })");
    assert_eq!(r["status"], "isolated", "{r}");
    assert!(
        s.reaches(&s.client, SERVER_FOR_CLIENT, "22"),
        "management path kept"
    );
    assert!(
        !s.reaches(&s.client, SERVER_FOR_CLIENT, "80"),
        "other services cut"
    );
    assert!(!s.reaches(&s.server, VICTIM, "80"), "outbound cut");
    let u = s.value("fw::unisolate()");
    assert_eq!(u["status"], "lifted");
    assert!(s.reaches(&s.client, SERVER_FOR_CLIENT, "80"));
    assert!(s.reaches(&s.server, VICTIM, "80"));
}
