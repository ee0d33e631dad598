//! The standard library, tested in its own language: every `test_*`
//! function of `tests/stdlib/*.rhai` runs on a fresh runtime, and each
//! bundled module and hunt compiles with a valid header.

use hound::runtime::modules;
use hound::{Runtime, Script};
use std::path::Path;

fn runtime() -> Runtime {
    Runtime::builder()
        .dry_run(true)
        .case_dir(tempfile::tempdir().unwrap().keep())
        .build()
        .unwrap()
}

#[test]
fn rhai_tests_of_the_stdlib_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stdlib");
    let mut failures = Vec::new();
    let mut ran = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rhai") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let rt = runtime();
        let ast = rt
            .compile(&source, &path.display().to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        for f in ast.iter_functions().filter(|f| f.name.starts_with("test_")) {
            let name = f.name.to_string();
            let rt = runtime();
            let mut scope = rhai::Scope::new();
            match rt
                .engine()
                .call_fn::<rhai::Dynamic>(&mut scope, &ast, &name, ())
            {
                Ok(_) => ran += 1,
                Err(e) => {
                    let diag =
                        hound::ScriptError::from_eval(&e, &path.display().to_string(), &source, 0);
                    failures.push(format!("{name}:\n{diag}"));
                }
            }
        }
    }
    assert!(ran > 0, "no stdlib tests found");
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_bundled_module_compiles() {
    let rt = runtime();
    for name in modules::stdlib_module_names() {
        let src = modules::stdlib_module(&name).unwrap();
        rt.compile(src, &format!("hound/{name}"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn every_bundled_hunt_has_a_complete_header() {
    let rt = runtime();
    for name in modules::stdlib_hunt_names() {
        let s = Script::load(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
        rt.check(&s).unwrap_or_else(|e| panic!("{e}"));
        let h = s.header.unwrap_or_else(|| panic!("{name}: no header"));
        assert_eq!(h.name, name, "header name matches the file");
        assert!(
            !h.version.is_empty() && !h.description.is_empty() && !h.author.is_empty(),
            "{name}"
        );
        for p in &h.params {
            assert!(
                !p.description.is_empty(),
                "{name}: param {} undocumented",
                p.name
            );
        }
    }
}
