//! Every primitive is documented with a runnable example, and the examples run.
//! Examples marked `no_run` (they need root, a network or change the host) are
//! only compiled.

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
            if let Err(e) = rt.eval(&ex) {
                panic!("{}: example failed:\n{ex}\n{e}", d.full_name());
            }
        }
    }
}
