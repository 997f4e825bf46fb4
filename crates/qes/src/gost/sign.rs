//! GOST R 34.10-2012 signing (section 6.1), for the platform's own documents.
//!
//! Unlike verification, signing handles secrets (the key `d` and the nonce `k`), so this
//! code is constant-time: field arithmetic is `crypto-bigint`'s `ConstMontyForm`, scalar
//! arithmetic its `FixedMontyForm`, and `k·G` is a Montgomery ladder over every bit of the
//! scalar's width with constant-time swaps and the complete projective addition formulas
//! of Renes, Costello and Batina (2016, algorithm 1, any `a`), which have no special
//! cases — not even the point at infinity the ladder starts from. The formulas are
//! complete on curves without points of order two; on the cofactor-4 curves (the twisted
//! Edwards sets) they are still exact for points of the prime-order subgroup, which is
//! all that multiples of `G` are.

use crypto_bigint::{
    CtAssign, NonZero, Uint,
    modular::{ConstMontyForm, ConstMontyParams, FixedMontyForm},
};

use super::curves::CurveParams;

type F<M, const L: usize> = ConstMontyForm<M, L>;

#[derive(Clone, Copy)]
struct Projective<M: ConstMontyParams<L>, const L: usize> {
    x: F<M, L>,
    y: F<M, L>,
    z: F<M, L>,
}

impl<M: ConstMontyParams<L>, const L: usize> Projective<M, L> {
    fn swap(p: &mut Self, q: &mut Self, choice: crypto_bigint::Choice) {
        let (p0, q0) = (*p, *q);
        p.x.ct_assign(&q0.x, choice);
        p.y.ct_assign(&q0.y, choice);
        p.z.ct_assign(&q0.z, choice);
        q.x.ct_assign(&p0.x, choice);
        q.y.ct_assign(&p0.y, choice);
        q.z.ct_assign(&p0.z, choice);
    }
}

/// `p + q` by the complete formulas (RCB16, algorithm 1): 12M + 3·a + 2·3b.
fn add<M: ConstMontyParams<L>, const L: usize>(
    a: &F<M, L>,
    b3: &F<M, L>,
    p: &Projective<M, L>,
    q: &Projective<M, L>,
) -> Projective<M, L> {
    let t0 = p.x.mul(&q.x);
    let t1 = p.y.mul(&q.y);
    let t2 = p.z.mul(&q.z);
    let t3 = p.x.add(&p.y).mul(&q.x.add(&q.y)).sub(&t0.add(&t1));
    let t4 = p.x.add(&p.z).mul(&q.x.add(&q.z)).sub(&t0.add(&t2));
    let t5 = p.y.add(&p.z).mul(&q.y.add(&q.z)).sub(&t1.add(&t2));
    let z3 = a.mul(&t4).add(&b3.mul(&t2));
    let x3 = t1.sub(&z3);
    let z3 = t1.add(&z3);
    let y3 = x3.mul(&z3);
    let t1 = t0.double().add(&t0);
    let t2 = a.mul(&t2);
    let t4 = b3.mul(&t4);
    let t1 = t1.add(&t2);
    let t2 = a.mul(&t0.sub(&t2));
    let t4 = t4.add(&t2);
    let y3 = y3.add(&t1.mul(&t4));
    let x3 = t3.mul(&x3).sub(&t5.mul(&t4));
    let z3 = t5.mul(&z3).add(&t3.mul(&t1));
    Projective { x: x3, y: y3, z: z3 }
}

/// `k·G` in affine coordinates, constant-time in `k`; `None` only for `k ≡ 0 (mod q)`.
fn base_mul<M: ConstMontyParams<L>, const L: usize>(
    params: &CurveParams<L>,
    k: &Uint<L>,
) -> Option<(Uint<L>, Uint<L>)> {
    let a = F::<M, L>::new(&params.a);
    let b = F::<M, L>::new(&params.b);
    let b3 = b.double().add(&b);
    let g = Projective { x: F::new(&params.gx), y: F::new(&params.gy), z: F::ONE };
    let mut r0 = Projective { x: F::ZERO, y: F::ONE, z: F::ZERO };
    let mut r1 = g;
    for i in (0..Uint::<L>::BITS).rev() {
        let bit = k.bit(i);
        Projective::swap(&mut r0, &mut r1, bit);
        r1 = add(&a, &b3, &r0, &r1);
        r0 = add(&a, &b3, &r0, &r0);
        Projective::swap(&mut r0, &mut r1, bit);
    }
    let z_inv = r0.z.invert().into_option()?;
    Some((r0.x.mul(&z_inv).retrieve(), r0.y.mul(&z_inv).retrieve()))
}

/// The public key `Q = d·G`, or `None` if `d` is not in `(0, q)`.
pub(crate) fn public_point<M: ConstMontyParams<L>, const L: usize>(
    params: &CurveParams<L>,
    d: &Uint<L>,
) -> Option<(Uint<L>, Uint<L>)> {
    if d.is_zero_vartime() || d >= params.q.as_ref() {
        return None;
    }
    base_mul::<M, L>(params, d)
}

/// Signs the integer `e` (the digest read little-endian) with the key `d` and the nonce
/// `k` (both in `(0, q)`, `k` secret and never reused): returns `(r, s)`, or `None` when
/// `r` or `s` came out zero and another `k` must be drawn (probability about 2/q).
pub(crate) fn sign<M: ConstMontyParams<L>, const L: usize>(
    params: &CurveParams<L>,
    d: &Uint<L>,
    e: &Uint<L>,
    k: &Uint<L>,
) -> Option<(Uint<L>, Uint<L>)> {
    let q = params.q.as_ref();
    if k.is_zero_vartime() || k >= q || d.is_zero_vartime() || d >= q {
        return None;
    }
    // Step 2: e = α mod q, or 1 if that is 0 (the digest is public).
    let q_nz = NonZero::from(params.q);
    let mut e = e.rem_vartime(&q_nz);
    if e.is_zero_vartime() {
        e = Uint::ONE;
    }
    // Steps 3–4: C = k·G, r = x_C mod q (r is public, so reducing it may branch).
    let (x, _) = base_mul::<M, L>(params, k)?;
    let r = x.rem_vartime(&q_nz);
    if r.is_zero_vartime() {
        return None;
    }
    // Step 5: s = (r·d + k·e) mod q.
    let m = |v: &Uint<L>| FixedMontyForm::new(v, &params.q_params);
    let s = m(&r).mul(&m(d)).add(&m(k).mul(&m(&e))).retrieve();
    if s.is_zero_vartime() {
        return None;
    }
    Some((r, s))
}
