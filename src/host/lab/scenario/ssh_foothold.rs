//! An attacker's SSH session as an ordinary user: a key added among the
//! user's own, a beacon under ~/.local/share started with nohup and setsid
//! (its session long closed), an @reboot line in the user's crontab; next
//! to the admin's own SSH session running a similar tool.

use super::{Entry, Innocent, Malicious, Proc, Scenario, Step, INIT};
use crate::host::lab::topology::{Host, Segment};

pub(super) static SCENARIO: Scenario = Scenario {
    name: "ssh-foothold",
    summary: "an attacker logged in over SSH as the user mara, added a key, started a beacon from ~/.local/share with nohup setsid and an @reboot crontab line; the admin's own SSH session runs nc to the NAS",
    story: "On the build host build (10.62.0.30) the attacker logged in as mara with a phished \
            password from 198.19.44.66, added a key (comment mara@build-07) to \
            /home/mara/.ssh/authorized_keys among mara's own and the CI deploy key, logged in \
            again with it, started /home/mara/.local/share/tracker3/tracker-sync (nc -z \
            198.19.44.9 8443 every 3 s) with nohup setsid, added an @reboot line to mara's \
            crontab and logged out: the beacon's parent is init. /var/log/auth.log holds the \
            logins. The admin (root, from 10.62.0.100) is logged in over SSH, running \
            /root/bin/check-nas.sh (`nc -z` against the NAS 10.62.0.50:873 every 2 s); mara's other cron lines and \
            keys are hers.",
    compromised: "build",
    victim: "198.19.44.9",
    victim_port: 8443,
    services: &["10.62.0.30:22", "10.62.0.30:8081"],
    malicious: Malicious {
        processes: &[Proc {
            what: "the beacon, a daemon since its SSH session closed",
            pattern: SF_BEACON,
        }],
        files: &[SF_BEACON],
        persistence: &[Entry {
            what: "the @reboot line in mara's crontab",
            path: "/var/spool/cron/crontabs/mara",
            line: Some(SF_CRON_LINE),
        }],
        approval: &[Entry {
            what: "the key the attacker added for mara",
            path: "/home/mara/.ssh/authorized_keys",
            line: Some(SF_BAD_KEY),
        }],
    },
    innocent: Innocent {
        processes: &[
            INIT,
            Proc {
                what: "sshd and Jenkins",
                pattern: "lab serve --role ci",
            },
            Proc {
                what: "the admin's SSH session",
                pattern: "sshd: root@pts/1",
            },
            Proc {
                what: "the admin's login shell",
                pattern: "-bash --noprofile --norc",
            },
            Proc {
                what: "the admin's script in that shell, running nc against the NAS",
                pattern: "/root/bin/check-nas.sh",
            },
        ],
        files: &[
            "/root/bin/check-nas.sh",
            "/home/mara/bin/sync-notes.sh",
            "/etc/passwd",
            "/var/log/auth.log",
        ],
        flows: &["10.62.0.50:873"],
    },
    segments: &[
        Segment {
            name: "lan",
            router_addr: "10.62.0.1/24",
            router_mac: "52:54:00:3e:00:01",
        },
        Segment {
            name: "internet",
            router_addr: "198.19.44.1/24",
            router_mac: "52:54:00:c7:2c:01",
        },
    ],
    hosts: &[
        Host {
            name: "analyst",
            segment: Some("lan"),
            addr: "10.62.0.100/24",
            mac: "52:54:00:3e:00:64",
            serve: None,
            what: "the responder's seat (the admin's SSH session comes from here)",
        },
        Host {
            name: "build",
            segment: Some("lan"),
            addr: "10.62.0.30/24",
            mac: "52:54:00:3e:00:1e",
            serve: Some("ci"),
            what: "build host: ssh 22, http 8081 (Jenkins); runs the beacon",
        },
        Host {
            name: "nas",
            segment: Some("lan"),
            addr: "10.62.0.50/24",
            mac: "52:54:00:3e:00:32",
            serve: Some("nas"),
            what: "the NAS (rsync 873), logs each connection in /var/log/rsyncd.log",
        },
        Host {
            name: "beacon",
            segment: Some("internet"),
            addr: "198.19.44.9/24",
            mac: "52:54:00:c7:2c:09",
            serve: Some("relay"),
            what: "the attacker's check-in point (8443)",
        },
        Host {
            name: "attacker",
            segment: Some("internet"),
            addr: "198.19.44.66/24",
            mac: "52:54:00:c7:2c:42",
            serve: None,
            what: "where the attacker's SSH logins came from",
        },
    ],
    steps: &[
        Step::Append {
            path: "/etc/passwd",
            content: "mara:x:1003:1003:Mara Lind:/home/mara:/bin/bash\n",
        },
        Step::Append {
            path: "/etc/group",
            content: "mara:x:1003:\n",
        },
        Step::Write {
            path: "/home/mara/bin/sync-notes.sh",
            content: "#!/bin/sh\n# push my notes to the team repository\ncd /home/mara/notes 2>/dev/null && git commit -qam sync && git push -q\n",
            mode: 0o755,
            owner: "1003:1003",
        },
        Step::Write {
            path: "/home/mara/.ssh/authorized_keys",
            content: SF_KEYS,
            mode: 0o600,
            owner: "1003:1003",
        },
        Step::Write {
            path: SF_BEACON,
            content: "#!/bin/bash\n# tracker-sync: keeps the search index in sync\nwhile :; do\n    nc -z -w 2 198.19.44.9 8443 >/dev/null 2>&1\n    sleep 3\ndone\n",
            mode: 0o755,
            owner: "1003:1003",
        },
        Step::Write {
            path: "/var/spool/cron/crontabs/mara",
            content: SF_CRONTAB,
            mode: 0o600,
            owner: "1003:1003",
        },
        Step::Run(&[
            "chown",
            "1003:1003",
            "/home/mara",
            "/home/mara/bin",
            "/home/mara/.ssh",
            "/home/mara/.local",
            "/home/mara/.local/share",
            "/home/mara/.local/share/tracker3",
        ]),
        Step::Write {
            path: "/var/log/auth.log",
            content: SF_AUTH_LOG,
            mode: 0o640,
            owner: "root:adm",
        },
        Step::Write {
            path: "/root/bin/check-nas.sh",
            content: "#!/bin/bash\n# is the NAS's rsync daemon answering? (while the backup job is being fixed)\nwhile sleep 2; do\n    nc -z -w 2 10.62.0.50 873 || echo \"$(date) NAS down\"\ndone\n",
            mode: 0o755,
            owner: "root:root",
        },
        // The lab runs no sshd: the admin's session is a stand-in named
        // sshd (a copy of bash) above a login shell, with the environment
        // sshd gives a session.
        Step::Run(&["cp", "/bin/bash", "/usr/local/sbin/sshd"]),
        Step::Start {
            argv: &[
                "/usr/bin/env",
                "-i",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME=/root",
                "USER=root",
                "LOGNAME=root",
                "SHELL=/bin/bash",
                "SSH_CONNECTION=10.62.0.100 52144 10.62.0.30 22",
                "SSH_CLIENT=10.62.0.100 52144 22",
                "SSH_TTY=/dev/pts/1",
                // What the admin typed, read by the login shell as from
                // the terminal.
                "TYPED=/root/bin/check-nas.sh",
                "/bin/bash",
                "-c",
                "exec -a 'sshd: root@pts/1' /usr/local/sbin/sshd -c '(exec -a -bash /bin/bash --noprofile --norc) <<<\"$TYPED\"; exit'",
            ],
            user: None,
        },
        // The attacker's second session (with the added key): the beacon
        // detached with nohup and setsid, then the session ended.
        Step::Start {
            argv: &[
                "/usr/bin/env",
                "-i",
                "PATH=/usr/local/bin:/usr/bin:/bin",
                "HOME=/home/mara",
                "USER=mara",
                "LOGNAME=mara",
                "SHELL=/bin/bash",
                "SSH_CONNECTION=198.19.44.66 61040 10.62.0.30 22",
                "SSH_CLIENT=198.19.44.66 61040 22",
                "/bin/bash",
                "-c",
                "cd /home/mara; nohup setsid /home/mara/.local/share/tracker3/tracker-sync >/dev/null 2>&1 &",
            ],
            user: Some("1003:1003"),
        },
        Step::WaitProc("/root/bin/check-nas.sh"),
        Step::WaitProc(SF_BEACON),
    ],
};

const SF_BEACON: &str = "/home/mara/.local/share/tracker3/tracker-sync";
const SF_CRON_LINE: &str = "@reboot /home/mara/.local/share/tracker3/tracker-sync >/dev/null 2>&1";
const SF_CRONTAB: &str = concat!(
    "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n",
    "# (/tmp/crontab.q8W2lc installed on Sun Nov 29 02:16:31 2026)\n",
    "# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\n",
    "# m h  dom mon dow   command\n",
    "*/30 * * * * /home/mara/bin/sync-notes.sh >/dev/null 2>&1\n",
    "0 8 * * 1-5 /usr/bin/git -C /home/mara/notes pull -q\n",
    "@reboot /home/mara/.local/share/tracker3/tracker-sync >/dev/null 2>&1\n",
);
const SF_BAD_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIHlJ9u5O0Dl/jxbS291dh2//qQfuS3P6qy2MeqzzDcn mara@build-07";
const SF_KEYS: &str = concat!(
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPqOj0LR50UyZKYEcHfvrMLVGTlphoUGOwXpmKseaNsM mara@mara-thinkpad\n",
    "from=\"10.62.0.7\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ7gPboKJ/ui+eSKLP3Kjh8h28u/N8R8OB11VvmPeWB deploy@gitlab-runner\n",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIHlJ9u5O0Dl/jxbS291dh2//qQfuS3P6qy2MeqzzDcn mara@build-07\n",
);
/// What sshd logged: mara from her laptop, the CI runner with its deploy
/// key, the attacker's password login then key login, the admin.
const SF_AUTH_LOG: &str = concat!(
    "Nov 28 08:02:11 build sshd[811]: Accepted publickey for mara from 10.62.0.41 port 51514 ssh2: ED25519 SHA256:Rnfz5QB2REiMK+6gFqOqrzgt8o91o8mPn4bUMW2JhDQ\n",
    "Nov 28 08:02:11 build sshd[811]: pam_unix(sshd:session): session opened for user mara(uid=1003) by (uid=0)\n",
    "Nov 28 09:30:02 build sshd[902]: Accepted publickey for mara from 10.62.0.7 port 40022 ssh2: ED25519 SHA256:fLyk16mvCi2VIC96oPIplxSKzOYX71uLHtAW4k+bhd8\n",
    "Nov 28 17:45:40 build sshd[811]: pam_unix(sshd:session): session closed for user mara\n",
    "Nov 29 02:13:40 build sshd[1411]: Accepted password for mara from 198.19.44.66 port 61022 ssh2\n",
    "Nov 29 02:13:40 build sshd[1411]: pam_unix(sshd:session): session opened for user mara(uid=1003) by (uid=0)\n",
    "Nov 29 02:14:52 build sshd[1411]: pam_unix(sshd:session): session closed for user mara\n",
    "Nov 29 02:15:03 build sshd[1440]: Accepted publickey for mara from 198.19.44.66 port 61040 ssh2: ED25519 SHA256:4H+0Hi5cMiQWLzRS4dnAMmeOx/JJra3EeRKV5uyiT/4\n",
    "Nov 29 02:15:03 build sshd[1440]: pam_unix(sshd:session): session opened for user mara(uid=1003) by (uid=0)\n",
    "Nov 29 02:16:40 build sshd[1440]: pam_unix(sshd:session): session closed for user mara\n",
    "Nov 30 19:58:21 build sshd[2210]: Accepted publickey for root from 10.62.0.100 port 52144 ssh2: ED25519 SHA256:Tq0sM3l6Zt0o0rB4jq9dD1x2kQ4mV8pW6yN5cE7aH1g\n",
    "Nov 30 19:58:21 build sshd[2210]: pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)\n",
);
