//! Generates the C header with cbindgen into `OUT_DIR` and tells the crate
//! where it is (`TAPSTACK_GENERATED_HEADER`), so a unit test can compare it
//! with the committed `include/tapstack.h` (regenerate: `scripts/gen-header`).
//!
//! A cbindgen failure does not break the build: the header file then holds
//! the error, and the header test fails instead.

use std::path::PathBuf;

/// A hash of every file under `src/` (names and contents), so that a
/// library built from other source never attaches to a stack another
/// build formatted in shared memory (`shared::header::layout_id`).
fn source_hash(dir: &std::path::Path, h: &mut u64) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    for p in entries {
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                *h = (*h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        eat(p.to_string_lossy().as_bytes());
        if p.is_dir() {
            source_hash(&p, h);
        } else if let Ok(bytes) = std::fs::read(&p) {
            eat(&bytes);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=src");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    source_hash(&root.join("src"), &mut h);
    println!("cargo:rustc-env=TAPSTACK_SOURCE_HASH={h:016x}");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("tapstack.h");
    let result = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .map_err(|e| e.to_string())
        .and_then(|config| {
            cbindgen::Builder::new()
                .with_config(config)
                .with_src(crate_dir.join("src/lib.rs"))
                .generate()
                .map_err(|e| e.to_string())
        });
    match result {
        Ok(bindings) => {
            bindings.write_to_file(&out);
        }
        Err(e) => {
            println!("cargo:warning=cbindgen failed: {e}");
            std::fs::write(&out, format!("/* cbindgen failed: {e} */\n"))
                .expect("OUT_DIR is writable");
        }
    }
    println!(
        "cargo:rustc-env=TAPSTACK_GENERATED_HEADER={}",
        out.display()
    );
}
