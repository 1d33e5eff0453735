//! The frontend's own tensor: a shape and f32, i64 or bool data (the element types a Llama export uses).

/// Largest element count the frontend creates for one tensor (guards against hostile shapes).
pub const MAX_ELEMENTS: usize = 1 << 28;

/// Element data of a [`Tensor`].
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// 32-bit floats (ONNX FLOAT; DOUBLE and FLOAT16 are converted).
    F32(Vec<f32>),
    /// 64-bit integers (ONNX INT64; INT32 and smaller integers are widened).
    I64(Vec<i64>),
    /// Booleans (ONNX BOOL).
    Bool(Vec<bool>),
}

/// Element type of a [`Tensor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// f32.
    F32,
    /// i64.
    I64,
    /// bool.
    Bool,
}

/// A dense row-major tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Dimensions (empty for a scalar).
    pub shape: Vec<usize>,
    /// Elements, `shape.iter().product()` of them.
    pub data: Data,
}

/// Largest element count of a tensor the interpreter computes (guards against shapes that a
/// corrupted constant blows up).
pub const MAX_COMPUTED: usize = 1 << 26;

/// Number of elements of a computed tensor of `shape`, or `None` above [`MAX_COMPUTED`].
pub fn checked_numel_computed(shape: &[usize]) -> Option<usize> {
    checked_numel(shape).filter(|&n| n <= MAX_COMPUTED)
}

/// Number of elements of `shape`, or `None` on overflow or above [`MAX_ELEMENTS`].
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
}

impl Tensor {
    /// An f32 tensor.
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self {
            shape,
            data: Data::F32(data),
        }
    }

    /// An i64 tensor.
    pub fn i64(shape: Vec<usize>, data: Vec<i64>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self {
            shape,
            data: Data::I64(data),
        }
    }

    /// A bool tensor.
    pub fn bool(shape: Vec<usize>, data: Vec<bool>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self {
            shape,
            data: Data::Bool(data),
        }
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        match self.data {
            Data::F32(_) => DType::F32,
            Data::I64(_) => DType::I64,
            Data::Bool(_) => DType::Bool,
        }
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::Bool(v) => v.len(),
        }
    }

    /// The f32 elements, if the tensor is f32.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            Data::F32(v) => Some(v),
            _ => None,
        }
    }

    /// The i64 elements, if the tensor is i64.
    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            Data::I64(v) => Some(v),
            _ => None,
        }
    }

    /// The bool elements, if the tensor is bool.
    pub fn as_bool(&self) -> Option<&[bool]> {
        match &self.data {
            Data::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// The single element as f64 if the tensor holds exactly one element (any type).
    pub fn scalar_f64(&self) -> Option<f64> {
        if self.numel() != 1 {
            return None;
        }
        Some(match &self.data {
            Data::F32(v) => f64::from(v[0]),
            Data::I64(v) => v[0] as f64,
            Data::Bool(v) => f64::from(u8::from(v[0])),
        })
    }

    /// Elements converted to f64 (bool as 0/1).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match &self.data {
            Data::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Data::I64(v) => v.iter().map(|&x| x as f64).collect(),
            Data::Bool(v) => v.iter().map(|&x| f64::from(u8::from(x))).collect(),
        }
    }
}

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}
