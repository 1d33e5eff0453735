//! The CPU backend: every ring operation, parallel over RNS limbs with rayon.
//!
//! It is the reference implementation of [`Backend`]. Hot loops reduce lazily: products are summed
//! in `u128` and reduced once (see [`crate::Modulus::LAZY_TERMS`]); key switching's basis
//! conversions and inner products sum against one Montgomery-form factor and Montgomery-reduce
//! (see [`crate::Modulus::MONTGOMERY_TERMS`]).

use crate::basis::BasisConverter;
use crate::{Backend, Form, PMultiple, Result, Ring, RnsPoly};
use rayon::prelude::*;
use std::ops::Range;

/// Ring operations on the CPU, parallel over limbs on the current rayon pool.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuBackend;

/// Runs `f(limb, prime_index)` on every limb of `a` in parallel.
fn for_each_limb(a: &mut RnsPoly, f: impl Fn(&mut [u64], usize) + Sync + Send) {
    let n = a.n();
    let primes = a.primes().to_vec();
    a.data_mut()
        .par_chunks_mut(n)
        .zip(primes.par_iter())
        .for_each(|(limb, &p)| f(limb, p));
}

/// Runs `f(limb_a, limb_b, prime_index)` on every pair of limbs in parallel.
fn for_each_limb_pair(
    a: &mut RnsPoly,
    b: &RnsPoly,
    f: impl Fn(&mut [u64], &[u64], usize) + Sync + Send,
) {
    assert_eq!(a.primes(), b.primes(), "operands over different primes");
    assert_eq!(a.form(), b.form(), "operands in different forms");
    let n = a.n();
    let primes = a.primes().to_vec();
    a.data_mut()
        .par_chunks_mut(n)
        .zip(b.data().par_chunks(n))
        .zip(primes.par_iter())
        .for_each(|((x, y), &p)| f(x, y, p));
}

/// Step 1 of a basis conversion ([`crate::basis`]), in place: each source limb (coefficient form)
/// times its `(A/a_i)^{-1}`.
fn scale_sources(conv: &BasisConverter, sources: &mut RnsPoly) {
    assert_eq!(
        sources.form(),
        Form::Coeff,
        "basis conversion works on coefficients"
    );
    let n = sources.n();
    sources
        .data_mut()
        .par_chunks_mut(n)
        .enumerate()
        .for_each(|(i, limb)| conv.scale_source_limb(i, limb));
}

impl Backend for CpuBackend {
    fn to_eval(&self, ring: &Ring, a: &mut RnsPoly) {
        if a.form() == Form::Coeff {
            for_each_limb(a, |limb, p| ring.ntt(p).forward(limb));
            a.set_form(Form::Eval);
        }
    }

    fn to_coeff(&self, ring: &Ring, a: &mut RnsPoly) {
        if a.form() == Form::Eval {
            for_each_limb(a, |limb, p| ring.ntt(p).inverse(limb));
            a.set_form(Form::Coeff);
        }
    }

    fn add_assign(&self, ring: &Ring, a: &mut RnsPoly, b: &RnsPoly) {
        for_each_limb_pair(a, b, |x, y, p| {
            let m = ring.modulus(p);
            x.iter_mut().zip(y).for_each(|(x, &y)| *x = m.add(*x, y));
        });
    }

    fn sub_assign(&self, ring: &Ring, a: &mut RnsPoly, b: &RnsPoly) {
        for_each_limb_pair(a, b, |x, y, p| {
            let m = ring.modulus(p);
            x.iter_mut().zip(y).for_each(|(x, &y)| *x = m.sub(*x, y));
        });
    }

    fn neg_assign(&self, ring: &Ring, a: &mut RnsPoly) {
        for_each_limb(a, |x, p| {
            let m = ring.modulus(p);
            x.iter_mut().for_each(|x| *x = m.neg(*x));
        });
    }

    fn mul_assign(&self, ring: &Ring, a: &mut RnsPoly, b: &RnsPoly) {
        debug_assert_eq!(a.form(), Form::Eval);
        for_each_limb_pair(a, b, |x, y, p| {
            let m = ring.modulus(p);
            x.iter_mut().zip(y).for_each(|(x, &y)| *x = m.mul(*x, y));
        });
    }

    fn mul_add_assign(&self, ring: &Ring, acc: &mut RnsPoly, a: &RnsPoly, b: &RnsPoly) {
        assert!(
            acc.primes() == a.primes() && a.primes() == b.primes(),
            "operands over different primes"
        );
        let n = a.n();
        let primes = a.primes().to_vec();
        acc.data_mut()
            .par_chunks_mut(n)
            .zip(a.data().par_chunks(n).zip(b.data().par_chunks(n)))
            .zip(primes.par_iter())
            .for_each(|((acc, (x, y)), &p)| {
                let m = ring.modulus(p);
                for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
                    *s = m.reduce_u128(x as u128 * y as u128 + *s as u128);
                }
            });
    }

    fn mul_scalar_assign(&self, ring: &Ring, a: &mut RnsPoly, scalars: &[u64]) {
        assert_eq!(scalars.len(), a.limb_count());
        let primes = a.primes().to_vec();
        let n = a.n();
        a.data_mut()
            .par_chunks_mut(n)
            .zip(scalars.par_iter().zip(primes.par_iter()))
            .for_each(|(x, (&s, &p))| {
                let m = ring.modulus(p);
                let s_shoup = m.shoup(s);
                x.iter_mut().for_each(|x| *x = m.mul_shoup(*x, s, s_shoup));
            });
    }

    fn mul_scalar_add_assign(&self, ring: &Ring, acc: &mut RnsPoly, a: &RnsPoly, scalars: &[u64]) {
        let count = acc.limb_count().min(a.limb_count());
        assert_eq!(scalars.len(), count);
        assert_eq!(
            &acc.primes()[..count],
            &a.primes()[..count],
            "operands over different primes"
        );
        assert_eq!(acc.form(), a.form(), "operands in different forms");
        let primes = acc.primes().to_vec();
        let n = acc.n();
        acc.data_mut()[..count * n]
            .par_chunks_mut(n)
            .zip(a.data()[..count * n].par_chunks(n))
            .zip(scalars.par_iter().zip(primes.par_iter()))
            .for_each(|((x, y), (&s, &p))| {
                let m = ring.modulus(p);
                let s_shoup = m.shoup(s);
                x.iter_mut()
                    .zip(y)
                    .for_each(|(x, &y)| *x = m.add(*x, m.mul_shoup(y, s, s_shoup)));
            });
    }

    fn add_scalar_assign(&self, ring: &Ring, a: &mut RnsPoly, scalars: &[u64]) {
        assert_eq!(
            a.form(),
            Form::Eval,
            "constants add point-wise only in evaluation form"
        );
        assert_eq!(scalars.len(), a.limb_count());
        let primes = a.primes().to_vec();
        let n = a.n();
        a.data_mut()
            .par_chunks_mut(n)
            .zip(scalars.par_iter().zip(primes.par_iter()))
            .for_each(|(x, (&s, &p))| {
                let m = ring.modulus(p);
                x.iter_mut().for_each(|x| *x = m.add(*x, s));
            });
    }

    fn dot<const K: usize>(
        &self,
        ring: &Ring,
        terms: &[([&RnsPoly; K], &RnsPoly)],
    ) -> [RnsPoly; K] {
        assert!(!terms.is_empty() && terms.len() <= crate::Modulus::LAZY_TERMS);
        let (_, first) = terms[0];
        let n = first.n();
        let primes = first.primes().to_vec();
        for (xs, y) in terms {
            assert_eq!(y.primes(), &primes[..], "operands over different primes");
            for x in xs {
                assert_eq!(x.primes(), &primes[..], "operands over different primes");
            }
        }
        let mut out: [RnsPoly; K] = std::array::from_fn(|_| RnsPoly::zero(n, &primes, Form::Eval));
        // Limb k of every output, together: the shared factor's limb is read once for all K.
        let mut chunks = out.each_mut().map(|o| o.data_mut().chunks_exact_mut(n));
        let limbs: Vec<[&mut [u64]; K]> = (0..primes.len())
            .map(|_| {
                chunks
                    .each_mut()
                    .map(|c| c.next().expect("one chunk per limb"))
            })
            .collect();
        const BLOCK: usize = 512;
        limbs
            .into_par_iter()
            .enumerate()
            .for_each(|(k, mut out_limbs)| {
                let m = ring.modulus(primes[k]);
                let mut acc = [[0u128; K]; BLOCK];
                for start in (0..n).step_by(BLOCK) {
                    let end = (start + BLOCK).min(n);
                    let acc = &mut acc[..end - start];
                    acc.fill([0; K]);
                    for (xs, y) in terms {
                        let xs = xs.map(|x| &x.limb(k)[start..end]);
                        for (i, (s, &y)) in acc.iter_mut().zip(&y.limb(k)[start..end]).enumerate() {
                            for (s, x) in s.iter_mut().zip(&xs) {
                                *s += x[i] as u128 * y as u128;
                            }
                        }
                    }
                    for (o, t) in out_limbs.iter_mut().zip(0..K) {
                        for (o, s) in o[start..end].iter_mut().zip(acc.iter()) {
                            *o = m.reduce_u128(s[t]);
                        }
                    }
                }
            });
        out
    }

    fn automorphism(&self, ring: &Ring, a: &RnsPoly, galois: u64) -> Result<RnsPoly> {
        let n = a.n();
        let mut out = RnsPoly::zero(n, a.primes(), a.form());
        match a.form() {
            Form::Eval => {
                let perm = ring.galois_permutation(galois)?;
                out.data_mut()
                    .par_chunks_mut(n)
                    .enumerate()
                    .for_each(|(k, o)| {
                        let src = a.limb(k);
                        o.iter_mut()
                            .zip(perm.iter())
                            .for_each(|(o, &j)| *o = src[j as usize]);
                    });
            }
            Form::Coeff => {
                let g = ring.galois_residue(galois)?;
                let two_n = 2 * n as u64;
                let primes = a.primes().to_vec();
                out.data_mut()
                    .par_chunks_mut(n)
                    .enumerate()
                    .for_each(|(k, o)| {
                        let m = ring.modulus(primes[k]);
                        for (i, &c) in a.limb(k).iter().enumerate() {
                            let j = (i as u64 * g % two_n) as usize;
                            if j < n {
                                o[j] = c;
                            } else {
                                o[j - n] = m.neg(c);
                            }
                        }
                    });
            }
        }
        Ok(out)
    }

    fn mod_up(
        &self,
        ring: &Ring,
        c: &RnsPoly,
        coeff: &RnsPoly,
        digit: Range<usize>,
        to: &[usize],
    ) -> RnsPoly {
        assert_eq!(c.form(), Form::Eval);
        assert_eq!(c.primes(), coeff.primes(), "c and its coefficients differ");
        assert_eq!(
            &to[..c.limb_count()],
            c.primes(),
            "to must extend c's primes"
        );
        let own = &c.primes()[digit.clone()];
        let others: Vec<usize> = to.iter().copied().filter(|p| !own.contains(p)).collect();
        let conv = ring.converter(own, &others);
        let mut scaled = coeff.select_limbs(&digit.clone().collect::<Vec<_>>());
        scale_sources(&conv, &mut scaled);
        let rows: Vec<&[u64]> = scaled.data().chunks_exact(c.n()).collect();
        let mut out = RnsPoly::zero(c.n(), to, Form::Eval);
        // Each extended limb is converted and transformed while it is in cache; every limb leaves
        // in Montgomery form (times 2^64), which the inner product reduces away.
        out.data_mut()
            .par_chunks_mut(c.n())
            .zip(to.par_iter())
            .enumerate()
            .for_each(|(k, (limb, &p))| {
                if digit.contains(&k) {
                    let m = ring.modulus(p);
                    let r = m.to_montgomery(1);
                    let r_shoup = m.shoup(r);
                    limb.iter_mut()
                        .zip(c.limb(k))
                        .for_each(|(o, &x)| *o = m.mul_shoup(x, r, r_shoup));
                } else {
                    let j = if k < digit.start { k } else { k - digit.len() };
                    conv.convert_into_target_limb_montgomery(j, &rows, limb);
                    ring.ntt(p).forward(limb);
                }
            });
        out
    }

    fn divide_round_by_last(&self, ring: &Ring, a: &mut RnsPoly) {
        assert_eq!(a.form(), Form::Eval);
        let count = a.limb_count();
        assert!(
            count >= 2,
            "cannot drop the last prime of a one-limb polynomial"
        );
        let last_prime = a.primes()[count - 1];
        let ql = *ring.modulus(last_prime);
        let half = ql.value() / 2;
        let mut last = a.limb(count - 1).to_vec();
        ring.ntt(last_prime).inverse(&mut last);
        last.iter_mut().for_each(|x| *x = ql.add(*x, half));
        a.truncate_limbs(count - 1);
        for_each_limb(a, |limb, p| {
            let m = ring.modulus(p);
            let half_mod = m.reduce(half);
            let mut t: Vec<u64> = last.iter().map(|&x| m.sub(m.reduce(x), half_mod)).collect();
            ring.ntt(p).forward(&mut t);
            let inv = m.inv(ql.value()).expect("distinct primes");
            let inv_shoup = m.shoup(inv);
            limb.iter_mut()
                .zip(&t)
                .for_each(|(x, &t)| *x = m.mul_shoup(m.sub(*x, t), inv, inv_shoup));
        });
    }

    fn key_switch_inner_product(
        &self,
        ring: &Ring,
        digits: &[RnsPoly],
        key: &[(RnsPoly, RnsPoly)],
        permutation: Option<&[u32]>,
        p_multiple: Option<PMultiple<'_>>,
    ) -> (RnsPoly, RnsPoly) {
        assert!(!digits.is_empty() && digits.len() <= key.len());
        let n = digits[0].n();
        let primes = digits[0].primes().to_vec();
        if let Some(pm) = p_multiple {
            assert!(pm.polys.len() <= 2, "P·c has at most two polynomials");
            for c in pm.polys {
                assert!(
                    primes.starts_with(c.primes()),
                    "P·c over a prefix of the digits' primes"
                );
                assert!(
                    pm.p_mod_q.len() >= c.limb_count(),
                    "P mod q for every limb of P·c"
                );
            }
        }
        let mut out_b = RnsPoly::zero(n, &primes, Form::Eval);
        let mut out_a = RnsPoly::zero(n, &primes, Form::Eval);
        let pairs: Vec<_> = digits.iter().zip(key).collect();
        const BLOCK: usize = 256;
        out_b
            .data_mut()
            .par_chunks_mut(n)
            .zip(out_a.data_mut().par_chunks_mut(n))
            .enumerate()
            .for_each(|(k, (ob, oa))| {
                let p = primes[k];
                let m = ring.modulus(p);
                // The key may cover more primes than the digits (a key made for a higher level).
                let key_limb = key[0]
                    .0
                    .primes()
                    .iter()
                    .position(|&q| q == p)
                    .expect("the key covers the digits' primes");
                // This limb of P·c_0 and P·c_1, if added: (limb, P mod q, its Shoup companion).
                let p_terms: [Option<(&[u64], u64, u64)>; 2] = std::array::from_fn(|o| {
                    let pm = p_multiple?;
                    let c = pm.polys.get(o).filter(|c| k < c.limb_count())?;
                    let f = pm.p_mod_q[k];
                    Some((c.limb(k), f, m.shoup(f)))
                });
                let (mut acc_b, mut acc_a) = ([0u128; BLOCK], [0u128; BLOCK]);
                let mut gathered = [0u64; BLOCK];
                for start in (0..n).step_by(BLOCK) {
                    let end = start + BLOCK.min(n - start);
                    let len = end - start;
                    // Montgomery sums: digits carry 2^64, which each reduction removes.
                    for (pass, chunk) in pairs.chunks(crate::Modulus::MONTGOMERY_TERMS).enumerate()
                    {
                        acc_b[..len].fill(0);
                        acc_a[..len].fill(0);
                        for (d, (kb, ka)) in chunk {
                            let src = d.limb(k);
                            let x: &[u64] = match permutation {
                                Some(perm) => {
                                    for (g, &j) in gathered[..len].iter_mut().zip(&perm[start..end])
                                    {
                                        *g = src[j as usize];
                                    }
                                    &gathered[..len]
                                }
                                None => &src[start..end],
                            };
                            let (yb, ya) = (
                                &kb.limb(key_limb)[start..end],
                                &ka.limb(key_limb)[start..end],
                            );
                            for i in 0..len {
                                acc_b[i] += x[i] as u128 * yb[i] as u128;
                                acc_a[i] += x[i] as u128 * ya[i] as u128;
                            }
                        }
                        for i in 0..len {
                            let (b, a) =
                                (m.montgomery_reduce(acc_b[i]), m.montgomery_reduce(acc_a[i]));
                            if pass == 0 {
                                (ob[start + i], oa[start + i]) = (b, a);
                            } else {
                                ob[start + i] = m.add(ob[start + i], b);
                                oa[start + i] = m.add(oa[start + i], a);
                            }
                        }
                    }
                    for (out, term) in [&mut *ob, &mut *oa].into_iter().zip(&p_terms) {
                        if let Some((c, f, f_shoup)) = term {
                            for i in start..end {
                                let j = permutation.map_or(i, |perm| perm[i] as usize);
                                out[i] = m.add(out[i], m.mul_shoup(c[j], *f, *f_shoup));
                            }
                        }
                    }
                }
            });
        (out_b, out_a)
    }

    fn mod_down(&self, ring: &Ring, mut a: RnsPoly, count: usize) -> RnsPoly {
        assert_eq!(a.form(), Form::Eval);
        assert!(count < a.limb_count(), "mod_down would drop every limb");
        let kept = a.limb_count() - count;
        let mut dropped = a.select_limbs(&(kept..a.limb_count()).collect::<Vec<_>>());
        self.to_coeff(ring, &mut dropped);
        a.truncate_limbs(kept);
        let conv = ring.converter(dropped.primes(), a.primes());
        let divisor: Vec<u64> = dropped
            .primes()
            .iter()
            .map(|&i| ring.modulus(i).value())
            .collect();
        scale_sources(&conv, &mut dropped);
        let rows: Vec<&[u64]> = dropped.data().chunks_exact(a.n()).collect();
        let overflow = conv.overflow_counts(&rows);
        // Per limb, while it is in cache: the exact centered residue of the dropped part, to
        // evaluation form, subtracted; the difference times D^{-1}.
        let primes = a.primes().to_vec();
        let n = a.n();
        a.data_mut()
            .par_chunks_mut(n)
            .zip(primes.par_iter())
            .enumerate()
            .for_each(|(j, (x, &p))| {
                let m = ring.modulus(p);
                let mut correction = vec![0; n];
                conv.convert_centered_into_target_limb(j, &rows, &overflow, &mut correction);
                ring.ntt(p).forward(&mut correction);
                let d_mod = divisor.iter().fold(1, |acc, &d| m.mul(acc, m.reduce(d)));
                let inv = m.inv(d_mod).expect("distinct primes");
                let inv_shoup = m.shoup(inv);
                x.iter_mut()
                    .zip(&correction)
                    .for_each(|(x, &c)| *x = m.mul_shoup(m.sub(*x, c), inv, inv_shoup));
            });
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primes::ntt_primes;
    use crate::Sampler;
    use num_bigint::{BigInt, BigUint};

    fn ring() -> Ring {
        let q = ntt_primes(5, &[50, 40, 45, 61], &[]).unwrap();
        let p = ntt_primes(5, &[61, 60], &q).unwrap();
        Ring::new(5, &q, &p).unwrap()
    }

    /// The centered integer a coefficient represents over `primes` (big-integer CRT).
    fn crt(ring: &Ring, a: &RnsPoly, j: usize) -> BigInt {
        let qs: Vec<BigUint> = a
            .primes()
            .iter()
            .map(|&p| BigUint::from(ring.modulus(p).value()))
            .collect();
        let big_q: BigUint = qs.iter().product();
        let mut x = BigUint::default();
        for (k, qk) in qs.iter().enumerate() {
            let hat = &big_q / qk;
            let inv = hat.modinv(qk).unwrap();
            x += BigUint::from(a.limb(k)[j]) * &hat * inv;
        }
        let x = BigInt::from(x % &big_q);
        if x > BigInt::from(&big_q / 2u32) {
            x - BigInt::from(big_q)
        } else {
            x
        }
    }

    #[test]
    fn eval_form_automorphism_matches_coefficient_rule() {
        let ring = ring();
        let n = ring.n();
        let coeffs = Sampler::from_os()
            .gaussian(n)
            .iter()
            .map(|x| x * 1000 + 7)
            .collect::<Vec<_>>();
        let a = RnsPoly::from_signed(&ring, &ring.q_indices(3), &coeffs);
        for g in [5u64, 25, 2 * n as u64 - 1, 3] {
            // Oracle: X^i → ±X^{i·g mod N}.
            let mut expect = vec![0i64; n];
            for (i, &c) in coeffs.iter().enumerate() {
                let j = i * g as usize % (2 * n);
                if j < n {
                    expect[j] = c;
                } else {
                    expect[j - n] = -c;
                }
            }
            let mut eval = a.clone();
            CpuBackend.to_eval(&ring, &mut eval);
            let mut got = CpuBackend.automorphism(&ring, &eval, g).unwrap();
            CpuBackend.to_coeff(&ring, &mut got);
            assert_eq!(
                got,
                RnsPoly::from_signed(&ring, &ring.q_indices(3), &expect),
                "g = {g}"
            );
            assert_eq!(CpuBackend.automorphism(&ring, &a, g).unwrap(), got);
        }
        assert!(CpuBackend.automorphism(&ring, &a, 4).is_err());
    }

    #[test]
    fn rescale_divides_and_rounds_like_big_integers() {
        let ring = ring();
        let mut s = Sampler::from_os();
        let mut a = s.uniform(&ring, &ring.q_indices(3));
        let mut coeff = a.clone();
        CpuBackend.to_coeff(&ring, &mut coeff);
        CpuBackend.divide_round_by_last(&ring, &mut a);
        CpuBackend.to_coeff(&ring, &mut a);
        let q_last = BigInt::from(ring.modulus(3).value());
        for j in 0..ring.n() {
            let x = crt(&ring, &coeff, j);
            // round(x / q) for integers, ties away from zero not needed: floor((x + q/2) / q).
            let half = &q_last / 2;
            let expect = num_integer_floor_div(&(x + half), &q_last);
            assert_eq!(crt(&ring, &a, j), expect, "coefficient {j}");
        }
    }

    fn num_integer_floor_div(a: &BigInt, b: &BigInt) -> BigInt {
        let (q, r) = (a / b, a % b);
        if r.sign() == num_bigint::Sign::Minus {
            q - 1
        } else {
            q
        }
    }

    /// ModUp of a middle digit against big-integer CRT: the digit's own limbs are kept, every other
    /// limb holds `x + u·A` with `0 ≤ u < |digit|` (`x` the digit's residue in `[0, A)`).
    #[test]
    fn mod_up_extends_a_digit_like_big_integers() {
        let ring = ring();
        let mut s = Sampler::from_os();
        let c = s.uniform(&ring, &ring.q_indices(3));
        let mut coeff = c.clone();
        CpuBackend.to_coeff(&ring, &mut coeff);
        let to = ring.qp_indices(3);
        let digit = 1..3;
        let mut up = CpuBackend.mod_up(&ring, &c, &coeff, digit.clone(), &to);
        assert_eq!((up.primes(), up.form()), (&to[..], Form::Eval));
        // Back from Montgomery form.
        for (k, &p) in to.iter().enumerate() {
            let m = ring.modulus(p);
            let r_inv = m.inv(m.to_montgomery(1)).unwrap();
            up.limb_mut(k)
                .iter_mut()
                .for_each(|x| *x = m.mul(*x, r_inv));
        }
        for k in digit.clone() {
            assert_eq!(up.limb(k), c.limb(k), "own limb {k}");
        }
        CpuBackend.to_coeff(&ring, &mut up);
        let digit_poly = coeff.select_limbs(&digit.clone().collect::<Vec<_>>());
        let big_a: BigUint = digit
            .clone()
            .map(|k| BigUint::from(ring.modulus(to[k]).value()))
            .product();
        for j in 0..ring.n() {
            let x = crt(&ring, &digit_poly, j);
            let x = if x < BigInt::from(0) {
                x + BigInt::from(big_a.clone())
            } else {
                x
            };
            for (k, &p) in to.iter().enumerate().filter(|(k, _)| !digit.contains(k)) {
                let q = BigInt::from(ring.modulus(p).value());
                let ok = (0..digit.len()).any(|u| {
                    let v = (&x + BigInt::from(big_a.clone()) * u) % &q;
                    v == BigInt::from(up.limb(k)[j])
                });
                assert!(ok, "limb {k}, coefficient {j}");
            }
        }
    }

    /// ModDown by P, and by P·q_l (ModDown fused with a rescale), against big-integer rounding.
    #[test]
    fn mod_down_rounds_the_division_by_its_last_primes() {
        let ring = ring();
        let mut s = Sampler::from_os();
        let primes = ring.qp_indices(2);
        for count in [ring.p_count(), ring.p_count() + 1] {
            let a = s.uniform(&ring, &primes);
            let mut coeff = a.clone();
            CpuBackend.to_coeff(&ring, &mut coeff);
            let mut down = CpuBackend.mod_down(&ring, a, count);
            CpuBackend.to_coeff(&ring, &mut down);
            let kept = primes.len() - count;
            assert_eq!(down.primes(), &primes[..kept]);
            let product = |ps: &[usize]| -> BigInt {
                ps.iter()
                    .map(|&i| BigInt::from(ring.modulus(i).value()))
                    .product()
            };
            let (divisor, modulus) = (product(&primes[kept..]), product(&primes[..kept]));
            for j in 0..ring.n() {
                let x = crt(&ring, &coeff, j);
                let got = crt(&ring, &down, j);
                // round(x/D) = floor((x + D/2)/D), exactly (the centered conversion's float
                // estimate could only miss within ~2^−50 of a half, never hit by random inputs).
                let exact = num_integer_floor_div(&(&x + &divisor / 2), &divisor);
                let diff = ((got - exact) % &modulus + &modulus) % &modulus;
                assert_eq!(diff, BigInt::from(0), "{count} limbs, coefficient {j}");
            }
        }
    }

    #[test]
    fn dot_and_mul_add_match_pointwise_products() {
        let ring = ring();
        let mut s = Sampler::from_os();
        let primes = ring.qp_indices(3);
        let polys: Vec<RnsPoly> = (0..9).map(|_| s.uniform(&ring, &primes)).collect();
        // Three terms (x_t, x'_t, y_t): one sum, then two sums sharing the y_t.
        let terms: Vec<[&RnsPoly; 3]> = polys.chunks(3).map(|c| [&c[0], &c[1], &c[2]]).collect();
        let single: Vec<([&RnsPoly; 1], &RnsPoly)> =
            terms.iter().map(|[x, _, y]| ([*x], *y)).collect();
        let pair: Vec<([&RnsPoly; 2], &RnsPoly)> =
            terms.iter().map(|[x, z, y]| ([*x, *z], *y)).collect();
        let [got] = CpuBackend.dot(&ring, &single);
        let [first, second] = CpuBackend.dot(&ring, &pair);
        assert_eq!(first, got);
        let mut acc = RnsPoly::zero(ring.n(), &primes, Form::Eval);
        for [x, _, y] in &terms {
            CpuBackend.mul_add_assign(&ring, &mut acc, x, y);
        }
        assert_eq!(got, acc);
        for (k, &p) in primes.iter().enumerate() {
            let q = ring.modulus(p).value() as u128;
            let naive = |factor: usize, j: usize| {
                terms
                    .iter()
                    .map(|t| t[factor].limb(k)[j] as u128 * t[2].limb(k)[j] as u128 % q)
                    .sum::<u128>()
                    % q
            };
            for j in 0..ring.n() {
                assert_eq!(got.limb(k)[j] as u128, naive(0, j));
                assert_eq!(second.limb(k)[j] as u128, naive(1, j));
            }
        }
    }

    /// The inner product removes the digits' Montgomery factor, over one pass of digits and over
    /// several (more digits than [`crate::Modulus::MONTGOMERY_TERMS`]), with and without a
    /// permutation, against a naive sum.
    #[test]
    fn key_switch_inner_product_matches_a_naive_sum() {
        let ring = ring();
        let mut s = Sampler::from_os();
        let primes = ring.qp_indices(3);
        let perm = ring.galois_permutation(5).unwrap();
        // P·(c_0, c_1) over the first three primes (a prefix, as Q_l is of Q_l ∪ P).
        let c: Vec<RnsPoly> = (0..2).map(|_| s.uniform(&ring, &primes[..3])).collect();
        let factors: Vec<u64> = primes[..3]
            .iter()
            .map(|&p| ring.modulus(p).value() / 3 + 7)
            .collect();
        for count in [3, crate::Modulus::MONTGOMERY_TERMS + 3] {
            let digits: Vec<RnsPoly> = (0..count).map(|_| s.uniform(&ring, &primes)).collect();
            let key: Vec<(RnsPoly, RnsPoly)> = (0..count)
                .map(|_| (s.uniform(&ring, &primes), s.uniform(&ring, &primes)))
                .collect();
            for permutation in [None, Some(&perm[..])] {
                for added in [0, 1, 2] {
                    let p_multiple = (added > 0).then(|| PMultiple {
                        polys: &c[..added],
                        p_mod_q: &factors,
                    });
                    let (b, a) = CpuBackend.key_switch_inner_product(
                        &ring,
                        &digits,
                        &key,
                        permutation,
                        p_multiple,
                    );
                    for (k, &p) in primes.iter().enumerate() {
                        let m = ring.modulus(p);
                        let r_inv = m.inv(m.to_montgomery(1)).unwrap();
                        for j in 0..ring.n() {
                            let i = permutation.map_or(j, |perm| perm[j] as usize);
                            let sum = |half: fn(&(RnsPoly, RnsPoly)) -> &RnsPoly, o: usize| {
                                let keyed = digits.iter().zip(&key).fold(0, |acc, (d, kj)| {
                                    let t = m.mul(d.limb(k)[i], half(kj).limb(k)[j]);
                                    m.add(acc, m.mul(t, r_inv))
                                });
                                match c.get(o).filter(|_| o < added && k < 3) {
                                    Some(c) => m.add(keyed, m.mul(c.limb(k)[i], factors[k])),
                                    None => keyed,
                                }
                            };
                            let case = format!("{count} digits, P·c of {added}, limb {k}");
                            assert_eq!(b.limb(k)[j], sum(|kj| &kj.0, 0), "{case}");
                            assert_eq!(a.limb(k)[j], sum(|kj| &kj.1, 1), "{case}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn mul_scalar_add_works_on_the_limbs_both_operands_share() {
        let ring = ring();
        let mut s = Sampler::from_os();
        let primes = ring.qp_indices(1);
        let (short, long) = (s.uniform(&ring, &primes[..2]), s.uniform(&ring, &primes));
        let scalars = [12_345_678_901u64, 3];
        // Either operand may be the longer one; limbs beyond the shared prefix stay untouched.
        for (acc, a) in [(&short, &long), (&long, &short)] {
            let mut got = acc.clone();
            CpuBackend.mul_scalar_add_assign(&ring, &mut got, a, &scalars);
            for (k, &p) in got.primes().iter().enumerate() {
                let q = ring.modulus(p).value() as u128;
                for j in 0..ring.n() {
                    let e = if k < 2 {
                        (acc.limb(k)[j] as u128 + a.limb(k)[j] as u128 * (scalars[k] as u128 % q))
                            % q
                    } else {
                        acc.limb(k)[j] as u128
                    };
                    assert_eq!(got.limb(k)[j] as u128, e, "limb {k}, coefficient {j}");
                }
            }
        }
    }
}
