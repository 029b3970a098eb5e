//! The newlines of 64 bytes as a mask, a bit a byte: by SSE2 compares on
//! x86-64 (part of its baseline, so always there), by a portable fold
//! elsewhere.

/// Bit `i` set where `block[i]` is `\n`: four 16-byte compares, each
/// gathered by `pmovmskb`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn newline_mask_64(block: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let (parts, _) = block.as_chunks::<16>();
    let mut mask = 0;
    for (k, part) in parts.iter().enumerate() {
        // SAFETY: SSE2 is in every x86-64 CPU; `part` is 16 readable bytes,
        // and an unaligned load asks no more.
        let found = unsafe {
            let bytes = _mm_loadu_si128(part.as_ptr().cast::<__m128i>());
            _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\n' as i8)))
        };
        mask |= u64::from(found as u16) << (16 * k);
    }
    mask
}

/// Bit `i` set where `block[i]` is `\n`.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub(crate) fn newline_mask_64(block: &[u8; 64]) -> u64 {
    portable_mask_64(block)
}

/// [`newline_mask_64`] without vector intrinsics: written so that the
/// compiler compares all 64 bytes in vector registers; a multiply then
/// gathers each 8 bytes' flags (0 or 1) into one byte of the mask.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn portable_mask_64(block: &[u8; 64]) -> u64 {
    let flags: [u8; 64] = std::array::from_fn(|i| u8::from(block[i] == b'\n'));
    let (words, _) = flags.as_chunks::<8>();
    let mut mask = 0;
    for (k, word) in words.iter().enumerate() {
        mask |= u64::from_le_bytes(*word).wrapping_mul(0x0102_0408_1020_4080) >> 56 << (8 * k);
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes from a fixed xorshift, a newline about one in four.
    fn random_bytes(len: usize) -> Vec<u8> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if state.is_multiple_of(4) { b'\n' } else { (state >> 8) as u8 }
            })
            .collect()
    }

    #[test]
    fn the_vector_mask_is_the_plain_one_at_every_offset() {
        let bytes = random_bytes(64 * 64 + 64);
        for start in 0..bytes.len() - 64 {
            let block = bytes[start..].first_chunk::<64>().unwrap();
            let plain = (0..64).filter(|&i| block[i] == b'\n').fold(0u64, |mask, i| mask | 1 << i);
            assert_eq!(newline_mask_64(block), plain, "at {start}");
            assert_eq!(portable_mask_64(block), plain, "at {start}");
        }
    }
}
