//! Polynomials over GF(2), as long as the messages they come from: just
//! enough arithmetic (shift, xor, remainder, gcd) to solve for a CRC
//! polynomial the way CRC RevEng does.

/// A polynomial over GF(2); bit `i` of the words is the coefficient of `x^i`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Poly {
    words: Vec<u64>,
}

impl Poly {
    /// Builds the polynomial whose coefficients, highest first, are the bits
    /// of `bytes` (most significant bit first) followed by the low `tail_bits`
    /// bits of `tail` (most significant first).
    pub(crate) fn from_bits(bytes: &[u8], tail: u64, tail_bits: u32) -> Self {
        let total = bytes.len() * 8 + tail_bits as usize;
        let mut p = Self {
            words: vec![0; total.div_ceil(64).max(1)],
        };
        let mut k = 0usize;
        for &b in bytes {
            for bit in (0..8).rev() {
                if (b >> bit) & 1 == 1 {
                    p.set(total - 1 - k);
                }
                k += 1;
            }
        }
        for bit in (0..tail_bits).rev() {
            if (tail >> bit) & 1 == 1 {
                p.set(total - 1 - k);
            }
            k += 1;
        }
        p.trim();
        p
    }

    /// Returns `x^width + low` (a CRC generator in the catalogue's notation).
    pub(crate) fn generator(width: u32, low: u64) -> Self {
        let mut p = Self {
            words: vec![0; (width as usize + 1).div_ceil(64)],
        };
        for bit in 0..width {
            if (low >> bit) & 1 == 1 {
                p.set(bit as usize);
            }
        }
        p.set(width as usize);
        p
    }

    fn set(&mut self, i: usize) {
        if let Some(w) = self.words.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    fn trim(&mut self) {
        while self.words.last() == Some(&0) {
            self.words.pop();
        }
    }

    /// Returns the degree, or `None` for the zero polynomial.
    pub(crate) fn degree(&self) -> Option<usize> {
        let last = self.words.len().checked_sub(1)?;
        let w = *self.words.get(last)?;
        if w == 0 {
            return None;
        }
        Some(last * 64 + 63 - w.leading_zeros() as usize)
    }

    /// Returns whether this is the zero polynomial.
    pub(crate) fn is_zero(&self) -> bool {
        self.degree().is_none()
    }

    /// Returns the coefficients below `x^width` as an integer (`width <= 64`).
    pub(crate) fn low_bits(&self, width: u32) -> u64 {
        let w = self.words.first().copied().unwrap_or(0);
        if width >= 64 {
            w
        } else {
            w & ((1u64 << width) - 1)
        }
    }

    /// Xors `other * x^shift` into `self`.
    fn xor_shifted(&mut self, other: &Self, shift: usize) {
        let word_shift = shift / 64;
        let bit_shift = shift % 64;
        let need = other.words.len() + word_shift + 1;
        if self.words.len() < need {
            self.words.resize(need, 0);
        }
        for (i, &w) in other.words.iter().enumerate() {
            if let Some(dst) = self.words.get_mut(i + word_shift) {
                *dst ^= w << bit_shift;
            }
            if bit_shift != 0
                && let Some(dst) = self.words.get_mut(i + word_shift + 1)
            {
                *dst ^= w >> (64 - bit_shift);
            }
        }
        self.trim();
    }

    /// Returns `self mod m`.
    pub(crate) fn rem(&self, m: &Self) -> Self {
        let mut r = self.clone();
        let Some(dm) = m.degree() else {
            return r;
        };
        while let Some(dr) = r.degree() {
            if dr < dm {
                break;
            }
            r.xor_shifted(m, dr - dm);
        }
        r
    }

    /// Returns the greatest common divisor of `self` and `other`.
    pub(crate) fn gcd(&self, other: &Self) -> Self {
        let (mut a, mut b) = (self.clone(), other.clone());
        while !b.is_zero() {
            let r = a.rem(&b);
            a = b;
            b = r;
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcd_finds_a_common_factor() {
        // (x^2 + x + 1)(x + 1) = x^3 + 1 and (x^2 + x + 1) x = x^3 + x^2 + x
        let a = Poly::from_bits(&[], 0b1001, 4);
        let b = Poly::from_bits(&[], 0b1110, 4);
        let g = a.gcd(&b);
        assert_eq!(g.degree(), Some(2));
        assert_eq!(g.low_bits(2), 0b11);
    }

    #[test]
    fn bits_run_highest_first() {
        let p = Poly::from_bits(&[0x80], 0b1, 1);
        assert_eq!(p.degree(), Some(8));
        assert_eq!(p.low_bits(9), 0b1_0000_0001);
        assert!(Poly::from_bits(&[0, 0], 0, 3).is_zero());
    }
}
