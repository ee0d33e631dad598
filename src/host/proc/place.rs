//! Where a process lives: its cgroup, its namespaces, and the container the
//! cgroup path names (docker, podman, containerd, CRI-O, Kubernetes pods,
//! LXC, systemd-nspawn/machined), so a finding can say "in container X".

use serde::Serialize;
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;

/// The container a process runs in, as its cgroup path names it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Container {
    /// `docker`, `podman`, `containerd`, `cri-o`, `kubernetes`, `lxc`, `nspawn`, `machine`.
    pub runtime: String,
    /// The container id (64 hex digits for OCI runtimes) or name (LXC, nspawn).
    pub id: String,
    /// The Kubernetes pod uid, when the cgroup is under kubepods.
    pub pod: Option<String>,
}

/// The process's cgroup path: the cgroup v2 one, or on a v1-only host the
/// most telling v1 hierarchy (`name=systemd`, else the first not at `/`).
pub fn cgroup(pid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    cgroup_from(&text)
}

pub fn cgroup_from(text: &str) -> Option<String> {
    let mut lines: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (_, ctrl, path) = (it.next()?, it.next()?, it.next()?);
            Some((ctrl, path))
        })
        .collect();
    if let Some((_, p)) = lines.iter().find(|(c, p)| c.is_empty() && *p != "/") {
        return Some(p.to_string());
    }
    lines.sort_by_key(|(c, _)| *c != "name=systemd");
    lines
        .iter()
        .find(|(_, p)| *p != "/")
        .or(lines.first())
        .map(|(_, p)| p.to_string())
}

fn hex_id(s: &str) -> bool {
    s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container a cgroup path names; the innermost one when they nest.
pub fn container_of(path: &str) -> Option<Container> {
    let mut found: Option<Container> = None;
    let mut pod = None;
    let mut prev = "";
    let c = |runtime: &str, id: &str| {
        Some(Container {
            runtime: runtime.into(),
            id: id.into(),
            pod: None,
        })
    };
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        let scope = seg
            .strip_suffix(".scope")
            .or_else(|| seg.strip_suffix(".service"))
            .unwrap_or(seg);
        let hit = if let Some(p) = seg
            .strip_prefix("kubepods")
            .and_then(|s| s.rsplit_once("pod"))
        {
            pod = Some(p.1.trim_end_matches(".slice").replace('_', "-"));
            None
        } else if let Some(p) = seg.strip_prefix("pod").filter(|_| {
            prev.starts_with("kube")
                || prev == "besteffort"
                || prev == "burstable"
                || prev == "guaranteed"
        }) {
            pod = Some(p.to_string());
            None
        } else if let Some(id) = scope.strip_prefix("docker-").filter(|i| hex_id(i)) {
            c("docker", id)
        } else if let Some(id) = scope.strip_prefix("libpod-").filter(|i| hex_id(i)) {
            c("podman", id)
        } else if let Some(id) = scope.strip_prefix("cri-containerd-").filter(|i| hex_id(i)) {
            c("containerd", id)
        } else if let Some(id) = scope.strip_prefix("crio-").filter(|i| hex_id(i)) {
            c("cri-o", id)
        } else if let Some(name) = seg.strip_prefix("lxc.payload.") {
            c("lxc", name)
        } else if prev == "lxc" && !seg.starts_with("lxc.") {
            c("lxc", seg)
        } else if let Some(name) = scope.strip_prefix("systemd-nspawn@") {
            c("nspawn", name)
        } else if let Some(name) = scope
            .strip_prefix("machine-")
            .filter(|_| prev == "machine.slice")
        {
            c("machine", &name.replace("\\x2d", "-"))
        } else if hex_id(seg) && seg.len() == 64 {
            match prev {
                "docker" => c("docker", seg),
                "libpod_parent" => c("podman", seg),
                _ if pod.is_some() => c("kubernetes", seg),
                _ => None,
            }
        } else {
            None
        };
        if hit.is_some() {
            found = hit;
        }
        prev = seg;
    }
    if let Some(f) = found.as_mut() {
        f.pod = pod;
    }
    found
}

const NS: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// Namespace inode numbers by name (`net: 4026531840`); equal numbers mean
/// the same namespace. Unreadable ones (another user's process) are left out.
pub fn namespaces(pid: i32) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for ns in NS {
        let Ok(l) = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")) else {
            continue;
        };
        let b = l.as_os_str().as_bytes();
        let ino = b
            .iter()
            .position(|&c| c == b'[')
            .and_then(|i| std::str::from_utf8(&b[i + 1..b.len().saturating_sub(1)]).ok())
            .and_then(|s| s.parse().ok());
        if let Some(ino) = ino {
            out.insert(ns.to_string(), ino);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c2e3d4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

    fn rt(path: &str) -> Option<(String, String, Option<String>)> {
        container_of(path).map(|c| (c.runtime, c.id, c.pod))
    }

    #[test]
    fn runtimes_from_cgroup_paths() {
        let s = |x: &str| x.to_string();
        assert_eq!(
            rt(&format!("/system.slice/docker-{ID}.scope")),
            Some((s("docker"), s(ID), None))
        );
        assert_eq!(
            rt(&format!("/docker/{ID}")),
            Some((s("docker"), s(ID), None))
        );
        assert_eq!(rt(&format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container")).unwrap().0, "podman");
        assert_eq!(
            rt(&format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b_3c4d.slice/cri-containerd-{ID}.scope")),
            Some((s("containerd"), s(ID), Some(s("1a2b-3c4d"))))
        );
        assert_eq!(
            rt(&format!("/kubepods/besteffort/pod1a2b-3c4d/{ID}")),
            Some((s("kubernetes"), s(ID), Some(s("1a2b-3c4d"))))
        );
        assert_eq!(
            rt(&format!(
                "/kubepods.slice/kubepods-pod9.slice/crio-{ID}.scope"
            ))
            .unwrap()
            .0,
            "cri-o"
        );
        assert_eq!(
            rt("/lxc.payload.web1/system.slice/ssh.service"),
            Some((s("lxc"), s("web1"), None))
        );
        assert_eq!(rt("/lxc/web2"), Some((s("lxc"), s("web2"), None)));
        assert_eq!(
            rt("/machine.slice/systemd-nspawn@deb.service/payload")
                .unwrap()
                .1,
            "deb"
        );
        assert_eq!(
            rt("/machine.slice/machine-qemu\\x2d1\\x2dvm.scope")
                .unwrap()
                .1,
            "qemu-1-vm"
        );
        assert_eq!(rt("/user.slice/user-1000.slice/session-3.scope"), None);
        assert_eq!(rt("/system.slice/ssh.service"), None);
        assert_eq!(rt("/"), None);
    }

    #[test]
    fn cgroup_v2_then_v1() {
        assert_eq!(
            cgroup_from("0::/system.slice/ssh.service\n").as_deref(),
            Some("/system.slice/ssh.service")
        );
        let v1 = "9:name=systemd:/docker/abc\n4:memory:/x\n0::/\n";
        assert_eq!(cgroup_from(v1).as_deref(), Some("/docker/abc"));
        assert_eq!(cgroup_from("0::/\n").as_deref(), Some("/"));
    }

    #[test]
    fn own_namespaces() {
        let me = namespaces(std::process::id() as i32);
        assert!(me.contains_key("net") && me.contains_key("mnt"), "{me:?}");
    }
}
