//! A bounds-checked little-endian reader over a checksummed byte string, shared by the binary
//! formats of the runtime (CKKS objects in `ckks::serialize`, the saved KV cache): every read that
//! would run past the end is a [`RuntimeError::Decode`] naming the object, never a panic.

use crate::{Result, RuntimeError};

/// Reads the body of a byte string whose last 4 bytes are a CRC-32 of the rest.
pub(crate) struct ByteReader<'a> {
    what: &'static str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    /// Checks the CRC-32 trailer of `bytes` and reads the body before it.
    pub(crate) fn checked(what: &'static str, bytes: &'a [u8]) -> Result<Self> {
        let body_len = bytes
            .len()
            .checked_sub(4)
            .ok_or_else(|| RuntimeError::Decode {
                what,
                reason: format!("{} bytes is shorter than a checksum", bytes.len()),
            })?;
        let (body, crc) = bytes.split_at(body_len);
        if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(RuntimeError::Decode {
                what,
                reason: "checksum mismatch: the bytes are corrupted or truncated".into(),
            });
        }
        Ok(Self {
            what,
            bytes: body,
            pos: 0,
        })
    }

    /// A decode error about this object.
    pub(crate) fn err(&self, reason: String) -> RuntimeError {
        RuntimeError::Decode {
            what: self.what,
            reason,
        }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.err(format!("truncated: needs {n} bytes at offset {}", self.pos)));
        };
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// Ends the read: every byte of the body must have been consumed.
    pub(crate) fn finish(&self) -> Result<()> {
        match self.bytes.len() - self.pos {
            0 => Ok(()),
            extra => Err(self.err(format!("{extra} trailing bytes"))),
        }
    }
}
