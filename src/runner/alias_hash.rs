//! A quick hash for the maps keyed by alias (the running processes, the
//! apps, the turns' maps), which a request and its reply look up on the
//! loop's hot path: SipHash cost more per reply than the rest of the
//! reply's bookkeeping, and more than half of `get_channel`. The aliases are
//! the program's own names, not a peer's input, so a hash without flooding
//! resistance is fine here.

use std::hash::{BuildHasherDefault, Hasher};

/// Builds [`AliasHasher`]s: the `S` of a map keyed by alias.
pub(super) type AliasHash = BuildHasherDefault<AliasHasher>;

/// The rustc compiler's "Fx" hash, eight bytes a step, with the length.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct AliasHasher(u64);

/// The multiplier of the Fx hash (odd, with well spread bits).
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl AliasHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for AliasHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().expect("chunks of 8")));
        }
        // The last word is padded with zeros, so the length goes in too
        // ("a" and "a\0" would share it).
        // Byte by byte: a copy of the few bytes left is a call to memcpy.
        let last = words.remainder().iter().rev().fold(0u64, |word, &byte| word << 8 | u64::from(byte));
        self.add(last ^ ((bytes.len() as u64) << 56));
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use super::AliasHash;

    #[test]
    fn aliases_that_differ_in_any_byte_or_length_hash_apart() {
        let hash = |s: &str| AliasHash::default().hash_one(s);
        let names: Vec<String> = (0..10_000).map(|i| format!("bot{i}")).collect();
        let distinct: HashSet<u64> = names.iter().map(|n| hash(n)).collect();
        assert_eq!(distinct.len(), names.len());
        assert_ne!(hash("a"), hash("a\0"), "a trailing zero byte is not padding");
        assert_ne!(hash(""), hash("\0"));
        assert_ne!(hash("abcdefgh1"), hash("abcdefgh2"), "the bytes after the first eight count");
    }
}
