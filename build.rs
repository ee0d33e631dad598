// The stdlib is embedded with include_dir!, which cargo does not track:
// rebuild when any bundled script is added or changed.
fn main() {
    println!("cargo:rerun-if-changed=stdlib");
    println!("cargo:rerun-if-changed=data");
}
