//! Embedding hound in a Rust program: build a Runtime, add a primitive of
//! your own, run a script that uses both, and read the result back.
//!
//! cargo run --example embed

use hound::runtime::CollectSink;
use hound::Runtime;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sink = Arc::new(CollectSink::default());
    let mut rt = Runtime::builder()
        .dry_run(true) // nothing destructive can happen from this program
        .max_operations(1_000_000)
        .sink(sink.clone())
        .build()?;

    // A site-specific primitive: which team owns an address.
    let mut site = rhai::Module::new();
    site.set_native_fn("owner", |ip: &str| {
        Ok(if ip.starts_with("172.20.") {
            "servers"
        } else {
            "clients"
        }
        .to_string())
    });
    rt.engine_mut().register_static_module("site", site.into());

    let result = rt.eval(
        r#"
        let hosts = ["172.20.0.10", "172.19.0.22"];
        for h in hosts { emit(#{ host: h, owner: site::owner(h) }); }
        #{ checked: hosts.len(), dry_run: dry_run() }
        "#,
    )?;

    let map = result.cast::<rhai::Map>();
    println!(
        "checked {} hosts (dry run: {})",
        map["checked"], map["dry_run"]
    );
    for row in sink.emitted.lock().map_err(|_| "sink poisoned")?.iter() {
        println!("  {row}");
    }
    Ok(())
}
