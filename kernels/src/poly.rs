//! RNS polynomials: one row of N residues per prime ("limb"), in coefficient or evaluation form.

use crate::Ring;

/// Whether a polynomial holds coefficients or NTT evaluations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// Coefficients `a_0 … a_{N-1}` of `a(X)`.
    Coeff,
    /// Evaluations at the 2N-th roots of unity, in the ring's evaluation order.
    Eval,
}

/// A polynomial of `Z[X]/(X^N + 1)` reduced modulo a set of primes of a [`Ring`].
///
/// Limbs are stored contiguously (limb-major), so limb `k` is `data[k·N .. (k+1)·N]` and belongs
/// to the prime-table entry `primes[k]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RnsPoly {
    n: usize,
    primes: Vec<usize>,
    data: Vec<u64>,
    form: Form,
}

impl RnsPoly {
    /// The zero polynomial over the given primes.
    pub fn zero(n: usize, primes: &[usize], form: Form) -> Self {
        Self {
            n,
            primes: primes.to_vec(),
            data: vec![0; n * primes.len()],
            form,
        }
    }

    /// Builds from raw limbs (`data.len()` must be `n · primes.len()`, residues reduced).
    pub fn from_raw(n: usize, primes: Vec<usize>, data: Vec<u64>, form: Form) -> Self {
        assert_eq!(
            data.len(),
            n * primes.len(),
            "limb data does not match the prime count"
        );
        Self {
            n,
            primes,
            data,
            form,
        }
    }

    /// The polynomial with small signed coefficients `coeffs`, reduced modulo each of `primes`, in coefficient form.
    pub fn from_signed(ring: &Ring, primes: &[usize], coeffs: &[i64]) -> Self {
        let n = ring.n();
        assert_eq!(coeffs.len(), n);
        let mut data = Vec::with_capacity(n * primes.len());
        for &p in primes {
            let m = ring.modulus(p);
            data.extend(coeffs.iter().map(|&c| m.reduce_i64(c)));
        }
        Self {
            n,
            primes: primes.to_vec(),
            data,
            form: Form::Coeff,
        }
    }

    /// Ring degree.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Prime-table indices of the limbs, in storage order.
    pub fn primes(&self) -> &[usize] {
        &self.primes
    }

    /// Number of limbs.
    pub fn limb_count(&self) -> usize {
        self.primes.len()
    }

    /// Current form.
    pub fn form(&self) -> Form {
        self.form
    }

    /// Records a form change done by a backend.
    pub fn set_form(&mut self, form: Form) {
        self.form = form;
    }

    /// Limb `k`.
    pub fn limb(&self, k: usize) -> &[u64] {
        &self.data[k * self.n..(k + 1) * self.n]
    }

    /// Limb `k`, mutable.
    pub fn limb_mut(&mut self, k: usize) -> &mut [u64] {
        &mut self.data[k * self.n..(k + 1) * self.n]
    }

    /// All residues, limb-major.
    pub fn data(&self) -> &[u64] {
        &self.data
    }

    /// All residues, limb-major, mutable.
    pub fn data_mut(&mut self) -> &mut [u64] {
        &mut self.data
    }

    /// Limbs paired with their prime-table index, mutable (for per-limb parallel loops).
    pub fn limbs_mut(&mut self) -> (impl Iterator<Item = &mut [u64]>, &[usize]) {
        (self.data.chunks_exact_mut(self.n), &self.primes)
    }

    /// Keeps only the first `count` limbs (drops the top primes of a chain).
    pub fn truncate_limbs(&mut self, count: usize) {
        self.primes.truncate(count);
        self.data.truncate(count * self.n);
    }

    /// A copy of the first `count` limbs (what [`Self::truncate_limbs`] keeps, without copying the rest).
    pub fn prefix(&self, count: usize) -> Self {
        assert!(
            count <= self.primes.len(),
            "prefix of {count} limbs from {}",
            self.primes.len()
        );
        Self {
            n: self.n,
            primes: self.primes[..count].to_vec(),
            data: self.data[..count * self.n].to_vec(),
            form: self.form,
        }
    }

    /// A copy of the limbs at storage positions `positions`.
    pub fn select_limbs(&self, positions: &[usize]) -> Self {
        let mut data = Vec::with_capacity(positions.len() * self.n);
        for &k in positions {
            data.extend_from_slice(self.limb(k));
        }
        Self {
            n: self.n,
            primes: positions.iter().map(|&k| self.primes[k]).collect(),
            data,
            form: self.form,
        }
    }

    /// Appends the limbs of `other` (same degree and form).
    pub fn append_limbs(&mut self, other: &RnsPoly) {
        assert_eq!((self.n, self.form), (other.n, other.form));
        self.primes.extend_from_slice(&other.primes);
        self.data.extend_from_slice(&other.data);
    }

    /// Heap bytes of the residues.
    pub fn byte_size(&self) -> usize {
        self.data.len() * 8
    }
}
