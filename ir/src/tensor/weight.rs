//! The weight table of a tensor-IR module: name → shape + f32 data.

use std::collections::BTreeMap;

/// One named weight. `data` is `None` for a module parsed from text (the text form declares
/// shapes only); the frontends always fill it.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// Dimensions: `[in, out]` for a [`super::Op::MatVec`] matrix, `[vocab, hidden]` for the
    /// embedding and LM-head tables, `[n]` for a norm gain.
    pub shape: Vec<usize>,
    /// Row-major numbers, `shape.iter().product()` of them.
    pub data: Option<Vec<f32>>,
}

impl Weight {
    /// A weight with data; `None` if the length does not match the shape.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Option<Self> {
        (shape.iter().product::<usize>() == data.len()).then_some(Self {
            shape,
            data: Some(data),
        })
    }

    /// A weight declared without data.
    pub fn declared(shape: Vec<usize>) -> Self {
        Self { shape, data: None }
    }

    /// Number of elements the shape calls for.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Weights by name, in name order (deterministic printing).
pub type WeightTable = BTreeMap<String, Weight>;
