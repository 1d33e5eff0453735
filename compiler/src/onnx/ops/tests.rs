//! Op semantics on small hand-computed cases (the numpy/ONNX spec results written out).

use super::*;
use crate::onnx::tensor::Tensor;

fn f(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::f32(shape.to_vec(), v.to_vec())
}
fn i(shape: &[usize], v: &[i64]) -> Tensor {
    Tensor::i64(shape.to_vec(), v.to_vec())
}
fn run(op: Op, inputs: &[&Tensor]) -> Tensor {
    let ins: Vec<Option<&Tensor>> = inputs.iter().map(|t| Some(*t)).collect();
    eval(&op, &ins).unwrap().remove(0)
}

#[test]
fn broadcasting_binary_ops() {
    let a = f(&[2, 1], &[1.0, 2.0]);
    let b = f(&[3], &[10.0, 20.0, 30.0]);
    assert_eq!(
        run(Op::Binary(BinOp::Add), &[&a, &b]),
        f(&[2, 3], &[11.0, 21.0, 31.0, 12.0, 22.0, 32.0])
    );
    assert_eq!(
        run(Op::Binary(BinOp::Pow), &[&a, &f(&[], &[2.0])]),
        f(&[2, 1], &[1.0, 4.0])
    );
    assert_eq!(
        run(Op::Binary(BinOp::Div), &[&i(&[2], &[7, -7]), &i(&[], &[2])]),
        i(&[2], &[3, -3])
    );
    assert!(eval(
        &Op::Binary(BinOp::Add),
        &[Some(&f(&[2], &[0.0; 2])), Some(&f(&[3], &[0.0; 3]))]
    )
    .is_err());
    assert!(eval(
        &Op::Binary(BinOp::Div),
        &[Some(&i(&[1], &[1])), Some(&i(&[1], &[0]))]
    )
    .is_err());
}

#[test]
fn slice_clamps_and_steps_backwards() {
    let x = i(&[6], &[0, 1, 2, 3, 4, 5]);
    let s = |starts: i64, ends: i64, step: i64| {
        run(
            Op::Slice,
            &[
                &x,
                &i(&[1], &[starts]),
                &i(&[1], &[ends]),
                &i(&[1], &[0]),
                &i(&[1], &[step]),
            ],
        )
    };
    assert_eq!(s(1, i64::MAX, 2), i(&[3], &[1, 3, 5]));
    assert_eq!(s(-1, i64::MIN, -1), i(&[6], &[5, 4, 3, 2, 1, 0]));
    assert_eq!(s(4, 2, 1), i(&[0], &[]));
    assert_eq!(s(-2, 100, 1), i(&[2], &[4, 5]));
}

#[test]
fn gather_transpose_reshape_expand() {
    let x = f(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(
        run(Op::Gather(1), &[&x, &i(&[2], &[-1, 0])]),
        f(&[2, 2], &[3.0, 1.0, 6.0, 4.0])
    );
    assert!(eval(&Op::Gather(0), &[Some(&x), Some(&i(&[1], &[2]))]).is_err());
    assert_eq!(
        run(Op::Transpose(None), &[&x]),
        f(&[3, 2], &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0])
    );
    assert_eq!(
        run(Op::Reshape { allowzero: false }, &[&x, &i(&[2], &[0, -1])]).shape,
        vec![2, 3]
    );
    assert_eq!(
        run(Op::Reshape { allowzero: false }, &[&x, &i(&[1], &[-1])]).shape,
        vec![6]
    );
    assert_eq!(
        run(
            Op::Expand,
            &[&f(&[2, 1], &[1.0, 2.0]), &i(&[3], &[2, 2, 2])]
        ),
        f(&[2, 2, 2], &[1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0])
    );
    assert_eq!(run(Op::Concat(-1), &[&x, &x]).shape, vec![2, 6]);
    assert_eq!(
        run(
            Op::Concat(0),
            &[&f(&[1, 2], &[1.0, 2.0]), &f(&[1, 2], &[3.0, 4.0])]
        ),
        f(&[2, 2], &[1.0, 2.0, 3.0, 4.0])
    );
}

#[test]
fn unsqueeze_squeeze_shape_range() {
    let x = f(&[3], &[1.0, 2.0, 3.0]);
    assert_eq!(
        run(Op::Unsqueeze(None), &[&x, &i(&[2], &[0, -1])]).shape,
        vec![1, 3, 1]
    );
    assert_eq!(run(Op::Unsqueeze(Some(vec![1])), &[&x]).shape, vec![3, 1]);
    assert_eq!(
        run(Op::Squeeze(None), &[&f(&[1, 3, 1], &[0.0; 3])]).shape,
        vec![3]
    );
    assert_eq!(
        run(
            Op::Shape {
                start: 1,
                end: None
            },
            &[&f(&[1, 3, 1], &[0.0; 3])]
        ),
        i(&[2], &[3, 1])
    );
    assert_eq!(
        run(Op::Range, &[&i(&[], &[5]), &i(&[], &[0]), &i(&[], &[-2])]),
        i(&[3], &[5, 3, 1])
    );
    assert_eq!(
        run(Op::ConstantOfShape(i(&[1], &[7])), &[&i(&[2], &[1, 2])]),
        i(&[1, 2], &[7, 7])
    );
}

#[test]
fn reductions_and_softmax() {
    let x = f(&[2, 2], &[1.0, 3.0, 5.0, 7.0]);
    assert_eq!(
        run(
            Op::ReduceMean {
                axes: Some(vec![-1]),
                keepdims: true
            },
            &[&x]
        ),
        f(&[2, 1], &[2.0, 6.0])
    );
    assert_eq!(
        run(
            Op::ReduceMean {
                axes: None,
                keepdims: false
            },
            &[&x, &i(&[1], &[0])]
        ),
        f(&[2], &[3.0, 5.0])
    );
    let s = run(
        Op::Softmax {
            axis: -1,
            flatten: false,
        },
        &[&f(&[2], &[0.0, 2f32.ln()])],
    );
    let v = s.as_f32().unwrap();
    assert!((v[0] - 1.0 / 3.0).abs() < 1e-7 && (v[1] - 2.0 / 3.0).abs() < 1e-7);
    // Opset < 13: axis 0 of [2, 2] normalizes all four entries together.
    let s = run(
        Op::Softmax {
            axis: 0,
            flatten: true,
        },
        &[&f(&[2, 2], &[0.0; 4])],
    );
    assert_eq!(s, f(&[2, 2], &[0.25; 4]));
    let s = run(
        Op::Softmax {
            axis: 0,
            flatten: false,
        },
        &[&f(&[2, 2], &[0.0; 4])],
    );
    assert_eq!(s, f(&[2, 2], &[0.5; 4]));
}

#[test]
fn matmul_batches_and_vectors() {
    let a = f(&[2, 1, 2], &[1.0, 2.0, 3.0, 4.0]);
    let b = f(&[2, 1], &[10.0, 1.0]);
    assert_eq!(run(Op::MatMul, &[&a, &b]), f(&[2, 1, 1], &[12.0, 34.0]));
    assert_eq!(
        run(Op::MatMul, &[&f(&[2], &[1.0, 2.0]), &f(&[2], &[3.0, 4.0])]),
        f(&[], &[11.0])
    );
    assert!(eval(&Op::MatMul, &[Some(&a), Some(&f(&[3, 1], &[0.0; 3]))]).is_err());
}

#[test]
fn where_isnan_trilu() {
    let c = Tensor::bool(vec![2], vec![true, false]);
    assert_eq!(
        run(Op::Where, &[&c, &f(&[], &[1.0]), &f(&[2], &[5.0, 6.0])]),
        f(&[2], &[1.0, 6.0])
    );
    assert_eq!(
        run(Op::Unary(UnOp::IsNaN), &[&f(&[2], &[f32::NAN, 0.0])]),
        Tensor::bool(vec![2], vec![true, false])
    );
    assert_eq!(
        run(
            Op::Trilu { upper: false },
            &[&f(&[2, 2], &[1.0, 2.0, 3.0, 4.0])]
        ),
        f(&[2, 2], &[1.0, 0.0, 3.0, 4.0])
    );
}

#[test]
fn opset23_llama_ops() {
    // RMSNormalization of [3, 4] with gain 2: 3/sqrt(12.5)·2, 4/sqrt(12.5)·2.
    let y = run(
        Op::RmsNormalization {
            axis: -1,
            epsilon: 0.0,
        },
        &[&f(&[1, 2], &[3.0, 4.0]), &f(&[2], &[2.0, 2.0])],
    );
    let r = 12.5f32.sqrt();
    assert_eq!(y, f(&[1, 2], &[6.0 / r, 8.0 / r]));
    // RotaryEmbedding rotate-half on one head of 2 with angle 90°: (x0, x1) → (−x1, x0).
    let x = f(&[1, 1, 1, 2], &[1.0, 2.0]);
    let y = run(
        Op::RotaryEmbedding {
            interleaved: false,
            num_heads: 0,
            rotary_embedding_dim: 0,
        },
        &[&x, &f(&[1, 1, 1], &[0.0]), &f(&[1, 1, 1], &[1.0])],
    );
    assert_eq!(y, f(&[1, 1, 1, 2], &[-2.0, 1.0]));
    // Attention of one query over two keys with equal scores: the mean of the values; a false
    // mask bit removes the second key.
    let q = f(&[1, 1, 1, 2], &[0.0, 0.0]);
    let k = f(&[1, 1, 2, 2], &[1.0, 0.0, 0.0, 1.0]);
    let v = f(&[1, 1, 2, 2], &[2.0, 4.0, 6.0, 8.0]);
    assert_eq!(
        run(
            Op::Attention {
                scale: None,
                is_causal: false
            },
            &[&q, &k, &v]
        ),
        f(&[1, 1, 1, 2], &[4.0, 6.0])
    );
    let m = Tensor::bool(vec![1, 2], vec![true, false]);
    assert_eq!(
        run(
            Op::Attention {
                scale: None,
                is_causal: false
            },
            &[&q, &k, &v, &m]
        ),
        f(&[1, 1, 1, 2], &[2.0, 4.0])
    );
}
