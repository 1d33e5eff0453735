//! The ready-made approximations, in plaintext and encrypted, against the exact functions
//! (`f64::exp`, `x/(1+e^{−x})`, `1/sqrt`, `1/x`) on their documented intervals. Encrypted runs use an
//! insecure N = 2^12 set with 12 levels of 40-bit primes (scale 2^40) and 2048 slots holding a
//! uniform grid of the interval (both ends included).

use cachemir_runtime::approx::chebyshev::grid;
use cachemir_runtime::approx::functions::{
    exp_softmax, inv_sqrt_rmsnorm, reciprocal_softmax, silu, silu_exact, EXP_INTERVAL,
    INV_SQRT_INTERVAL, RECIPROCAL_INTERVAL, SILU_INTERVAL,
};
use cachemir_runtime::ckks::poly_eval::chebyshev_depth;
use cachemir_runtime::ckks::Ciphertext;
mod support;

use support::{deep_n12, Ctx};

impl Ctx {
    /// The interval's grid, encrypted at the top level.
    fn encrypt_grid(&mut self, (a, b): (f64, f64)) -> (Vec<f64>, Ciphertext) {
        let x: Vec<f64> = grid(a, b, self.params.max_slots()).collect();
        let pt = self
            .encoder
            .encode_real(&x, self.params.max_level(), self.params.default_scale())
            .unwrap();
        (x, self.encryptor.encrypt(&pt))
    }

    /// `(max abs error, max relative error)` of `ct` against `f` on `x`.
    fn errors(&self, ct: &Ciphertext, x: &[f64], f: impl Fn(f64) -> f64) -> (f64, f64) {
        let got = self.encoder.decode(&self.decryptor.decrypt(ct));
        got.iter().zip(x).fold((0.0, 0.0), |(abs, rel), (g, &v)| {
            let e = (g.re - f(v)).abs();
            (f64::max(abs, e), f64::max(rel, e / f(v).abs()))
        })
    }
}

#[test]
fn exp_and_silu_encrypted() {
    let mut c = Ctx::new(deep_n12(), &[], false);
    let scale = c.params.default_scale();

    let exp = exp_softmax().unwrap();
    let (x, ct) = c.encrypt_grid(EXP_INTERVAL);
    let out = c.eval.evaluate_chebyshev(&ct, &exp, scale).unwrap();
    assert_eq!(ct.level() - out.level(), chebyshev_depth(15, false));
    let (abs, _) = c.errors(&out, &x, f64::exp);
    eprintln!("exp on {EXP_INTERVAL:?}: max abs error {abs:.2e}");
    assert!(abs < 1e-6, "exp: {abs:e}");

    let s = silu().unwrap();
    let (x, ct) = c.encrypt_grid(SILU_INTERVAL);
    let out = c.eval.evaluate_chebyshev(&ct, &s, scale).unwrap();
    assert_eq!(ct.level() - out.level(), chebyshev_depth(31, false));
    let (abs, _) = c.errors(&out, &x, silu_exact);
    eprintln!("silu on {SILU_INTERVAL:?}: max abs error {abs:.2e}");
    assert!(abs < 2.5e-5, "silu: {abs:e}");
}

#[test]
fn inverse_square_root_and_reciprocal_encrypted() {
    let mut c = Ctx::new(deep_n12(), &[], false);

    let r = inv_sqrt_rmsnorm().unwrap();
    let (x, ct) = c.encrypt_grid(INV_SQRT_INTERVAL);
    let out = r.evaluate(&c.eval, &ct).unwrap();
    assert_eq!(ct.level() - out.level(), r.depth());
    let (_, rel) = c.errors(&out, &x, |v| 1.0 / v.sqrt());
    eprintln!("1/sqrt on {INV_SQRT_INTERVAL:?}: max rel error {rel:.2e}");
    assert!(rel < 2e-6, "inv sqrt: {rel:e}");

    let r = reciprocal_softmax().unwrap();
    let (x, ct) = c.encrypt_grid(RECIPROCAL_INTERVAL);
    let out = r.evaluate(&c.eval, &ct).unwrap();
    assert_eq!(ct.level() - out.level(), r.depth());
    let (_, rel) = c.errors(&out, &x, |v| 1.0 / v);
    eprintln!("1/x on {RECIPROCAL_INTERVAL:?}: max rel error {rel:.2e}");
    assert!(rel < 4e-6, "reciprocal: {rel:e}");
}
