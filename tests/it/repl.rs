//! The real REPL in a pseudo-terminal: completion, multi-line input,
//! session variables, Ctrl-C that keeps the session, errors, commands.

use rexpect::session::PtySession;
use std::process::Command;

/// A REPL with its own history folder and no colours; generous timeouts,
/// since they are waits, not speed assertions.
fn repl() -> (PtySession, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let mut c = Command::new(crate::common::hound_path());
    c.arg("repl")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env_remove("HOUND_CASE")
        .env("HOUND_CASES", crate::common::test_case_base());
    let mut p = rexpect::session::spawn_command(c, Some(20_000)).unwrap();
    p.exp_string("hound> ").unwrap();
    (p, home)
}

/// Sends a line and waits for the next prompt (rustyline turns bracketed
/// paste on once per read; redraws while typing repeat only the prompt).
/// Returns what the line printed.
fn line(p: &mut PtySession, input: &str) -> String {
    p.send_line(input).unwrap();
    p.exp_string("\u{1b}[?2004h").unwrap()
}

#[test]
fn completion_multiline_variables_and_errors() {
    let (mut p, home) = repl();
    // Tab completes a primitive from its family.
    p.send("proc::li").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("proc::list").unwrap();
    assert!(line(&mut p, "().len() > 0").contains("true"));
    // A multi-line function (the open brace continues the input, with a
    // continuation prompt), then a call.
    line(&mut p, "fn twice(x) {");
    p.exp_string("...> ").unwrap();
    line(&mut p, "  x * 2");
    line(&mut p, "}");
    let out = line(&mut p, "twice(21)");
    assert!(out.contains("42"), "{out:?}");
    // A variable defined on one line is there on the next.
    line(&mut p, "let seen = 7;");
    assert!(line(&mut p, "seen + 1").contains('8'));
    // The last result is `last`.
    assert!(line(&mut p, "last * 10").contains("80"));
    // An error shows its position, and the session goes on.
    let err = line(&mut p, "fs::stat(\"/nonexistent/x\")");
    assert!(
        err.contains("error[not_found]: fs::stat") && err.contains("<input 7>:1:1"),
        "{err}"
    );
    assert!(line(&mut p, "seen").contains('7'));
    // History is kept in the user's data folder.
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
    let history = std::fs::read_to_string(home.path().join("hound/history")).unwrap();
    assert!(history.contains("twice(21)"));
}

#[test]
fn ctrl_c_cancels_a_call_and_keeps_the_session() {
    let (mut p, _home) = repl();
    line(&mut p, "let kept = \"still here\";");
    p.send_line("sleep(60)").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    p.send_control('c').unwrap();
    p.exp_string("cancelled").unwrap();
    p.exp_string("\u{1b}[?2004h").unwrap();
    assert!(line(&mut p, "kept").contains("still here"));
    // Ctrl-C on an empty line does not leave; Ctrl-D does.
    p.send_control('c').unwrap();
    p.exp_string("Ctrl-D or :quit").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn commands_doc_dry_run_and_vars() {
    let (mut p, _home) = repl();
    assert!(line(&mut p, ":doc sleep").contains("sleep(duration"));
    assert!(
        line(&mut p, ":dry-run on").contains("dry-run on: destructive primitives only describe")
    );
    assert!(line(&mut p, "dry_run()").contains("true"));
    line(&mut p, "let target = \"10.0.0.196\";");
    assert!(line(&mut p, ":vars").contains("target"));
    assert!(line(&mut p, ":run hello who=tester").contains("hello, tester"));
    assert!(line(&mut p, ":nope").contains("unknown command"));
    assert!(line(&mut p, ":help").contains("First five things"));
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
}

/// On a real terminal (tmux): Tab lists candidates with signatures, an error
/// inside a function typed earlier shows that line, and Ctrl-C during a scan
/// leaves no stale progress bar.
#[test]
fn listing_errors_and_progress_on_a_terminal() {
    crate::require_cmd!("tmux");
    let hound = crate::common::hound_path();
    let t = crate::terminal::Tmux::start(&hound.display().to_string());
    t.wait_for("hound> ");
    t.keys(&["fw::b", "Tab", "Tab"]);
    t.wait_for("block(target: string|array) -> map  Blocks an address");
    t.wait_for("blocks() -> array");
    t.keys(&["C-u"]);
    t.line("fn h() {");
    t.wait_for("  ...> ");
    t.line("  let y = [1];");
    t.line("  y[5] + 1");
    t.line("}");
    t.line("h()");
    let s = t.wait_for("Array index 5 out of bounds");
    assert!(s.contains("3 |   y[5] + 1"), "{s}");
    t.line("scan::ports(\"127.0.0.0/28\", \"1-65535\", #{ method: \"connect\" })");
    t.wait_for("scan::ports [");
    t.keys(&["C-c"]);
    let s = t.wait_for("cancelled");
    assert!(!s.contains("scan::ports ["), "a stale progress bar: {s}");
    t.line("40 + 2");
    t.wait_for("42");
    t.line(":quit");
    let s = t.wait_for("EXIT=");
    assert!(s.contains("EXIT=0"), "{s}");
}
