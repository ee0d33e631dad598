//! Process records name their cgroup, container and namespaces: a process
//! the test puts in a docker-style cgroup and a network namespace of its own.

use crate::common::{result_of, script_json, NO_ARGS};
use crate::require_root;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

const ID: &str = "4f1c2e3d4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// A cgroup made for the test, removed (after its process) on drop.
struct Cg {
    dirs: Vec<PathBuf>,
    child: Child,
}

impl Drop for Cg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for d in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// A writable hierarchy: the cgroup v2 root, or v1's name=systemd one.
fn hierarchy() -> Option<PathBuf> {
    let v2 = Path::new("/sys/fs/cgroup");
    if v2.join("cgroup.controllers").exists() {
        return Some(v2.to_path_buf());
    }
    let v1 = v2.join("systemd");
    v1.join("cgroup.procs").exists().then_some(v1)
}

#[test]
fn process_in_a_docker_cgroup_and_its_own_netns() {
    require_root!();
    let Some(base) = hierarchy() else {
        eprintln!("SKIP: no writable cgroup hierarchy");
        return;
    };
    let top = base.join(format!("hound-{}", hound::host::netns::unique_tag()));
    let scope = top.join(format!("docker-{ID}.scope"));
    std::fs::create_dir_all(&scope).unwrap();
    let child = Command::new("unshare")
        .args(["-n", "sleep", "60"])
        .spawn()
        .unwrap();
    let pid = child.id();
    let cg = Cg {
        dirs: vec![top.clone(), scope.clone()],
        child,
    };
    // unshare execs sleep in the same pid; wait until it has.
    for _ in 0..100 {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        if exe.to_string_lossy().contains("sleep") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::write(scope.join("cgroup.procs"), pid.to_string()).unwrap();
    let v = result_of(&script_json(&format!(
        "import \"hound/linux\" as l; let p = proc::get({pid}); let me = proc::get(hound_self().pid); \
         let ls = proc::list().filter(|x| x.pid == {pid}); \
         #{{ cgroup: p.cgroup, container: p.container, net: p.namespaces.net, my_net: me.namespaces.net, \
            mnt: p.namespaces.mnt, my_mnt: me.namespaces.mnt, in_list: ls[0].container, list_ns: ls[0].namespaces, lives: l::lives({pid}) }}"
        ),
        NO_ARGS,
    )
    .1);
    assert!(
        v["cgroup"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/docker-{ID}.scope")),
        "{v}"
    );
    assert_eq!(v["container"]["runtime"], "docker", "{v}");
    assert_eq!(v["container"]["id"], ID, "{v}");
    assert_eq!(v["in_list"]["id"], ID, "proc::list names it too: {v}");
    assert_eq!(v["list_ns"]["net"], v["net"], "{v}");
    assert_eq!(
        v["lives"],
        format!(" [docker {}]", &ID[..12]),
        "a finding's text: {v}"
    );
    assert!(
        v["net"].as_u64().is_some() && v["net"] != v["my_net"],
        "own netns: {v}"
    );
    assert_eq!(v["mnt"], v["my_mnt"], "{v}");
    drop(cg);
}
