//! Compact, versioned binary encoding of ciphertexts and keys, validated on load.
//!
//! Layout (little-endian): magic `CMCK`, format version (u16), object kind (u8), the parameter
//! fingerprint (u64, [`Parameters::fingerprint`]), the payload, then a CRC-32 of everything before
//! it. Residues are bit-packed at the width of their prime (a 45-bit prime takes 45 bits), so a
//! ciphertext is ~30 % smaller than raw 64-bit words; keys carry only their `b` halves and the 32-byte
//! seed that regenerates the uniform `a` halves. Loading checks the magic, version, kind,
//! fingerprint, checksum, every length and every residue (`< q`) before building the object:
//! truncated, corrupted or foreign bytes give [`RuntimeError::Decode`], never a panic.

use super::keys::uniform_halves;
use super::keys::EncapsulationKeys;
use super::{Ciphertext, EvaluationKeys, Parameters, PublicKey, SecretKey, SwitchingKey};
use crate::bytes::ByteReader;
use crate::{Result, RuntimeError};
use cachemir_kernels::{Form, RnsPoly};
use rayon::prelude::*;
use std::collections::BTreeMap;

const MAGIC: &[u8; 4] = b"CMCK";
/// Version of the binary format written by this build. Version 3: key halves are expanded from
/// their seed with one ChaCha20 stream per limb ([`super::keys::uniform_halves`]), so version-2 keys
/// would regenerate different halves and are refused.
pub const FORMAT_VERSION: u16 = 3;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Kind {
    Ciphertext = 1,
    PublicKey = 2,
    SwitchingKey = 3,
    EvaluationKeys = 4,
    SecretKey = 5,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Ciphertext => "ciphertext",
            Kind::PublicKey => "public key",
            Kind::SwitchingKey => "switching key",
            Kind::EvaluationKeys => "evaluation keys",
            Kind::SecretKey => "secret key",
        }
    }
}

struct Writer<'p> {
    params: &'p Parameters,
    out: Vec<u8>,
}

impl<'p> Writer<'p> {
    fn new(params: &'p Parameters, kind: Kind) -> Self {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(kind as u8);
        out.extend_from_slice(&params.fingerprint().to_le_bytes());
        Self { params, out }
    }

    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// Residues of each limb, bit-packed at the width of the limb's prime (limbs in parallel).
    fn poly(&mut self, p: &RnsPoly) {
        debug_assert_eq!(p.form(), Form::Eval);
        let ring = self.params.ring();
        let packed: Vec<Vec<u8>> = p
            .primes()
            .par_iter()
            .enumerate()
            .map(|(k, &prime)| pack_limb(p.limb(k), ring.modulus(prime).bits()))
            .collect();
        packed
            .iter()
            .for_each(|limb| self.out.extend_from_slice(limb));
    }

    fn finish(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.out);
        self.out.extend_from_slice(&crc.to_le_bytes());
        self.out
    }
}

/// One limb's residues, `width` bits each, little-endian, padded to a whole byte.
fn pack_limb(limb: &[u64], width: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((limb.len() * width as usize).div_ceil(8));
    let (mut acc, mut bits) = (0u128, 0u32);
    for &v in limb {
        acc |= (v as u128) << bits;
        bits += width;
        while bits >= 64 {
            out.extend_from_slice(&(acc as u64).to_le_bytes());
            acc >>= 64;
            bits -= 64;
        }
    }
    out.extend_from_slice(&acc.to_le_bytes()[..bits.div_ceil(8) as usize]);
    out
}

struct Reader<'a, 'p> {
    params: &'p Parameters,
    bytes: ByteReader<'a>,
}

impl<'a, 'p> Reader<'a, 'p> {
    fn new(params: &'p Parameters, kind: Kind, bytes: &'a [u8]) -> Result<Self> {
        let what = kind.name();
        let mut r = ByteReader::checked(what, bytes)?;
        if r.take(4)? != MAGIC {
            return Err(r.err("not a Cachemir CKKS object (bad magic)".into()));
        }
        let version = r.u16()?;
        if version != FORMAT_VERSION {
            return Err(r.err(format!(
                "format version {version} is unsupported (this build reads {FORMAT_VERSION})"
            )));
        }
        let found = r.u8()?;
        if found != kind as u8 {
            return Err(r.err(format!("object kind {found} is not a {what}")));
        }
        let fingerprint = r.u64()?;
        if fingerprint != params.fingerprint() {
            return Err(r.err(format!(
                "made under other CKKS parameters (fingerprint {fingerprint:#018x}, expected {:#018x})",
                params.fingerprint()
            )));
        }
        Ok(Self { params, bytes: r })
    }

    fn err(&self, reason: String) -> RuntimeError {
        self.bytes.err(reason)
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        self.bytes.take(n)
    }
    fn u8(&mut self) -> Result<u8> {
        self.bytes.u8()
    }
    fn u32(&mut self) -> Result<u32> {
        self.bytes.u32()
    }
    fn u64(&mut self) -> Result<u64> {
        self.bytes.u64()
    }

    /// A polynomial over the given prime-table entries.
    fn poly(&mut self, primes: &[usize]) -> Result<RnsPoly> {
        let bytes = self.take(self.poly_len(primes))?;
        self.decode_poly(primes, bytes)
    }

    /// Bytes of a packed polynomial over `primes`.
    fn poly_len(&self, primes: &[usize]) -> usize {
        primes.iter().map(|&p| self.limb_len(p)).sum()
    }

    /// Bytes of one packed limb modulo prime-table entry `prime`.
    fn limb_len(&self, prime: usize) -> usize {
        let width = self.params.ring().modulus(prime).bits() as usize;
        (self.params.n() * width).div_ceil(8)
    }

    /// Unpacks a polynomial from exactly [`Self::poly_len`] bytes, limbs in parallel.
    fn decode_poly(&self, primes: &[usize], bytes: &[u8]) -> Result<RnsPoly> {
        let n = self.params.n();
        let mut limbs = Vec::with_capacity(primes.len());
        let mut rest = bytes;
        for &prime in primes {
            let (limb, tail) = rest.split_at(self.limb_len(prime));
            limbs.push((prime, limb));
            rest = tail;
        }
        let mut data = vec![0u64; n * primes.len()];
        data.par_chunks_mut(n)
            .zip(limbs)
            .try_for_each(|(out, (prime, packed))| self.decode_limb(prime, packed, out))?;
        Ok(RnsPoly::from_raw(n, primes.to_vec(), data, Form::Eval))
    }

    /// Unpacks one limb, checking every residue against its prime.
    fn decode_limb(&self, prime: usize, packed: &[u8], out: &mut [u64]) -> Result<()> {
        let m = self.params.ring().modulus(prime);
        let width = m.bits();
        let mask = (1u128 << width) - 1;
        let (mut acc, mut bits, mut bytes) = (0u128, 0u32, packed.iter());
        for (i, o) in out.iter_mut().enumerate() {
            while bits < width {
                acc |= (*bytes.next().expect("length checked") as u128) << bits;
                bits += 8;
            }
            let v = (acc & mask) as u64;
            acc >>= width;
            bits -= width;
            if v >= m.value() {
                return Err(self.err(format!(
                    "residue {v} ≥ prime {} at coefficient {i}",
                    m.value()
                )));
            }
            *o = v;
        }
        Ok(())
    }

    fn switching_key(&mut self) -> Result<SwitchingKey> {
        let pending = self.pending_key()?;
        self.decode_key(pending)
    }

    /// A switching key's header, checked, and the bytes of its polynomials, not yet unpacked.
    fn pending_key(&mut self) -> Result<PendingKey<'a>> {
        let level = self.u32()? as usize;
        if level > self.params.max_level() {
            return Err(self.err(format!(
                "key level {level} above the maximum {}",
                self.params.max_level()
            )));
        }
        let dnum = self.u32()? as usize;
        let expected = (level + 1).div_ceil(self.params.digit_size());
        if dnum != expected {
            return Err(self.err(format!(
                "{dnum} key-switching digits, a level-{level} key has {expected}"
            )));
        }
        let seed = self.seed()?;
        let len = self.poly_len(&self.params.ring().qp_indices(level));
        let polys = (0..dnum)
            .map(|_| self.take(len))
            .collect::<Result<Vec<_>>>()?;
        Ok(PendingKey { level, seed, polys })
    }

    /// Unpacks a key's `b` halves and regenerates its `a` halves from the seed.
    fn decode_key(&self, key: PendingKey) -> Result<SwitchingKey> {
        let primes = self.params.ring().qp_indices(key.level);
        let bs = key
            .polys
            .iter()
            .map(|bytes| self.decode_poly(&primes, bytes))
            .collect::<Result<Vec<_>>>()?;
        let digits = bs
            .into_iter()
            .zip(uniform_halves(
                self.params,
                key.seed,
                key.polys.len(),
                &primes,
            ))
            .collect();
        Ok(SwitchingKey {
            digits,
            seed: key.seed,
            level: key.level,
        })
    }

    fn seed(&mut self) -> Result<[u8; 32]> {
        Ok(self.take(32)?.try_into().expect("32 bytes"))
    }

    fn finish<T>(self, value: T) -> Result<T> {
        self.bytes.finish()?;
        Ok(value)
    }
}

/// A switching key read by [`Reader::pending_key`]: many of them unpack in parallel.
struct PendingKey<'a> {
    level: usize,
    seed: [u8; 32],
    /// The packed `b` half of each digit.
    polys: Vec<&'a [u8]>,
}

fn write_switching_key(w: &mut Writer, key: &SwitchingKey) {
    w.u32(key.level as u32);
    w.u32(key.digits.len() as u32);
    w.out.extend_from_slice(&key.seed);
    key.digits.iter().for_each(|(b, _)| w.poly(b));
}

impl Ciphertext {
    /// Encodes the ciphertext.
    pub fn to_bytes(&self, params: &Parameters) -> Vec<u8> {
        let mut w = Writer::new(params, Kind::Ciphertext);
        w.u32(self.slots as u32);
        w.u64(self.scale.to_bits());
        w.u8(self.polys.len() as u8);
        w.u32(self.level() as u32);
        self.polys.iter().for_each(|p| w.poly(p));
        w.finish()
    }

    /// Decodes and validates a ciphertext made under `params`.
    pub fn from_bytes(params: &Parameters, bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(params, Kind::Ciphertext, bytes)?;
        let slots = r.u32()? as usize;
        if slots == 0 || !slots.is_power_of_two() || slots > params.max_slots() {
            return Err(r.err(format!(
                "slot count {slots} is not a power of two ≤ {}",
                params.max_slots()
            )));
        }
        let scale = f64::from_bits(r.u64()?);
        if !scale.is_finite() || scale < 1.0 {
            return Err(r.err(format!("scale {scale} is not a finite value ≥ 1")));
        }
        let count = r.u8()? as usize;
        if !(2..=3).contains(&count) {
            return Err(r.err(format!("{count} polynomials (a ciphertext has 2 or 3)")));
        }
        let level = r.u32()? as usize;
        if level > params.max_level() {
            return Err(r.err(format!(
                "level {level} above the maximum {}",
                params.max_level()
            )));
        }
        let primes = params.ring().q_indices(level);
        let polys = (0..count).map(|_| r.poly(&primes)).collect::<Result<_>>()?;
        r.finish(Ciphertext {
            polys,
            scale,
            slots,
        })
    }
}

impl PublicKey {
    /// Encodes the public key.
    pub fn to_bytes(&self, params: &Parameters) -> Vec<u8> {
        let mut w = Writer::new(params, Kind::PublicKey);
        w.out.extend_from_slice(&self.seed);
        w.poly(&self.b);
        w.finish()
    }

    /// Decodes and validates a public key made under `params`.
    pub fn from_bytes(params: &Parameters, bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(params, Kind::PublicKey, bytes)?;
        let primes = params.ring().q_indices(params.max_level());
        let seed = r.seed()?;
        let b = r.poly(&primes)?;
        let a = uniform_halves(params, seed, 1, &primes).remove(0);
        r.finish(PublicKey { b, a, seed })
    }
}

impl SecretKey {
    /// Encodes the secret key, for the client to keep (it must never reach a server).
    pub fn to_bytes(&self, params: &Parameters) -> Vec<u8> {
        let mut w = Writer::new(params, Kind::SecretKey);
        w.poly(&self.poly);
        w.finish()
    }

    /// Decodes and validates a secret key made under `params`.
    pub fn from_bytes(params: &Parameters, bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(params, Kind::SecretKey, bytes)?;
        let poly = r.poly(&params.ring().qp_indices(params.max_level()))?;
        r.finish(SecretKey { poly })
    }
}

impl SwitchingKey {
    /// Encodes the switching key.
    pub fn to_bytes(&self, params: &Parameters) -> Vec<u8> {
        let mut w = Writer::new(params, Kind::SwitchingKey);
        write_switching_key(&mut w, self);
        w.finish()
    }

    /// Decodes and validates a switching key made under `params`.
    pub fn from_bytes(params: &Parameters, bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(params, Kind::SwitchingKey, bytes)?;
        let key = r.switching_key()?;
        r.finish(key)
    }
}

impl EvaluationKeys {
    /// Encodes the relinearization, Galois and encapsulation keys.
    pub fn to_bytes(&self, params: &Parameters) -> Vec<u8> {
        let mut w = Writer::new(params, Kind::EvaluationKeys);
        w.u8(self.relinearization.is_some() as u8);
        if let Some(k) = &self.relinearization {
            write_switching_key(&mut w, k);
        }
        w.u32(self.galois.len() as u32);
        for (&g, k) in &self.galois {
            w.u64(g);
            write_switching_key(&mut w, k);
        }
        w.u8(self.encapsulation.is_some() as u8);
        if let Some(e) = &self.encapsulation {
            write_switching_key(&mut w, &e.to_sparse);
            write_switching_key(&mut w, &e.to_dense);
        }
        w.finish()
    }

    /// Checks what is cheap to check without decoding: the checksum, the format, that the bytes are
    /// evaluation keys, and that they were made under `params`.
    pub fn check_bytes(params: &Parameters, bytes: &[u8]) -> Result<()> {
        Reader::new(params, Kind::EvaluationKeys, bytes).map(|_| ())
    }

    /// Decodes and validates evaluation keys made under `params`.
    pub fn from_bytes(params: &Parameters, bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(params, Kind::EvaluationKeys, bytes)?;
        let relinearization = match r.u8()? {
            0 => None,
            1 => Some(r.switching_key()?),
            other => return Err(r.err(format!("relinearization flag {other} is not 0 or 1"))),
        };
        let count = r.u32()? as usize;
        let two_n = 2 * params.n() as u64;
        let mut pending = BTreeMap::new();
        for _ in 0..count {
            let g = r.u64()?;
            if g % 2 == 0 || g >= two_n || pending.contains_key(&g) {
                return Err(r.err(format!(
                    "Galois element {g} is not a distinct odd residue below {two_n}"
                )));
            }
            pending.insert(g, r.pending_key()?);
        }
        // Unpacking and regenerating the uniform halves is the slow part: one key per thread.
        let galois = pending
            .into_par_iter()
            .map(|(g, key)| Ok((g, r.decode_key(key)?)))
            .collect::<Result<BTreeMap<_, _>>>()?;
        let encapsulation = match r.u8()? {
            0 => None,
            1 => Some(EncapsulationKeys {
                to_sparse: r.switching_key()?,
                to_dense: r.switching_key()?,
            }),
            other => return Err(r.err(format!("encapsulation flag {other} is not 0 or 1"))),
        };
        r.finish(EvaluationKeys {
            relinearization,
            galois,
            encapsulation,
        })
    }
}
