//! Parses and checks the given files, printing the checked rules or the diagnostics.
fn main() {
    let mut sources = palisade_lang::Sources::default();
    let mut files = Vec::new();
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let i = sources.add(palisade_lang::SourceFile::new(path, text));
        match palisade_lang::parse(&sources, i) {
            Ok(f) => files.push((i, f)),
            Err(es) => es.iter().for_each(|e| println!("{}", sources.to_line(e))),
        }
    }
    match palisade_lang::check(&sources, &files) {
        Ok(set) => {
            for p in &set.policies {
                for r in &p.rules {
                    println!(
                        "{} [{:?}] bindings={:?}\n  {:?}",
                        p.name,
                        r.root,
                        r.bindings.iter().map(|b| &b.name).collect::<Vec<_>>(),
                        r.cond
                    );
                }
            }
        }
        Err(es) => es
            .iter()
            .for_each(|e| println!("{} | {} | {:?}", sources.to_line(e), e.label, e.help)),
    }
}
