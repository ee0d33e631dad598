//! A basic interactive shell; variables and functions live for the session.

use super::{report_error, runtime, Global, EXIT_ERROR, EXIT_OK};
use hound::output::print_value;
use hound::{CancelToken, Script};
use rhai::Scope;
use rustyline::error::ReadlineError;

pub fn main(g: &Global) -> i32 {
    let cancel = CancelToken::new();
    let t = cancel.clone();
    let _ = ctrlc::set_handler(move || t.cancel());
    let rt = match runtime(g, cancel.clone()) {
        Ok(rt) => rt,
        Err(e) => {
            report_error(g, &e);
            return EXIT_ERROR;
        }
    };
    let mut rl = match rustyline::DefaultEditor::new() {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return EXIT_ERROR;
        }
    };
    eprintln!(
        "hound {} — `hound doc` lists primitives; Ctrl-D exits",
        env!("CARGO_PKG_VERSION")
    );
    let mut scope = Scope::new();
    scope.push_constant("params", rhai::Map::new());
    let mut ast = rhai::AST::empty();
    loop {
        match rl.readline("hound> ") {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => {
                let _ = rl.add_history_entry(line.as_str());
                cancel.reset();
                let script = match Script::from_source("<repl>", line.clone()) {
                    Ok(s) => s,
                    Err(e) => {
                        report_error(g, &e);
                        continue;
                    }
                };
                match rt.compile(&line, "<repl>") {
                    Ok(new) => {
                        // Keep functions defined earlier in the session.
                        ast = ast.merge(&new);
                        match rt.eval_ast(&mut scope, &ast, &script) {
                            Ok(v) => print_value(&v, super::style(g)),
                            Err(e) => report_error(g, &e),
                        }
                        ast.clear_statements();
                    }
                    Err(e) => report_error(g, &e),
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => return EXIT_OK,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_ERROR;
            }
        }
    }
}
