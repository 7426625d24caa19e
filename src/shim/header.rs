//! The committed header must be what cbindgen generates now.

#[test]
fn committed_header_is_current() {
    let generated = std::fs::read_to_string(env!("TAPSTACK_GENERATED_HEADER"))
        .expect("build.rs writes the generated header");
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/tapstack.h"))
            .unwrap_or_default();
    assert!(
        generated == committed,
        "include/tapstack.h is stale: run scripts/gen-header"
    );
}
