//! Prints the Palisade source of StackRox policy files (a development aid; the CLI has
//! `palisade import stackrox FILE`).
fn main() {
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        match palisade_stackrox::translate_document(&text) {
            Ok(pal) => println!("// {path}\n{pal}"),
            Err(e) => eprintln!("{path}: {e}"),
        }
    }
}
