//! Prime-field arithmetic for the curve code, in Montgomery form.
//!
//! `crypto-bigint` supplies the moduli and their Montgomery constants (at compile time) and
//! the inversions; the hot operations — multiplication, addition, subtraction — are
//! written here without the constant-time discipline `crypto-bigint` keeps, which
//! verification (public data only) does not need; that made verification about three
//! times faster than with `crypto-bigint`'s constant-time `ConstMontyForm`.
//! The representation is the same as `crypto-bigint`'s (R = 2^(word bits × L)), so values
//! move between the two for inversion.

use std::marker::PhantomData;

use crypto_bigint::{
    Uint, WideWord, Word,
    modular::{ConstMontyForm, ConstMontyParams},
};

/// An element of the field of `M`, in Montgomery form, fully reduced.
pub(crate) struct Fe<M, const L: usize> {
    words: [Word; L],
    field: PhantomData<M>,
}

impl<M, const L: usize> Clone for Fe<M, L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, const L: usize> Copy for Fe<M, L> {}

const WORD_BITS: u32 = Word::BITS;

/// `a + b + carry` as (low word, carry).
#[inline(always)]
fn adc(a: Word, b: Word, carry: Word) -> (Word, Word) {
    let t = WideWord::from(a) + WideWord::from(b) + WideWord::from(carry);
    (t as Word, (t >> WORD_BITS) as Word)
}

/// `a − b − borrow` as (low word, borrow ∈ {0, 1}).
#[inline(always)]
fn sbb(a: Word, b: Word, borrow: Word) -> (Word, Word) {
    let t = WideWord::from(a).wrapping_sub(WideWord::from(b)).wrapping_sub(WideWord::from(borrow));
    (t as Word, (t >> (2 * WORD_BITS - 1)) as Word)
}

/// `acc + a·b + carry` as (low word, high word).
#[inline(always)]
fn mac(acc: Word, a: Word, b: Word, carry: Word) -> (Word, Word) {
    let t = WideWord::from(acc) + WideWord::from(a) * WideWord::from(b) + WideWord::from(carry);
    (t as Word, (t >> WORD_BITS) as Word)
}

impl<M: ConstMontyParams<L>, const L: usize> Fe<M, L> {
    pub const ZERO: Self = Self::from_words([0; L]);

    const fn from_words(words: [Word; L]) -> Self {
        Self { words, field: PhantomData }
    }

    #[inline(always)]
    fn modulus() -> [Word; L] {
        M::PARAMS.modulus().as_ref().to_words()
    }

    pub fn one() -> Self {
        Self::from_words(M::PARAMS.one().to_words())
    }

    /// `x mod p` into Montgomery form (`x` may exceed `p`: Montgomery reduction of x·R²
    /// reduces it, as x·R² < p·R).
    pub fn new(x: &Uint<L>) -> Self {
        Self::from_words(x.to_words()).mul(&Self::from_words(M::PARAMS.r2().to_words()))
    }

    /// The canonical integer.
    #[cfg(test)]
    pub fn retrieve(&self) -> Uint<L> {
        let mut one = [0; L];
        one[0] = 1;
        Uint::from_words(self.mul(&Self::from_words(one)).words)
    }

    pub fn is_zero(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// Whether `words ≥ p` (variable time).
    #[inline(always)]
    fn ge_modulus(words: &[Word; L]) -> bool {
        let p = Self::modulus();
        for i in (0..L).rev() {
            if words[i] != p[i] {
                return words[i] > p[i];
            }
        }
        true
    }

    #[inline(always)]
    fn sub_modulus(words: &mut [Word; L]) {
        let p = Self::modulus();
        let mut borrow = 0;
        for i in 0..L {
            (words[i], borrow) = sbb(words[i], p[i], borrow);
        }
    }

    /// Montgomery multiplication (CIOS): a·b·R⁻¹ mod p.
    #[inline]
    pub fn mul(&self, rhs: &Self) -> Self {
        let p = Self::modulus();
        let n0 = M::PARAMS.mod_neg_inv().0;
        let a = &self.words;
        let b = &rhs.words;
        let mut t = [0 as Word; L];
        let mut t_hi: Word = 0;
        for bi in b {
            // t += a·b[i]
            let mut carry = 0;
            for j in 0..L {
                (t[j], carry) = mac(t[j], a[j], *bi, carry);
            }
            let (hi, hi_carry) = adc(t_hi, carry, 0);
            // t = (t + m·p) / W
            let m = t[0].wrapping_mul(n0);
            let (_, mut carry) = mac(t[0], m, p[0], 0);
            for j in 1..L {
                (t[j - 1], carry) = mac(t[j], m, p[j], carry);
            }
            let (top, c) = adc(hi, carry, 0);
            t[L - 1] = top;
            t_hi = hi_carry + c;
        }
        if t_hi != 0 || Self::ge_modulus(&t) {
            Self::sub_modulus(&mut t);
        }
        Self::from_words(t)
    }

    #[inline]
    pub fn square(&self) -> Self {
        self.mul(self)
    }

    #[inline]
    pub fn add(&self, rhs: &Self) -> Self {
        let mut out = [0 as Word; L];
        let mut carry = 0;
        for (i, o) in out.iter_mut().enumerate() {
            (*o, carry) = adc(self.words[i], rhs.words[i], carry);
        }
        if carry != 0 || Self::ge_modulus(&out) {
            Self::sub_modulus(&mut out);
        }
        Self::from_words(out)
    }

    #[inline]
    pub fn double(&self) -> Self {
        self.add(self)
    }

    #[inline]
    pub fn sub(&self, rhs: &Self) -> Self {
        let mut out = [0 as Word; L];
        let mut borrow = 0;
        for (i, o) in out.iter_mut().enumerate() {
            (*o, borrow) = sbb(self.words[i], rhs.words[i], borrow);
        }
        if borrow != 0 {
            let p = Self::modulus();
            let mut carry = 0;
            for (o, pw) in out.iter_mut().zip(p) {
                (*o, carry) = adc(*o, pw, carry);
            }
        }
        Self::from_words(out)
    }

    #[inline]
    pub fn neg(&self) -> Self {
        Self::ZERO.sub(self)
    }

    /// The inverse, by `crypto-bigint`'s (variable-time) safegcd; `None` for zero.
    pub fn invert(&self) -> Option<Self> {
        let x = ConstMontyForm::<M, L>::from_montgomery(Uint::from_words(self.words));
        x.invert_vartime().into_option().map(|inv| Self::from_words(inv.as_montgomery().to_words()))
    }

    pub fn ct_eq(&self, other: &Self) -> bool {
        self.words == other.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gost::curves::{FieldDc7, FieldFd97};
    use crypto_bigint::{U256, U512};

    /// The hand-written operations agree with crypto-bigint's on pseudo-random values,
    /// including values next to the modulus.
    fn agree<M: ConstMontyParams<L>, const L: usize>(seeds: &[Uint<L>]) {
        for a in seeds {
            for b in seeds {
                let (x, y) = (Fe::<M, L>::new(a), Fe::<M, L>::new(b));
                let (cx, cy) = (ConstMontyForm::<M, L>::new(a), ConstMontyForm::<M, L>::new(b));
                assert_eq!(x.words, cx.as_montgomery().to_words());
                assert_eq!(x.mul(&y).retrieve(), cx.mul(&cy).retrieve());
                assert_eq!(x.add(&y).retrieve(), cx.add(&cy).retrieve());
                assert_eq!(x.sub(&y).retrieve(), cx.sub(&cy).retrieve());
                assert_eq!(x.neg().retrieve(), cx.neg().retrieve());
                if !x.is_zero() {
                    let inv = x.invert().unwrap_or(Fe::ZERO);
                    assert_eq!(inv.mul(&x).retrieve(), Uint::ONE);
                }
            }
        }
    }

    #[test]
    fn matches_crypto_bigint_256() {
        let p = *FieldFd97::PARAMS.modulus().as_ref();
        let mut seeds = vec![
            U256::ZERO,
            U256::ONE,
            p.wrapping_sub(&U256::ONE),
            p.wrapping_sub(&U256::from_u8(2)),
            U256::MAX,
        ];
        let mut x =
            U256::from_be_hex("91E38443A5E82C0D880923425712B2BB658B9196932E02C78B2582FE742DAA28");
        for _ in 0..6 {
            x = x.wrapping_mul(&x).wrapping_add(&U256::from_u8(7));
            seeds.push(x);
        }
        agree::<FieldFd97, 4>(&seeds);
    }

    #[test]
    fn matches_crypto_bigint_512() {
        let p = *FieldDc7::PARAMS.modulus().as_ref();
        let mut seeds = vec![U512::ONE, p.wrapping_sub(&U512::ONE), U512::MAX];
        let mut x = U512::from_u64(0x9E37_79B9_7F4A_7C15);
        for _ in 0..6 {
            x = x
                .wrapping_mul(&x)
                .wrapping_add(&U512::from_u8(3))
                .wrapping_mul(&U512::MAX.wrapping_sub(&x));
            seeds.push(x);
        }
        agree::<FieldDc7, 8>(&seeds);
    }
}
