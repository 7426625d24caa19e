//! Generates the C header with cbindgen into `OUT_DIR` and tells the crate
//! where it is (`TAPSTACK_GENERATED_HEADER`), so a unit test can compare it
//! with the committed `include/tapstack.h` (regenerate: `scripts/gen-header`).
//!
//! A cbindgen failure does not break the build: the header file then holds
//! the error, and the header test fails instead.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
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
