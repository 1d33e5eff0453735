//! Cleartext interpreter against hand-computed examples (arithmetic done independently in each test).

use super::common::{module, BODY, HEADER};
use cachemir_ir::fhe::interp::{Interpreter, KvState};
use cachemir_ir::fhe::Module;
use cachemir_ir::text::TextForm;
use cachemir_ir::weights::{Weight, Weights};
use num_complex::Complex64;
use std::collections::BTreeMap;

fn weights() -> Weights {
    let mut w = Weights::new();
    // Row 0 is the mask [1, 0, 2, 0, 0, 0, 0, 3]; row 1 is all ones.
    let mut data = vec![1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0];
    data.extend([1.0; 8]);
    w.insert("w".into(), Weight::f64(2, 8, data).unwrap());
    w
}

fn inputs(pairs: &[(&str, Vec<f64>)]) -> BTreeMap<String, Vec<f64>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn mask_rotate_add() {
    let m = module(BODY);
    let w = weights();
    let x = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    // m = x·mask = [1, 0, 6, 0, 0, 0, 0, 24]; rotate left 1 = [0, 6, 0, 0, 0, 0, 24, 1]; sum:
    let expected = vec![1.0, 6.0, 6.0, 0.0, 0.0, 0.0, 24.0, 25.0];
    let out = Interpreter::new(&m, &w)
        .unwrap()
        .run(&inputs(&[("x", x)]), &mut KvState::default())
        .unwrap();
    assert_eq!(out["y"], expected);
}

#[test]
fn strided_and_replicated_layouts() {
    // Input x = [a, b] replicated over 8 slots: K = 4, slot[4i + j] = x[(i + j) mod 2] = [a,b,a,b, b,a,b,a].
    // Output strided(len=2, stride=4) reads slots 0 and 4 of x·x = [a², b²·…]: slot 0 = a², slot 4 = b².
    let body = "\
%0 = input \"x\" : ct<level=3, scale=40, slots=8, layout=replicated(len=2)>
%1 = mul_ct %0, %0 : ct<level=3, scale=80, slots=8, layout=replicated(len=2), degree=2>
%2 = relinearize %1 : ct<level=3, scale=80, slots=8, layout=replicated(len=2)>
%3 = rescale %2 : ct<level=2, scale=40, slots=8, layout=replicated(len=2)>
%4 = rotate %3, step=1 : ct<level=2, scale=40, slots=8, layout=strided(len=2, stride=4)>
output \"y\", %4
output \"r\", %3
";
    let m = module(body);
    let out = Interpreter::new(&m, &weights())
        .unwrap()
        .run(&inputs(&[("x", vec![3.0, -2.0])]), &mut KvState::default())
        .unwrap();
    // slots of %3: [9,4,9,4, 4,9,4,9]; rotate left 1: [4,9,4,4, 9,4,9,9]; slots 0 and 4: [4, 9].
    assert_eq!(out["y"], vec![4.0, 9.0]);
    assert_eq!(out["r"], vec![9.0, 4.0]);
}

#[test]
fn poly_eval_matches_chebyshev_by_hand() {
    // p = 1·T0 + 2·T1 + 3·T2 on [0, 4]: y = (2x − 4)/4 = x/2 − 1; T2(y) = 2y² − 1. Depth: 2 + 1 for the
    // change of variable.
    let body = "\
%0 = input \"x\" : ct<level=3, scale=40, slots=8, layout=strided(len=3, stride=1)>
%1 = poly_eval %0, coeffs=[1, 2, 3], interval=(0, 4) : ct<level=0, scale=40, slots=8, layout=strided(len=3, stride=1)>
output \"y\", %1
";
    let m = module(body);
    let out = Interpreter::new(&m, &weights())
        .unwrap()
        .run(
            &inputs(&[("x", vec![0.0, 1.0, 3.0])]),
            &mut KvState::default(),
        )
        .unwrap();
    // x=0: y=−1 → 1 − 2 + 3·1 = 2.  x=1: y=−0.5 → 1 − 1 + 3·(−0.5) = −1.5.  x=3: y=0.5 → 1 + 1 − 1.5 = 0.5.
    assert_eq!(out["y"], vec![2.0, -1.5, 0.5]);
}

#[test]
fn conjugate_and_constants_on_complex_slots() {
    let body = "\
%0 = input \"x\" : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%1 = conjugate %0 : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%2 = sub %0, %1 : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%3 = const 0.5 : scalar
%4 = mul_const %2, %3, scale=0 : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%5 = add %4, %3 : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
output \"y\", %5
";
    let m = module(body);
    let z: Vec<Complex64> = (0..8)
        .map(|k| Complex64::new(k as f64, 10.0 - k as f64))
        .collect();
    let ins = BTreeMap::from([("x".to_string(), z)]);
    let out = Interpreter::new(&m, &weights())
        .unwrap()
        .run_slots(&ins, &mut KvState::default())
        .unwrap();
    // (z − conj z)/2 + 0.5 = i·Im(z) + 0.5.
    let expected: Vec<Complex64> = (0..8)
        .map(|k| Complex64::new(0.5, 10.0 - k as f64))
        .collect();
    assert_eq!(out["y"], expected);
}

#[test]
fn linear_transform_and_hoisted_rotations() {
    // Offset −1 ≡ 7 = 3·2 + 1 with baby step 2 needs keys 1 and 6.
    let header = HEADER
        .replace(
            "weight \"w\" { rows=2, cols=8 }",
            "weight \"w\" { rows=2, cols=8 }\nweight \"d\" { rows=2, cols=8 }",
        )
        .replace("rotations=[1, 2, 4, 7]", "rotations=[1, 2, 4, 6, 7]");
    let body = "\
%0 = input \"x\" : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%1 = linear_transform %0, diagonals=\"d\", offsets=[0, -1], baby_step=2, scale=40 : ct<level=3, scale=80, slots=8, layout=strided(len=8, stride=1)>
%2, %3 = rotate_hoisted %0, steps=[2, -6] : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>, ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%4 = sub %2, %3 : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
output \"lt\", %1
output \"zero\", %4
";
    let m = Module::from_text(&format!("{header}{body}")).unwrap();
    let mut w = weights();
    // diag_0 = all 2 (offset 0), diag_1 = [1..8] (offset −1): out[i] = 2·x[i] + (i+1)·x[i−1 mod 8].
    let mut d = vec![2.0; 8];
    d.extend((1..=8).map(f64::from));
    w.insert(
        "d".into(),
        Weight::f32(2, 8, d.iter().map(|&v| v as f32).collect()).unwrap(),
    );
    let x = vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0];
    let out = Interpreter::new(&m, &w)
        .unwrap()
        .run(&inputs(&[("x", x)]), &mut KvState::default())
        .unwrap();
    // i=0: 2·1 + 1·x[7]=10 → 12; i=1: 0 + 2·x[0] = 2; i=7: 2·10 + 8·x[6] = 20; others 0.
    assert_eq!(out["lt"], vec![12.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 20.0]);
    // rotate by 2 and by −6 agree on 8 slots.
    assert_eq!(out["zero"], vec![0.0; 8]);
}

#[test]
fn kv_cache_appends_across_steps() {
    // Two tokens per chunk, token stride 4: token p of a chunk lands shifted right by 4·(p mod 2).
    let header = format!(
        "{HEADER}kv \"k\" {{ chunks=2, tokens_per_chunk=2, token_stride=4, chunk=ct<level=2, scale=40, slots=8, layout=strided(len=2, stride=1)> }}\n"
    );
    let body = "\
%0 = input \"x\" : ct<level=2, scale=40, slots=8, layout=strided(len=2, stride=1)>
kv_append \"k\", %0
%1 = kv_read \"k\", chunk=0 : ct<level=2, scale=40, slots=8, layout=strided(len=2, stride=1)>
%2 = kv_read \"k\", chunk=1 : ct<level=2, scale=40, slots=8, layout=strided(len=2, stride=1)>
%3 = rotate %1, step=4 : ct<level=2, scale=40, slots=8, layout=strided(len=2, stride=1)>
output \"c0\", %1
output \"c0_second\", %3
output \"c1\", %2
";
    let m = Module::from_text(&format!("{header}{body}")).unwrap();
    let w = weights();
    let it = Interpreter::new(&m, &w).unwrap();
    let mut st = KvState::default();
    let o1 = it.run(&inputs(&[("x", vec![1.0, 2.0])]), &mut st).unwrap();
    assert_eq!(o1["c0"], vec![1.0, 2.0]);
    assert_eq!(o1["c0_second"], vec![0.0, 0.0]);
    let o2 = it.run(&inputs(&[("x", vec![3.0, 4.0])]), &mut st).unwrap();
    assert_eq!(o2["c0"], vec![1.0, 2.0]);
    assert_eq!(o2["c0_second"], vec![3.0, 4.0]);
    assert_eq!(o2["c1"], vec![0.0, 0.0]);
    let o3 = it.run(&inputs(&[("x", vec![5.0, 6.0])]), &mut st).unwrap();
    assert_eq!(o3["c1"], vec![5.0, 6.0]);
    it.run(&inputs(&[("x", vec![7.0, 8.0])]), &mut st).unwrap();
    let full = it
        .run(&inputs(&[("x", vec![0.0, 0.0])]), &mut st)
        .unwrap_err();
    assert_eq!(
        full.to_string(),
        "interpreter at kv_append \"k\": KV cache \"k\" is full (4 tokens)"
    );
}

#[test]
fn missing_input_is_a_typed_error() {
    let m = module(BODY);
    let w = weights();
    let e = Interpreter::new(&m, &w)
        .unwrap()
        .run(&BTreeMap::new(), &mut KvState::default())
        .unwrap_err();
    assert_eq!(e.to_string(), "interpreter at input \"x\": no value given");
}

#[test]
fn diagonal_linear_transform_is_a_matrix_vector_product() {
    // 8×8 matrix W, diagonals d_k[i] = W[i][(i + k) mod 8] for all k: the transform must equal W·x computed
    // naively here.
    let n = 8usize;
    let w_mat: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| ((3 * i + 5 * j) % 7) as f64 - 3.0).collect())
        .collect();
    let x: Vec<f64> = (0..n).map(|j| 0.5 * j as f64 - 1.0).collect();
    let naive: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| w_mat[i][j] * x[j]).sum())
        .collect();
    let mut diags = Vec::new();
    for k in 0..n {
        diags.extend((0..n).map(|i| w_mat[i][(i + k) % n]));
    }
    let header = HEADER
        .replace(
            "weight \"w\" { rows=2, cols=8 }",
            "weight \"d\" { rows=8, cols=8 }",
        )
        .replace("rotations=[1, 2, 4, 7]", "rotations=[1, 2, 3, 4, 6]");
    // Offsets 0..8 with baby step 3: baby steps {1, 2}, giant steps {3, 6}.
    let body = "\
%0 = input \"x\" : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%1 = linear_transform %0, diagonals=\"d\", offsets=[0, 1, 2, 3, 4, 5, 6, 7], baby_step=3, scale=40 : ct<level=3, scale=80, slots=8, layout=strided(len=8, stride=1)>
output \"y\", %1
";
    let m = Module::from_text(&format!("{header}{body}")).unwrap();
    let mut w = Weights::new();
    w.insert("d".into(), Weight::f64(8, 8, diags).unwrap());
    let out = Interpreter::new(&m, &w)
        .unwrap()
        .run(&inputs(&[("x", x)]), &mut KvState::default())
        .unwrap();
    for (a, b) in out["y"].iter().zip(&naive) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}

#[test]
fn interpreter_is_fast_at_full_slot_count() {
    // 2^15 slots, 600 ops (rotate, constant product, plaintext add): well under a second in the test profile.
    let header =
        "params { log_n=16, log_q=[60, 40, 40], log_p=[60], log_default_scale=40, secret=dense }\n\
keys { rotations=[1], conjugate=false, bootstrap=false }\n\
weight \"m\" { rows=1, cols=32768 }\n";
    let ct = "ct<level=2, scale=40, slots=32768, layout=strided(len=32768, stride=1)>";
    let mut body = format!(
        "%0 = input \"x\" : {ct}\n%1 = plain \"m\"[0] : pt<level=2, scale=40, slots=32768>\n%2 = const 1 : scalar\n"
    );
    let mut last = 0;
    for k in 0..200 {
        let a = 3 + 3 * k;
        body += &format!("%{a} = rotate %{last}, step=1 : {ct}\n");
        body += &format!("%{} = mul_const %{a}, %2, scale=0 : {ct}\n", a + 1);
        body += &format!("%{} = add %{}, %1 : {ct}\n", a + 2, a + 1);
        last = a + 2;
    }
    body += &format!("output \"y\", %{last}\n");
    let m = Module::from_text(&format!("{header}{body}")).unwrap();
    m.verify().unwrap();
    let mut w = Weights::new();
    w.insert("m".into(), Weight::f64(1, 32768, vec![0.0; 32768]).unwrap());
    let x: Vec<f64> = (0..32768).map(f64::from).collect();
    let start = std::time::Instant::now();
    let out = Interpreter::new(&m, &w)
        .unwrap()
        .run(&inputs(&[("x", x)]), &mut KvState::default())
        .unwrap();
    let elapsed = start.elapsed();
    // 200 left rotations by 1: y[i] = x[(i + 200) mod 2^15].
    assert_eq!(out["y"][0], 200.0);
    assert_eq!(out["y"][32767], 199.0);
    assert!(elapsed.as_secs_f64() < 1.0, "took {elapsed:?}");
}
