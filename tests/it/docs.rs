//! Every primitive is documented with a runnable example, and the examples run.
//! Examples marked `no_run` (they need root, a network or change the host) are
//! only compiled. An example that ends in a boolean asserts it: `false` fails.

use hound::runtime::docs;
use hound::Runtime;

#[test]
fn every_primitive_has_a_doc_and_an_example() {
    let rt = Runtime::builder().dry_run(true).build().unwrap();
    let all = docs::primitives(rt.engine());
    assert!(!all.is_empty());
    let missing: Vec<_> = all
        .iter()
        .filter(|d| d.doc.trim().is_empty() || d.examples().is_empty())
        .map(|d| d.full_name())
        .collect();
    assert!(
        missing.is_empty(),
        "undocumented or without example: {missing:?}"
    );
}

/// The registration is the one source of every signature: Rust's types, and
/// where Rust says `Dynamic`, the doc comment's `Params:`/`Returns:` lines.
/// Nothing is left as `?`, and nothing restates what Rust already says.
#[test]
fn every_registered_function_is_fully_typed() {
    let rt = Runtime::builder().dry_run(true).build().unwrap();
    let problems = docs::problems(rt.engine());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let untyped: Vec<String> = docs::primitives(rt.engine())
        .iter()
        .flat_map(|d| {
            d.signatures
                .iter()
                .map(move |s| format!("{}: {s}", d.full_name()))
        })
        .filter(|s| s.contains('?'))
        .collect();
    assert!(untyped.is_empty(), "{untyped:#?}");
}

/// Families come from the registration (their modules and the one line
/// given there), so `hound doc` and the REPL list what the engine has.
#[test]
fn families_are_the_registered_modules() {
    let rt = Runtime::builder().dry_run(true).build().unwrap();
    let fams = docs::families(rt.engine());
    let all = docs::primitives(rt.engine());
    for f in &fams {
        assert!(!f.summary.is_empty(), "{} has no summary", f.name);
        assert!(
            all.iter().any(|d| d.namespace == f.name),
            "{} has no functions",
            f.name
        );
    }
    for d in all.iter().filter(|d| !d.namespace.is_empty()) {
        assert!(
            fams.iter().any(|f| f.name == d.namespace),
            "{}: no family",
            d.full_name()
        );
    }
}

/// The actions a plan takes are the one `ActionKind` enum; the doc of
/// `case::plan_add` must name each, so a new action is documented.
#[test]
fn plan_add_documents_every_action() {
    let rt = Runtime::builder().dry_run(true).build().unwrap();
    let d = docs::find(rt.engine(), "case::plan_add").unwrap();
    for a in hound::runtime::plan::ActionKind::ALL {
        assert!(
            d.doc.contains(&format!("\"{}\"", a.as_str())),
            "case::plan_add does not document {:?}",
            a.as_str()
        );
    }
}

/// The second overload's comment (the options form) is help text too, and
/// its example runs with the rest: `hound doc fw::block` once showed only
/// the first form's.
#[test]
fn every_overloads_doc_is_shown() {
    let rt = Runtime::builder().dry_run(true).build().unwrap();
    let d = docs::find(rt.engine(), "fw::block").unwrap();
    assert_eq!(d.signatures.len(), 2, "{:?}", d.signatures);
    assert!(d.doc.contains("force: true"), "{}", d.doc);
    assert!(
        d.examples().iter().any(|e| e.contains("ttl")),
        "{:?}",
        d.examples()
    );
}

/// Tautologies (`len() >= 0`) look like checks and check nothing.
#[test]
fn no_example_asserts_a_tautology() {
    let rt = Runtime::builder().dry_run(true).build().unwrap();
    let bad: Vec<_> = docs::primitives(rt.engine())
        .iter()
        .filter(|d| d.examples().iter().any(|e| e.contains(">= 0")))
        .map(|d| d.full_name())
        .collect();
    assert!(bad.is_empty(), "examples asserting `>= 0`: {bad:?}");
}

#[test]
fn doc_examples_compile_and_safe_ones_run() {
    let rt = Runtime::builder()
        .dry_run(true)
        .allow_destructive(false)
        .case_dir(tempfile::tempdir().unwrap().keep())
        .build()
        .unwrap();
    for d in docs::primitives(rt.engine()) {
        for ex in d.examples() {
            rt.compile(&ex, &d.full_name())
                .unwrap_or_else(|e| panic!("{}: example does not compile:\n{e}", d.full_name()));
            if ex.contains("// no_run") {
                continue;
            }
            match rt.eval(&ex) {
                Err(e) => panic!("{}: example failed:\n{ex}\n{e}", d.full_name()),
                // An example that ends in a boolean states a fact: it must hold.
                Ok(v) if v.as_bool() == Ok(false) => {
                    panic!("{}: example returned false:\n{ex}", d.full_name())
                }
                Ok(_) => {}
            }
        }
    }
}
