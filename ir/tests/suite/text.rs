//! Text form: the sample prints back to itself; random well-typed programs round-trip (property test).

use super::common::{module, BODY, HEADER};
use cachemir_ir::fhe::interp::{Interpreter, KvState};
use cachemir_ir::fhe::{
    Builder, CtType, Layout, Level, LogScale, Module, Op, PtType, RotStep, SlotCount, Type,
    WeightDecl,
};
use cachemir_ir::plan::Plan;
use cachemir_ir::text::TextForm;
use cachemir_ir::weights::{Weight, Weights};
use cachemir_ir::{CkksParamsLiteral, SecretDistribution};
use proptest::prelude::*;
use std::collections::BTreeMap;

#[test]
fn sample_prints_back_to_its_text() {
    let keys_sorted = HEADER; // already in printer order
    let text = format!("{keys_sorted}{BODY}");
    assert_eq!(module(BODY).to_text(), text);
}

#[test]
fn parse_errors_name_the_line() {
    let e = Module::from_text(&format!("{HEADER}%0 = frobnicate %1\n")).unwrap_err();
    assert_eq!(e.to_string(), "line 4: unknown op `frobnicate`");
    let e = Module::from_text("%0 = input \"x\" : scalar\n").unwrap_err();
    assert_eq!(e.to_string(), "line 1: the module must start with `params`");
}

/// Builds a random well-typed program from `choices`: each choice picks an op applicable to the values so far.
fn random_module(choices: &[(u32, f64)]) -> Module {
    let params = CkksParamsLiteral {
        log_n: 5,
        log_q: vec![55, 45, 45, 45, 45],
        log_p: vec![61],
        log_default_scale: 45,
        secret: SecretDistribution::FixedHamming(192),
    };
    let mut m = Module::new(params);
    m.keys.rotations = [1, 3, 8, 12, 15].into_iter().map(RotStep).collect();
    m.keys.conjugate = true;
    m.keys.bootstrap = true;
    m.weights
        .insert("w \"quoted\"".into(), WeightDecl { rows: 3, cols: 16 });
    m.weights
        .insert("diag".into(), WeightDecl { rows: 2, cols: 16 });
    let mut b = Builder::new(&mut m);
    let layout = Layout::Replicated { len: 4 };
    let x = b.input(
        "x",
        CtType {
            level: Level(4),
            scale: LogScale(45.0),
            slots: SlotCount(16),
            layout,
            degree: 1,
        },
    );
    let mut cts = vec![x];
    for (i, &(choice, float)) in choices.iter().enumerate() {
        let pick = cts[(choice as usize / 16) % cts.len()];
        let other = cts[(choice as usize / 256) % cts.len()];
        let t = b
            .module()
            .value_type(pick)
            .and_then(Type::as_ct)
            .cloned()
            .unwrap();
        let o = b
            .module()
            .value_type(other)
            .and_then(Type::as_ct)
            .cloned()
            .unwrap();
        let op = match choice % 16 {
            0 if o.level == t.level && o.scale.approx_eq(t.scale) => Op::Add {
                lhs: pick,
                rhs: other,
            },
            1 if o.level == t.level && o.scale.approx_eq(t.scale) => Op::Sub {
                lhs: pick,
                rhs: other,
            },
            2 if t.degree == 1 && o.degree == 1 && o.level == t.level => Op::MulCt {
                lhs: pick,
                rhs: other,
            },
            3 if t.degree == 2 => Op::Relinearize { input: pick },
            4 if t.level.0 >= 1 => Op::Rescale { input: pick },
            5 => Op::LevelDrop {
                input: pick,
                to: Level(t.level.0 / 2),
            },
            6 if t.degree == 1 => Op::Rotate {
                input: pick,
                step: RotStep([1, -1, 3, 8, -8][choice as usize % 5]),
            },
            7 if t.degree == 1 => Op::RotateHoisted {
                input: pick,
                steps: vec![RotStep(1), RotStep(15), RotStep(-13)],
            },
            8 if t.degree == 1 => Op::Conjugate { input: pick },
            9 if t.degree == 1 => Op::Bootstrap {
                input: pick,
                target: Level(4),
                boost: float.abs().min(30.0) as u32,
            },
            10 if t.degree == 1 && t.level.0 >= 3 => Op::PolyEval {
                input: pick,
                coeffs: vec![float, 0.5, -0.25],
                interval: (-float.abs() - 1.0, 7.5),
            },
            11 if t.degree == 1 => Op::LinearTransform {
                input: pick,
                diagonals: "diag".into(),
                offsets: vec![RotStep(0), RotStep(-1)],
                baby_step: 4,
                scale: LogScale(float.abs().min(60.0)),
            },
            12 => {
                let k = b.op1(Op::Const { value: float }).unwrap();
                Op::MulConst {
                    ct: pick,
                    constant: k,
                    scale: LogScale(0.5),
                }
            }
            13 => {
                let pt = b.plain(
                    "w \"quoted\"",
                    choice % 3,
                    PtType {
                        level: t.level,
                        scale: t.scale,
                        slots: t.slots,
                    },
                );
                Op::Add { lhs: pick, rhs: pt }
            }
            14 => {
                let pt = b.plain(
                    "w \"quoted\"",
                    1,
                    PtType {
                        level: t.level,
                        scale: LogScale(float.abs().min(60.0)),
                        slots: t.slots,
                    },
                );
                Op::MulPlain { ct: pick, pt }
            }
            _ => continue,
        };
        let free = matches!(
            op,
            Op::Rotate { .. }
                | Op::RotateHoisted { .. }
                | Op::Conjugate { .. }
                | Op::LinearTransform { .. }
                | Op::MulPlain { .. }
        );
        let results = b.op(op).expect("the generator only picks applicable ops");
        for r in results {
            if free && i % 2 == 0 {
                b.set_layout(r, Layout::Strided { len: 4, stride: 4 });
            }
            cts.push(r);
        }
    }
    let last = *cts.last().unwrap();
    let t = b
        .module()
        .value_type(last)
        .and_then(Type::as_ct)
        .cloned()
        .unwrap();
    let last = if t.degree == 2 {
        b.op1(Op::Relinearize { input: last }).unwrap()
    } else {
        last
    };
    let t = b
        .module()
        .value_type(last)
        .and_then(Type::as_ct)
        .cloned()
        .unwrap();
    if t.layout != Layout::Opaque {
        b.op(Op::Output {
            name: "y".into(),
            value: last,
        })
        .unwrap();
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn random_programs_round_trip(choices in proptest::collection::vec((any::<u32>(), proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO), 0..40)) {
        let m = random_module(&choices);
        m.verify().unwrap();
        let text = m.to_text();
        let back = Module::from_text(&text).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.to_text(), text);

        // The same program through a .plan file: identical module, identical interpreter results.
        let mut weights = Weights::new();
        for (name, d) in &m.weights {
            let data = (0..d.rows * d.cols).map(|i| f64::from(i % 7) * 0.3 - 0.9).collect();
            weights.insert(name.clone(), Weight::f64(d.rows, d.cols, data).unwrap());
        }
        let plan = Plan::new(m.clone(), weights).unwrap();
        let loaded = Plan::from_bytes(&plan.to_bytes()).unwrap();
        prop_assert_eq!(&loaded, &plan);
        let x: Vec<f64> = (0..4).map(|i| f64::from(i) - 1.5).collect();
        let inputs = BTreeMap::from([("x".to_string(), x)]);
        let run = |p: &Plan| Interpreter::new(p.module(), p.weights()).unwrap().run(&inputs, &mut KvState::default()).unwrap();
        let (a, b) = (run(&plan), run(&loaded));
        // Bitwise equality (NaN-safe): the loaded plan computes exactly the same numbers.
        let bits = |o: &BTreeMap<String, Vec<f64>>| o.values().flatten().map(|v| v.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&a), bits(&b));
    }
}

#[test]
fn mutated_text_never_panics() {
    // Every single-character edit of the sample parses to a module or a line-numbered error; parsed modules
    // verify or fail with a typed error.
    let text = format!("{HEADER}{BODY}");
    let chars: Vec<char> = text.chars().collect();
    for pos in 0..chars.len() {
        for r in ['9', '%', '"', '<', ',', ' ', '-'] {
            let mut m = chars.clone();
            m[pos] = r;
            let s: String = m.into_iter().collect();
            match Module::from_text(&s) {
                Ok(module) => {
                    let _ = module.verify();
                }
                Err(e) => assert!(e.to_string().starts_with("line "), "{e}"),
            }
        }
    }
}
