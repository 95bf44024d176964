//! The engine is what an embedder depends on: it reads no other format, imports nothing
//! and embeds no library. Its only Palisade dependency is the language; the JSON API for
//! hosts, the adapters, the StackRox importer and the built-in library sit above it.

#[test]
fn the_engine_depends_on_the_language_alone() {
    let manifest = include_str!("../Cargo.toml");
    let mut section = "";
    let mut palisade = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if section == "[dependencies]" && line.starts_with("palisade") {
            palisade.extend(line.split(['=', '.', ' ']).next());
        }
    }
    assert!(
        manifest.contains("[dependencies]"),
        "the manifest has dependencies"
    );
    assert_eq!(palisade, ["palisade-lang"]);
}
