//! A beacon whose parent is an innocent long-running admin script, next
//! to a legitimate periodic job that talks to an internal host.

use super::{Innocent, Malicious, Proc, Scenario, Step, INIT};
use crate::host::lab::topology::{Host, Segment};

pub(super) static SCENARIO: Scenario = Scenario {
    name: "admin-parent",
    summary: "a beacon in /tmp/.ICE-unix whose parent is the legitimate backup loop /usr/local/sbin/backup-loop.sh, which keeps pushing backups to the NAS",
    story: "On the file server files (10.20.30.40), /usr/local/sbin/backup-loop.sh pushes a \
            manifest to the NAS (10.20.30.50:873) every 3 s and runs one-off jobs queued in \
            /var/spool/backup-queue. The attacker queued a job that started \
            /tmp/.ICE-unix/ice-sync, a loop running `nc -z 203.0.113.45 8443` every 3 s, so \
            the beacon's parent is the backup loop. The loop and its NAS traffic are innocent.",
    compromised: "files",
    victim: "203.0.113.45",
    victim_port: 8443,
    services: &["10.20.30.40:22", "10.20.30.40:445"],
    malicious: Malicious {
        processes: &[Proc {
            what: "the beacon loop, child of the backup loop",
            pattern: "/tmp/.ICE-unix/ice-sync",
        }],
        files: &["/tmp/.ICE-unix/ice-sync"],
        persistence: &[],
        approval: &[],
    },
    innocent: Innocent {
        processes: &[
            INIT,
            Proc {
                what: "the backup loop",
                pattern: "/usr/local/sbin/backup-loop.sh",
            },
            Proc {
                what: "sshd and smbd",
                pattern: "lab serve --role files",
            },
        ],
        files: &[
            "/usr/local/sbin/backup-loop.sh",
            "/etc/default/backup-loop",
            "/var/backups/data/shares.conf",
        ],
        flows: &["10.20.30.50:873"],
    },
    segments: &[
        Segment {
            name: "corp",
            router_addr: "10.20.30.1/24",
            router_mac: "00:16:3e:14:1e:01",
        },
        Segment {
            name: "internet",
            router_addr: "203.0.113.1/24",
            router_mac: "00:16:3e:cb:71:01",
        },
    ],
    hosts: &[
        Host {
            name: "analyst",
            segment: Some("corp"),
            addr: "10.20.30.100/24",
            mac: "00:16:3e:14:1e:64",
            serve: None,
            what: "the responder's seat",
        },
        Host {
            name: "files",
            segment: Some("corp"),
            addr: "10.20.30.40/24",
            mac: "00:16:3e:14:1e:28",
            serve: Some("files"),
            what: "file server: ssh 22, smb 445, the backup loop; runs the beacon",
        },
        Host {
            name: "nas",
            segment: Some("corp"),
            addr: "10.20.30.50/24",
            mac: "00:16:3e:14:1e:32",
            serve: Some("nas"),
            what: "the backup NAS (rsync 873), logs each push in /var/log/rsyncd.log",
        },
        Host {
            name: "relay",
            segment: Some("internet"),
            addr: "203.0.113.45/24",
            mac: "00:16:3e:cb:71:2d",
            serve: Some("relay"),
            what: "the attacker's relay (8443)",
        },
    ],
    steps: &[
        Step::Write {
            path: "/etc/default/backup-loop",
            content: "# where backup-loop.sh pushes, and how often\nNAS=10.20.30.50\nNAS_PORT=873\nINTERVAL=3\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: "/var/backups/data/shares.conf",
            content: "[public]\npath = /srv/public\nread only = yes\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: "/usr/local/sbin/backup-loop.sh",
            content: AP_LOOP,
            mode: 0o755,
            owner: "root:root",
        },
        Step::Write {
            path: "/tmp/.ICE-unix/ice-sync",
            content: "#!/bin/sh\n# ICE session sync\nwhile :; do nc -z -w 2 203.0.113.45 8443; sleep 3; done\n",
            mode: 0o755,
            owner: "root:root",
        },
        Step::Run(&["chmod", "1777", "/tmp/.ICE-unix"]),
        Step::Write {
            path: "/var/spool/backup-queue/0001.job",
            content: "/tmp/.ICE-unix/ice-sync >/dev/null 2>&1 &\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Start {
            argv: &["/bin/bash", "/usr/local/sbin/backup-loop.sh"],
            user: None,
        },
        Step::WaitProc("/tmp/.ICE-unix/ice-sync"),
        Step::WaitGone("/var/spool/backup-queue/0001.job"),
    ],
};

const AP_LOOP: &str = r#"#!/bin/bash
# backup-loop: pushes the data manifest to the NAS every few seconds and
# runs one-off jobs (restores, re-indexing) queued by the admins' tools.
. /etc/default/backup-loop
mkdir -p /var/spool/backup-queue
while true; do
    for job in /var/spool/backup-queue/*.job; do
        [ -e "$job" ] || continue
        . "$job"
        rm -f "$job"
    done
    find /var/backups/data -type f | sort > /var/backups/manifest
    cat /var/backups/manifest 2>/dev/null > "/dev/tcp/$NAS/$NAS_PORT"
    sleep "$INTERVAL"
done
"#;
