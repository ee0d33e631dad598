//! The incident as it happened (docs/lab.md, /work/shared/incident.md).

use super::{Innocent, Malicious, Proc, Scenario, Step, INIT};
use crate::host::lab::topology::{BOT, BOT_PATH, ORIGINAL_HOSTS, ORIGINAL_SEGMENTS};

pub(super) static SCENARIO: Scenario = Scenario {
    name: "original",
    summary: "the incident as it happened: a shell loop in /tmp starts nc against 10.0.0.196:80 every 2 s",
    story: "An outside company reports attacks on 10.0.0.196 from this network. server01 \
            (172.20.0.10) runs `bash /tmp/bot.sh`, a loop that starts `nc -zv 10.0.0.196 80` \
            every two seconds. No persistence.",
    compromised: "server",
    victim: "10.0.0.196",
    victim_port: 80,
    services: &["172.20.0.10:22", "172.20.0.10:80", "172.20.0.10:3306"],
    malicious: Malicious {
        processes: &[Proc {
            what: "the bot loop",
            pattern: BOT_PATH,
        }],
        files: &[BOT_PATH],
        persistence: &[],
        approval: &[],
    },
    innocent: Innocent {
        processes: &[
            INIT,
            Proc {
                what: "ssh, Apache and MariaDB",
                pattern: "lab serve --role server",
            },
        ],
        files: &["/etc/passwd"],
        flows: &[],
    },
    segments: ORIGINAL_SEGMENTS,
    hosts: ORIGINAL_HOSTS,
    steps: &[
        Step::Write {
            path: BOT_PATH,
            content: BOT,
            mode: 0o755,
            owner: "root:root",
        },
        Step::Start {
            argv: &["bash", BOT_PATH],
            user: None,
        },
        Step::WaitProc(BOT_PATH),
    ],
};
