//! The real binary on a real terminal (tmux): what the screen shows after
//! Ctrl-C, colour tables, `lab exec` handing the terminal to its command.
//! Waits poll the screen with a generous limit; nothing is timed.

use crate::common::{hound, hound_path, script, TestLab};
use hound::host::netns::unique_tag;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own (`-L`), so tests run in parallel; killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `cmd` (a shell command line) in a 120x40 window; the shell
    /// prints `EXIT=<status>` when it ends and keeps the pane open. Job
    /// control is on, as in a user's shell: the command runs in a process
    /// group of its own that owns the terminal until it ends.
    pub fn start(cmd: &str) -> Tmux {
        let t = Tmux {
            socket: format!("hd-{}", unique_tag()),
        };
        let home = std::env::temp_dir().join(&t.socket);
        std::fs::create_dir_all(&home).unwrap();
        let line = format!(
            "set -m; cd {home} && env -u NO_COLOR -u HOUND_CASE HOME={home} XDG_DATA_HOME={home} HOUND_CASES={home}/cases {cmd}; echo EXIT=$?; sleep 600",
            home = home.display()
        );
        let ok = Command::new("tmux")
            .args(["-L", &t.socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", "120", "-y", "40", "sh", "-c", &line])
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux did not start");
        t
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text`; panics with the screen if it
    /// does not within a minute (a hang, not a slow machine).
    pub fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(60) {
                panic!("{text:?} never appeared; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// tmux key names: `C-c`, `Enter`, or literal text.
    pub fn keys(&self, keys: &[&str]) {
        Command::new("tmux")
            .args(["-L", &self.socket, "send-keys"])
            .args(keys)
            .status()
            .unwrap();
    }

    /// Types a line and presses Enter.
    pub fn line(&self, text: &str) {
        // tmux reads a trailing `;` as a command separator unless escaped.
        let text = match text.strip_suffix(';') {
            Some(t) => format!("{t}\\;"),
            None => text.to_string(),
        };
        Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-l", &text])
            .status()
            .unwrap();
        self.keys(&["Enter"]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(&self.socket));
    }
}

fn hound_cmd(args: &str) -> String {
    format!("{} {args}", hound_path().display())
}

#[test]
fn ctrl_c_in_run_exits_130_and_clears_the_progress_bar() {
    crate::require_cmd!("tmux");
    // A connect scan of loopback addresses: long enough to be interrupted.
    let (_d, p) = script(
        "scan.rhai",
        "let r = scan::ports(\"127.0.0.0/28\", \"1-65535\", #{ method: \"connect\" });\nprint(\"after the scan\");\n",
    );
    let t = Tmux::start(&hound_cmd(&format!("run {}", p.display())));
    t.wait_for("scan::ports [");
    t.keys(&["C-c"]);
    let s = t.wait_for("EXIT=");
    assert!(s.contains("EXIT=130"), "{s}");
    assert!(s.contains("cancelled"), "{s}");
    assert!(!s.contains("after the scan"), "the script went on: {s}");
    assert!(!s.contains("scan::ports ["), "a stale progress bar: {s}");
    assert!(!s.contains("^C"), "{s}");
}

#[test]
fn colour_tables_line_up_on_a_terminal() {
    crate::require_cmd!("tmux");
    let (_d, p) = script(
        "rows.rhai",
        "let long = \"\"; for i in 0..90 { long += \"x \"; }\nfor i in 0..3 { emit(#{ pid: i * 1000, name: `proc${i}`, cmdline: long }); }\n",
    );
    let t = Tmux::start(&hound_cmd(&format!("run {}", p.display())));
    let s = t.wait_for("EXIT=");
    let colour = Command::new("tmux")
        .args(["-L", &t.socket, "capture-pane", "-p", "-e"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&colour.stdout).contains("\u{1b}["),
        "colour is on"
    );
    assert!(!s.contains("0m") && !s.contains("39m"), "{s}");
    let widths: Vec<usize> = s
        .lines()
        .filter(|l| l.starts_with(['│', '┌', '├', '└', '╞']))
        .map(|l| l.trim_end().chars().count())
        .collect();
    assert!(
        widths.len() > 4 && widths.iter().all(|w| *w == widths[0]),
        "{s}"
    );
    assert!(
        s.contains("│ pid  ┆ name  ┆ cmdline "),
        "header cells padded: {s}"
    );
}

#[test]
fn lab_exec_hands_the_terminal_and_its_status_to_the_command() {
    crate::require_root!();
    crate::require_cmd!("tmux");
    crate::require_cmd!("nsenter");
    let lab = TestLab::up("u", &[]);
    // The command's exit status is lab exec's.
    let code = hound()
        .args([
            "lab", "exec", "--name", &lab.name, "server", "--", "sh", "-c", "exit 7",
        ])
        .output()
        .unwrap()
        .status
        .code();
    assert_eq!(code, Some(7));
    // The REPL on a lab host: Ctrl-C cancels its call and the session lives on.
    let t = Tmux::start(&hound_cmd(&format!(
        "lab exec --name {} server -- hound",
        lab.name
    )));
    t.wait_for("hound> ");
    t.line("let kept = 41; kept + 100");
    t.wait_for("141");
    t.line("sleep(30)");
    t.wait_for("sleep(30)");
    std::thread::sleep(Duration::from_millis(500));
    t.keys(&["C-c"]);
    t.wait_for("cancelled");
    t.line("kept + 1");
    t.wait_for("42");
    t.line(":quit");
    let s = t.wait_for("EXIT=");
    assert!(s.contains("EXIT=0"), "{s}");
}
