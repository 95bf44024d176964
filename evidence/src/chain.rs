//! The hash chain: `hash(n) = SHA-256(hash(n-1) || entry(n))`, from 32 zero bytes.

use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// The hash after appending `entry` to a chain whose head is `previous`.
pub fn link(previous: &[u8; 32], entry: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(entry);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_link_depends_on_the_previous_hash_and_every_byte() {
        let a = link(&GENESIS, b"{\"kind\":\"log\"}");
        assert_ne!(a, GENESIS);
        assert_ne!(link(&a, b"x"), link(&GENESIS, b"x"));
        assert_ne!(link(&a, b"x"), link(&a, b"y"));
        assert_eq!(link(&a, b"x"), link(&a, b"x"));
    }
}
