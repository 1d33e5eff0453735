//! Tensor IR: text round trip (proptest), verifier and parser errors.

use proptest::prelude::*;

use super::parse::parse;
use super::print::print;
use super::verify::verify;
use super::{Module, Op, ValueId, Weight};
use crate::IrError;

/// One random step of a generated program: which op to append.
#[derive(Debug, Clone)]
enum Step {
    Norm(f32),
    MatVec(usize),
    Rope(Vec<f32>),
    Silu,
    Softmax,
    MulPrev,
    AddPrev,
    Attention(f32),
}

fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(1e-5f32),
        Just(0.25f32),
        1e-8f32..10.0,
        any::<f32>().prop_filter("finite, ≥ 0", |x| x.is_finite() && *x >= 0.0)
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        any_f32().prop_map(Step::Norm),
        (1usize..4).prop_map(Step::MatVec),
        proptest::collection::vec(any_f32(), 2).prop_map(Step::Rope),
        Just(Step::Silu),
        Just(Step::Softmax),
        Just(Step::MulPrev),
        Just(Step::AddPrev),
        any_f32().prop_map(Step::Attention),
    ]
}

/// Builds a verified module from random steps; vectors have length 4 (= 1 head of 4, or 2 of 2
/// for attention with GQA).
fn build(steps: &[Step]) -> Module {
    let mut m = Module::new();
    let d = 4;
    m.add_weight(
        "embed_tokens",
        Weight::new(vec![5, d], vec![0.5; 5 * d]).unwrap(),
    );
    let mut x = m
        .push_value(
            Op::Input {
                embedding: "embed_tokens".into(),
            },
            &[],
        )
        .unwrap();
    let mut prev: ValueId = x;
    let mut layer = 0;
    for (i, s) in steps.iter().enumerate() {
        let next = match s {
            Step::Norm(eps) => {
                let name = format!("n.{i}");
                m.add_weight(name.clone(), Weight::new(vec![d], vec![1.0; d]).unwrap());
                m.push_value(
                    Op::RmsNorm {
                        gain: name,
                        eps: *eps,
                    },
                    &[x],
                )
                .unwrap()
            }
            Step::MatVec(k) => {
                // d → d·k → d, so every later op sees length d again.
                let up = format!("w.{i}.up \"quoted\"");
                let down = format!("w.{i}.down");
                m.add_weight(
                    up.clone(),
                    Weight::new(vec![d, d * k], vec![0.1; d * d * k]).unwrap(),
                );
                m.add_weight(
                    down.clone(),
                    Weight::new(vec![d * k, d], vec![0.1; d * d * k]).unwrap(),
                );
                let h = m.push_value(Op::MatVec { weight: up }, &[x]).unwrap();
                m.push_value(Op::MatVec { weight: down }, &[h]).unwrap()
            }
            Step::Rope(f) => m
                .push_value(
                    Op::Rope {
                        heads: 1,
                        head_dim: d,
                        inv_freq: f.clone(),
                    },
                    &[x],
                )
                .unwrap(),
            Step::Silu => m.push_value(Op::Silu, &[x]).unwrap(),
            Step::Softmax => m.push_value(Op::Softmax, &[x]).unwrap(),
            Step::MulPrev => m.push_value(Op::Mul, &[x, prev]).unwrap(),
            Step::AddPrev => m.push_value(Op::Add, &[prev, x]).unwrap(),
            Step::Attention(scale) => {
                let kv = m.push_value(
                    Op::MatVec {
                        weight: "kv".into(),
                    },
                    &[x],
                );
                let kv = match kv {
                    Ok(v) => v,
                    Err(_) => {
                        m.add_weight("kv", Weight::new(vec![d, 2], vec![0.3; 2 * d]).unwrap());
                        m.push_value(
                            Op::MatVec {
                                weight: "kv".into(),
                            },
                            &[x],
                        )
                        .unwrap()
                    }
                };
                layer += 1;
                m.push_value(
                    Op::Attention {
                        layer: layer - 1,
                        q_heads: 2,
                        kv_heads: 1,
                        head_dim: 2,
                        scale: *scale,
                    },
                    &[x, kv, kv],
                )
                .unwrap()
            }
        };
        prev = x;
        x = next;
    }
    let logits = m
        .push_value(
            Op::LmHead {
                weight: "embed_tokens".into(),
            },
            &[x],
        )
        .unwrap();
    m.push(Op::Output, &[logits]).unwrap();
    m
}

fn without_data(m: &Module) -> Module {
    let mut m = m.clone();
    for w in m.weights.values_mut() {
        w.data = None;
    }
    m
}

proptest! {
    #[test]
    fn text_form_round_trips(steps in proptest::collection::vec(step(), 0..12)) {
        let m = build(&steps);
        verify(&m, true).unwrap();
        let text = print(&m);
        let parsed = parse(&text).unwrap();
        verify(&parsed, false).unwrap();
        prop_assert_eq!(&parsed, &without_data(&m));
        prop_assert_eq!(print(&parsed), text);
    }
}

const GOOD: &str = r#"
weight "e" : [10, 4]
weight "w" : [4, 6]
%0 = input embedding="e" : vec<4>
%1 = mat_vec %0 weight="w" : vec<6>
%2 = silu %1 : vec<6>
output %2
"#;

#[test]
fn good_module_verifies() {
    let m = parse(GOOD).unwrap();
    verify(&m, false).unwrap();
    assert!(
        verify(&m, true).is_err(),
        "weights without data fail when data is required"
    );
}

/// Replaces `from` by `to` in [`GOOD`], verifies, and returns the error text.
fn verify_err(from: &str, to: &str) -> String {
    let text = GOOD.replace(from, to);
    assert_ne!(text, GOOD);
    match parse(&text) {
        Ok(m) => verify(&m, false).unwrap_err().to_string(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn verifier_names_the_op_at_fault() {
    // declared length does not match the weight
    assert!(verify_err(
        "%1 = mat_vec %0 weight=\"w\" : vec<6>",
        "%1 = mat_vec %0 weight=\"w\" : vec<5>"
    )
    .contains("%1 (mat_vec)"));
    // weight not declared
    assert!(
        verify_err("weight=\"w\" : vec<6>", "weight=\"nope\" : vec<6>")
            .contains("\"nope\" is not declared")
    );
    // operand length vs weight rows
    assert!(verify_err("weight \"w\" : [4, 6]", "weight \"w\" : [5, 6]").contains("%1 (mat_vec)"));
    // no output
    assert!(verify_err("output %2\n", "").contains("output"));
    // two inputs
    assert!(verify_err(
        "output %2",
        "%3 = input embedding=\"e\" : vec<4>\noutput %2"
    )
    .contains("2 input ops"));
    // rope with the wrong number of frequencies
    assert!(verify_err(
        "%2 = silu %1 : vec<6>",
        "%2 = rope %1 heads=3 head_dim=2 inv_freq=[1.0, 2.0] : vec<6>"
    )
    .contains("%2 (rope)"));
    // attention with a key of the wrong length
    assert!(verify_err(
        "%2 = silu %1 : vec<6>",
        "%2 = attention %1, %0, %0 layer=0 q_heads=3 kv_heads=1 head_dim=2 scale=0.5 : vec<6>"
    )
    .contains("%2 (attention)"));
    // negative epsilon
    assert!(verify_err(
        "%2 = silu %1 : vec<6>",
        "%2 = rms_norm %1 gain=\"w\" eps=-1.0 : vec<6>"
    )
    .contains("eps"));
}

#[test]
fn parser_errors_carry_the_line() {
    let e = parse(&GOOD.replace("silu", "gelu")).unwrap_err();
    assert!(matches!(e, IrError::Parse { line: 6, .. }), "{e}");
    let e = parse(&GOOD.replace("%2 = silu %1", "%2 = silu %7")).unwrap_err();
    assert!(e.to_string().contains("%7 is not defined"), "{e}");
    let e = parse("weight \"a\" : [1]\nweight \"a\" : [2]\n").unwrap_err();
    assert!(matches!(e, IrError::Parse { line: 2, .. }), "{e}");
}
