//! Short Weierstrass curve arithmetic for GOST R 34.10-2012 verification.
//!
//! Verification handles public data only (the public key, the digest, the signature), so the
//! code is variable-time on purpose: it skips zero digits and branches on special points.
//! Points are kept in Jacobian coordinates (x = X/Z², y = Y/Z³), so the only field
//! inversions are one per precomputed table and one for the final x coordinate. The double
//! scalar multiplication `z1·G + z2·Q` is done in one pass (Shamir's trick) with both
//! scalars in width-5 non-adjacent form over tables of odd multiples in affine coordinates.

use crypto_bigint::{
    Limb, NonZero, Uint,
    modular::{ConstMontyParams, FixedMontyForm},
};

use super::curves::CurveParams;
use super::field::Fe;

/// Window width of the non-adjacent form: tables hold 2^(W−2) = 8 odd multiples.
const W: u32 = 5;
const TABLE: usize = 1 << (W - 2);

fn fe_is_zero<M: ConstMontyParams<L>, const L: usize>(v: &Fe<M, L>) -> bool {
    v.is_zero()
}

fn fe_eq<M: ConstMontyParams<L>, const L: usize>(a: &Fe<M, L>, b: &Fe<M, L>) -> bool {
    a.ct_eq(b)
}

#[derive(Clone, Copy)]
struct Affine<M: ConstMontyParams<L>, const L: usize> {
    x: Fe<M, L>,
    y: Fe<M, L>,
}

impl<M: ConstMontyParams<L>, const L: usize> Affine<M, L> {
    fn neg(&self) -> Self {
        Self { x: self.x, y: self.y.neg() }
    }
}

/// A point in Jacobian coordinates; `z = 0` is the point at infinity.
#[derive(Clone, Copy)]
struct Jacobian<M: ConstMontyParams<L>, const L: usize> {
    x: Fe<M, L>,
    y: Fe<M, L>,
    z: Fe<M, L>,
}

/// The curve in the field `M`, with `a` already in Montgomery form.
struct Curve<M: ConstMontyParams<L>, const L: usize> {
    a: Fe<M, L>,
    b: Fe<M, L>,
    a_is_minus_3: bool,
}

impl<M: ConstMontyParams<L>, const L: usize> Curve<M, L> {
    fn infinity(&self) -> Jacobian<M, L> {
        Jacobian { x: Fe::one(), y: Fe::one(), z: Fe::ZERO }
    }

    fn lift(&self, p: &Affine<M, L>) -> Jacobian<M, L> {
        Jacobian { x: p.x, y: p.y, z: Fe::one() }
    }

    fn contains(&self, p: &Affine<M, L>) -> bool {
        let rhs = p.x.square().add(&self.a).mul(&p.x).add(&self.b);
        fe_eq(&p.y.square(), &rhs)
    }

    /// Doubling: dbl-2001-b when a = −3 (3M + 5S), dbl-2007-bl otherwise (1M + 8S + 1·a).
    fn double(&self, p: &Jacobian<M, L>) -> Jacobian<M, L> {
        if fe_is_zero(&p.z) {
            return *p;
        }
        if self.a_is_minus_3 {
            let delta = p.z.square();
            let gamma = p.y.square();
            let beta = p.x.mul(&gamma);
            let t = p.x.sub(&delta).mul(&p.x.add(&delta));
            let alpha = t.double().add(&t);
            let beta4 = beta.double().double();
            let x3 = alpha.square().sub(&beta4.double());
            let z3 = p.y.add(&p.z).square().sub(&gamma).sub(&delta);
            let gamma2_8 = gamma.square().double().double().double();
            let y3 = alpha.mul(&beta4.sub(&x3)).sub(&gamma2_8);
            Jacobian { x: x3, y: y3, z: z3 }
        } else {
            let xx = p.x.square();
            let yy = p.y.square();
            let yyyy = yy.square();
            let zz = p.z.square();
            let s = p.x.add(&yy).square().sub(&xx).sub(&yyyy).double();
            let m = xx.double().add(&xx).add(&self.a.mul(&zz.square()));
            let t = m.square().sub(&s.double());
            let y3 = m.mul(&s.sub(&t)).sub(&yyyy.double().double().double());
            let z3 = p.y.add(&p.z).square().sub(&yy).sub(&zz);
            Jacobian { x: t, y: y3, z: z3 }
        }
    }

    /// Mixed addition of an affine point: madd-2007-bl (7M + 4S).
    fn add_affine(&self, p: &Jacobian<M, L>, q: &Affine<M, L>) -> Jacobian<M, L> {
        if fe_is_zero(&p.z) {
            return self.lift(q);
        }
        let z1z1 = p.z.square();
        let u2 = q.x.mul(&z1z1);
        let s2 = q.y.mul(&p.z).mul(&z1z1);
        let h = u2.sub(&p.x);
        let r = s2.sub(&p.y).double();
        if fe_is_zero(&h) {
            return if fe_is_zero(&r) { self.double(p) } else { self.infinity() };
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h.mul(&i);
        let v = p.x.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&p.y.mul(&j).double());
        let z3 = p.z.add(&h).square().sub(&z1z1).sub(&hh);
        Jacobian { x: x3, y: y3, z: z3 }
    }

    /// General addition: add-2007-bl (11M + 5S).
    fn add(&self, p: &Jacobian<M, L>, q: &Jacobian<M, L>) -> Jacobian<M, L> {
        if fe_is_zero(&p.z) {
            return *q;
        }
        if fe_is_zero(&q.z) {
            return *p;
        }
        let z1z1 = p.z.square();
        let z2z2 = q.z.square();
        let u1 = p.x.mul(&z2z2);
        let u2 = q.x.mul(&z1z1);
        let s1 = p.y.mul(&q.z).mul(&z2z2);
        let s2 = q.y.mul(&p.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let r = s2.sub(&s1).double();
        if fe_is_zero(&h) {
            return if fe_is_zero(&r) { self.double(p) } else { self.infinity() };
        }
        let i = h.double().square();
        let j = h.mul(&i);
        let v = u1.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&s1.mul(&j).double());
        let z3 = p.z.add(&q.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        Jacobian { x: x3, y: y3, z: z3 }
    }

    /// Odd multiples P, 3P, …, (2^(W−1) − 1)P in affine coordinates, normalized with one
    /// inversion (Montgomery's trick). `None` if one of them is the point at infinity, which
    /// happens only for a point of small order: no valid key is such a point.
    fn odd_multiples(&self, p: &Affine<M, L>) -> Option<[Affine<M, L>; TABLE]> {
        let p1 = self.lift(p);
        let p2 = self.double(&p1);
        let mut jac = [p1; TABLE];
        for i in 1..TABLE {
            jac[i] = self.add(&jac[i - 1], &p2);
        }
        // prefix[i] = z0 · z1 · … · zi
        let mut prefix = [Fe::<M, L>::one(); TABLE];
        let mut acc = Fe::<M, L>::one();
        for (i, point) in jac.iter().enumerate() {
            if fe_is_zero(&point.z) {
                return None;
            }
            acc = acc.mul(&point.z);
            prefix[i] = acc;
        }
        let mut inv = acc.invert()?;
        let mut out = [*p; TABLE];
        for i in (0..TABLE).rev() {
            let z_inv = if i == 0 { inv } else { inv.mul(&prefix[i - 1]) };
            inv = inv.mul(&jac[i].z);
            let z_inv2 = z_inv.square();
            out[i] = Affine { x: jac[i].x.mul(&z_inv2), y: jac[i].y.mul(&z_inv2).mul(&z_inv) };
        }
        Some(out)
    }
}

/// The width-W non-adjacent form of `k`: digits are zero or odd in (−2^(W−1), 2^(W−1)), and
/// any W consecutive digits hold at most one non-zero. `digits[i]` weighs 2^i.
fn wnaf<const L: usize>(k: &Uint<L>) -> Vec<i8> {
    let words = k.as_words();
    let nbits = 64 * L;
    let bits_at = |pos: usize| -> u64 {
        // W bits of k starting at `pos` (zero beyond the top).
        let word = pos / 64;
        let shift = pos % 64;
        let lo = words.get(word).copied().unwrap_or(0) >> shift;
        let hi =
            if shift == 0 { 0 } else { words.get(word + 1).copied().unwrap_or(0) << (64 - shift) };
        (lo | hi) & ((1 << W) - 1)
    };
    let width = 1u64 << W;
    let mut digits = vec![0i8; nbits + 1];
    // `carry` is a pending 1 at bit `pos`, left by a negative digit below it.
    let mut carry = 0u64;
    let mut pos = 0;
    while pos <= nbits {
        let window = carry + bits_at(pos);
        if window & 1 == 0 {
            // The digit here is 0. The carry stays as it is: with carry 1 the bit at `pos`
            // was 1, so 1 + 1 carries into `pos + 1`; with carry 0 the bit was 0.
            pos += 1;
            continue;
        }
        // Odd window: emit a digit and carry what a negative digit borrowed.
        let digit = if window < width / 2 {
            carry = 0;
            window as i64
        } else {
            carry = 1;
            window as i64 - width as i64
        };
        digits[pos] = digit as i8;
        pos += W as usize;
    }
    digits
}

/// Verifies `r`, `s` over the integer `e` (the digest read little-endian) with the public
/// key `(qx, qy)`, following GOST R 34.10-2012 section 6.2. Every input is checked here: a
/// key off the curve or out of range, or `r`, `s` outside `(0, q)`, gives `false`.
pub(crate) fn verify<M: ConstMontyParams<L>, const L: usize>(
    params: &CurveParams<L>,
    qx: &Uint<L>,
    qy: &Uint<L>,
    e: &Uint<L>,
    r: &Uint<L>,
    s: &Uint<L>,
) -> bool {
    let p = M::PARAMS.modulus().as_ref();
    let q = params.q.as_ref();
    // Step 1: 0 < r < q, 0 < s < q.
    if r.is_zero_vartime() || s.is_zero_vartime() || r >= q || s >= q {
        return false;
    }
    if qx >= p || qy >= p {
        return false;
    }
    let curve = Curve::<M, L> {
        a: Fe::new(&params.a),
        b: Fe::new(&params.b),
        a_is_minus_3: params.a_is_minus_3,
    };
    let key = Affine { x: Fe::new(qx), y: Fe::new(qy) };
    if !curve.contains(&key) {
        return false;
    }
    let base = Affine { x: Fe::new(&params.gx), y: Fe::new(&params.gy) };

    // Steps 2–3: e = α mod q, or 1 if that is 0.
    let q_nz = NonZero::from(params.q);
    let mut e = e.rem_vartime(&q_nz);
    if e.is_zero_vartime() {
        e = Uint::ONE;
    }
    // Step 4: v = e⁻¹ mod q. Step 5: z1 = s·v, z2 = −r·v mod q.
    let Some(v) = FixedMontyForm::new(&e, &params.q_params).invert_vartime().into_option() else {
        return false;
    };
    let z1 = FixedMontyForm::new(s, &params.q_params).mul(&v).retrieve();
    let z2 = FixedMontyForm::new(&q.wrapping_sub(r), &params.q_params).mul(&v).retrieve();

    // Step 6: C = z1·P + z2·Q.
    let (Some(table_g), Some(table_q)) = (curve.odd_multiples(&base), curve.odd_multiples(&key))
    else {
        return false;
    };
    let naf1 = wnaf(&z1);
    let naf2 = wnaf(&z2);
    let top = naf1.iter().zip(&naf2).rposition(|(a, b)| *a != 0 || *b != 0);
    let Some(top) = top else {
        return false;
    };
    let mut acc = curve.infinity();
    for i in (0..=top).rev() {
        acc = curve.double(&acc);
        for (digit, table) in [(naf1[i], &table_g), (naf2[i], &table_q)] {
            if digit > 0 {
                acc = curve.add_affine(&acc, &table[(digit as usize) / 2]);
            } else if digit < 0 {
                acc = curve.add_affine(&acc, &table[(digit.unsigned_abs() as usize) / 2].neg());
            }
        }
    }
    if fe_is_zero(&acc.z) {
        return false;
    }
    // Steps 6–7: R = x_C mod q; accept iff R = r. Without leaving Jacobian coordinates:
    // x_C = X/Z² is some r + k·q below p, so test X = (r + k·q)·Z² for each such value
    // (one when q > p/2, up to four on the cofactor-4 curves). Saves an inversion.
    let zz = acc.z.square();
    let mut candidate = *r;
    while candidate < *p {
        if Fe::<M, L>::new(&candidate).mul(&zz).ct_eq(&acc.x) {
            return true;
        }
        let (next, overflow) = candidate.carrying_add(q, Limb::ZERO);
        if overflow != Limb::ZERO {
            break;
        }
        candidate = next;
    }
    false
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    fn mul<M: ConstMontyParams<L>, const L: usize>(
        curve: &Curve<M, L>,
        p: &Affine<M, L>,
        k: &Uint<L>,
    ) -> Jacobian<M, L> {
        let mut acc = curve.infinity();
        for i in (0..k.bits_vartime()).rev() {
            acc = curve.double(&acc);
            if k.bit_vartime(i) {
                acc = curve.add_affine(&acc, p);
            }
        }
        acc
    }

    /// G is on the curve, q·G = O and (q − 1)·G = −G.
    pub(crate) fn base_point_checks<M: ConstMontyParams<L>, const L: usize>(
        params: &CurveParams<L>,
    ) -> bool {
        let curve = Curve::<M, L> {
            a: Fe::new(&params.a),
            b: Fe::new(&params.b),
            a_is_minus_3: params.a_is_minus_3,
        };
        let g = Affine { x: Fe::new(&params.gx), y: Fe::new(&params.gy) };
        let minus_3 = Fe::<M, L>::one().double().add(&Fe::one()).neg();
        let q = params.q.as_ref();
        let qg = mul(&curve, &g, q);
        let q1g = mul(&curve, &g, &q.wrapping_sub(&Uint::ONE));
        let Some(z_inv) = q1g.z.invert() else {
            return false;
        };
        let x = q1g.x.mul(&z_inv.square());
        let y = q1g.y.mul(&z_inv.square()).mul(&z_inv);
        curve.contains(&g)
            && fe_is_zero(&qg.z)
            && fe_eq(&x, &g.x)
            && fe_eq(&y, &g.y.neg())
            && params.a_is_minus_3 == fe_eq(&curve.a, &minus_3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_bigint::U256;

    fn eval(digits: &[i8]) -> i128 {
        digits.iter().enumerate().map(|(i, d)| i128::from(*d) << i).sum()
    }

    #[test]
    fn wnaf_reconstructs_the_scalar_and_has_sparse_odd_digits() {
        for k in [1u64, 2, 3, 15, 16, 17, 31, 32, 255, 0xFFFF_FFFF, 0x0123_4567_89AB_CDEF] {
            let digits = wnaf(&U256::from_u64(k));
            assert_eq!(eval(&digits[..100]), i128::from(k), "k = {k}");
            for (i, d) in digits.iter().enumerate() {
                if *d != 0 {
                    assert!(d % 2 != 0 && d.abs() < 16, "digit {d}");
                    assert!(
                        digits[i + 1..(i + W as usize).min(digits.len())].iter().all(|x| *x == 0)
                    );
                }
            }
        }
    }
}
