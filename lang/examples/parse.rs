fn main() {
    let path = std::env::args().nth(1).unwrap_or_default();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut s = palisade_lang::Sources::default();
    let i = s.add(palisade_lang::SourceFile::new(path, text));
    match palisade_lang::parse(&s, i) {
        Ok(f) => println!("{f:#?}"),
        Err(es) => {
            for e in es {
                println!("{}", s.to_line(&e));
            }
        }
    }
}
