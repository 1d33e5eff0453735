//! Weight values: named matrices of plaintext numbers, one plaintext vector per row. The FHE IR refers to
//! them by name and row ([`crate::fhe::WeightRef`]); the `.plan` file stores them in its binary section.

use std::collections::BTreeMap;

/// The numbers of one weight, row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum WeightData {
    /// 64-bit floats.
    F64(Vec<f64>),
    /// 32-bit floats (half the bytes; enough for CKKS precision at usual scales).
    F32(Vec<f32>),
}

/// One weight matrix: `rows × cols` numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// Number of rows.
    pub rows: u32,
    /// Entries per row.
    pub cols: u32,
    /// `rows · cols` numbers, row-major.
    pub data: WeightData,
}

impl Weight {
    /// A weight of 64-bit floats; `None` if `data.len() != rows · cols`.
    pub fn f64(rows: u32, cols: u32, data: Vec<f64>) -> Option<Self> {
        (data.len() as u64 == u64::from(rows) * u64::from(cols)).then_some(Self {
            rows,
            cols,
            data: WeightData::F64(data),
        })
    }

    /// A weight of 32-bit floats; `None` if `data.len() != rows · cols`.
    pub fn f32(rows: u32, cols: u32, data: Vec<f32>) -> Option<Self> {
        (data.len() as u64 == u64::from(rows) * u64::from(cols)).then_some(Self {
            rows,
            cols,
            data: WeightData::F32(data),
        })
    }

    /// Number of stored numbers.
    pub fn len(&self) -> usize {
        match &self.data {
            WeightData::F64(d) => d.len(),
            WeightData::F32(d) => d.len(),
        }
    }

    /// Whether the weight holds no number.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the numbers take in a plan.
    pub fn byte_len(&self) -> u64 {
        match &self.data {
            WeightData::F64(d) => 8 * d.len() as u64,
            WeightData::F32(d) => 4 * d.len() as u64,
        }
    }

    /// Row `index` as `f64`, or `None` if out of range (or the data is shorter than the shape says).
    pub fn row(&self, index: u32) -> Option<Vec<f64>> {
        if index >= self.rows {
            return None;
        }
        let cols = self.cols as usize;
        let start = index as usize * cols;
        match &self.data {
            WeightData::F64(d) => d.get(start..start + cols).map(<[f64]>::to_vec),
            WeightData::F32(d) => d
                .get(start..start + cols)
                .map(|r| r.iter().map(|&x| f64::from(x)).collect()),
        }
    }
}

/// All weights of a program, by name.
pub type Weights = BTreeMap<String, Weight>;
