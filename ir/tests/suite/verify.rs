//! Verifier: the sample is accepted; each kind of mistake is rejected with an error naming the op.

use super::common::{module, BODY};

#[test]
fn sample_verifies() {
    module(BODY).verify().unwrap();
}

/// Replaces `from` by `to` in the sample body and returns the verifier's message.
fn error_of(from: &str, to: &str) -> String {
    assert!(
        BODY.contains(from),
        "test edit target {from:?} not in the sample"
    );
    let m = module(&BODY.replace(from, to));
    m.verify()
        .expect_err("mutated module must not verify")
        .to_string()
}

fn error_of_body(body: &str) -> String {
    module(body)
        .verify()
        .expect_err("module must not verify")
        .to_string()
}

#[test]
fn level_mismatch_names_op_and_values() {
    // %4 declared one level up, so the add sees %3 at 2 and %4 at 3 (the rotate itself is rejected first).
    let body = "\
%0 = input \"x\" : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%1 = input \"z\" : ct<level=2, scale=40, slots=8, layout=strided(len=8, stride=1)>
%2 = add %0, %1 : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
";
    assert_eq!(
        error_of_body(body),
        "op %2 (add): level mismatch: %0 at 3, %1 at 2"
    );
}

#[test]
fn scale_mismatch_names_op() {
    let body = "\
%0 = input \"x\" : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%1 = input \"z\" : ct<level=3, scale=41, slots=8, layout=strided(len=8, stride=1)>
%2 = sub %0, %1 : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
";
    assert_eq!(
        error_of_body(body),
        "op %2 (sub): scale mismatch: %0 at 2^40, %1 at 2^41"
    );
}

#[test]
fn slot_mismatch_names_op() {
    let body = "\
%0 = input \"x\" : ct<level=3, scale=40, slots=8, layout=strided(len=4, stride=1)>
%1 = input \"z\" : ct<level=3, scale=40, slots=4, layout=strided(len=4, stride=1)>
%2 = mul_ct %0, %1 : ct<level=3, scale=80, slots=8, layout=opaque, degree=2>
";
    assert_eq!(
        error_of_body(body),
        "op %2 (mul_ct): slot count mismatch: %0 has 8, %1 has 4"
    );
}

#[test]
fn wrong_declared_result_level() {
    let msg = error_of(
        "%3 = rescale %2 : ct<level=2,",
        "%3 = rescale %2 : ct<level=1,",
    );
    assert!(
        msg.starts_with("op %3 (rescale): %3 declared ct<level=1"),
        "{msg}"
    );
    assert!(
        msg.contains("the typing rule gives ct<level=2, scale=40"),
        "{msg}"
    );
}

#[test]
fn rescale_uses_the_modulus_at_that_level() {
    // Rescaling at level 3 drops a 40-bit prime: 80 − 40 = 40; declaring 30 is wrong.
    let msg = error_of(
        "%3 = rescale %2 : ct<level=2, scale=40",
        "%3 = rescale %2 : ct<level=2, scale=30",
    );
    assert!(msg.starts_with("op %3 (rescale)"), "{msg}");
}

#[test]
fn missing_rotation_key() {
    let msg = error_of("rotate %3, step=1", "rotate %3, step=3");
    assert_eq!(msg, "op %4 (rotate): missing rotation key for step 3");
}

#[test]
fn negative_rotation_normalizes_to_declared_key() {
    // −1 ≡ 7 (mod 8): key 7 is declared.
    module(&BODY.replace("rotate %3, step=1", "rotate %3, step=-1"))
        .verify()
        .unwrap();
}

#[test]
fn bad_weight_references() {
    assert_eq!(
        error_of("plain \"w\"[0]", "plain \"v\"[0]"),
        "op %1 (plain): unknown weight \"v\""
    );
    assert_eq!(
        error_of("plain \"w\"[0]", "plain \"w\"[2]"),
        "op %1 (plain): row 2 of weight \"w\" with 2 rows"
    );
}

#[test]
fn add_of_unrelinearized_product_then_rotate_needs_relinearize() {
    let body = "\
%0 = input \"x\" : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%1 = mul_ct %0, %0 : ct<level=3, scale=80, slots=8, layout=strided(len=8, stride=1), degree=2>
%2 = rotate %1, step=1 : ct<level=3, scale=80, slots=8, layout=opaque, degree=2>
";
    assert_eq!(
        error_of_body(body),
        "op %2 (rotate): %1 has degree 2, expected 1"
    );
}

#[test]
fn rescale_at_level_zero() {
    let body = "\
%0 = input \"x\" : ct<level=0, scale=40, slots=8, layout=strided(len=8, stride=1)>
%1 = rescale %0 : ct<level=0, scale=0, slots=8, layout=strided(len=8, stride=1)>
";
    assert_eq!(
        error_of_body(body),
        "op %1 (rescale): %0 at level 0, needs at least 1"
    );
}

#[test]
fn poly_eval_consumes_depth() {
    // 5 coefficients (degree 4) need ⌈log2 5⌉ = 3 levels; level 2 is too low.
    let body = "\
%0 = input \"x\" : ct<level=2, scale=40, slots=8, layout=strided(len=8, stride=1)>
%1 = poly_eval %0, coeffs=[1, 2, 3, 4, 5], interval=(-1, 1) : ct<level=0, scale=40, slots=8, layout=strided(len=8, stride=1)>
";
    assert_eq!(
        error_of_body(body),
        "op %1 (poly_eval): %0 at level 2, needs at least 3"
    );
}

#[test]
fn output_layout_must_be_client_decodable() {
    let msg = error_of(
        "%5 = add %3, %4 : ct<level=2, scale=40, slots=8, layout=strided(len=8, stride=1)>",
        "%5 = add %3, %4 : ct<level=2, scale=40, slots=8, layout=opaque>",
    );
    assert!(msg.starts_with("op %5 (add): %5 declared"), "{msg}");
}

#[test]
fn slot_count_above_n_over_2() {
    let msg = error_of(
        "%0 = input \"x\" : ct<level=3, scale=40, slots=8,",
        "%0 = input \"x\" : ct<level=3, scale=40, slots=16,",
    );
    assert_eq!(
        msg,
        "op %0 (input): %0 has 16 slots; a power of two at most 8 is needed"
    );
}

#[test]
fn kv_append_type_and_keys() {
    let header_kv = "kv \"k\" { chunks=2, tokens_per_chunk=2, token_stride=4, chunk=ct<level=2, scale=40, slots=8, layout=strided(len=2, stride=1)> }\n";
    let body = "\
%0 = input \"x\" : ct<level=2, scale=40, slots=8, layout=strided(len=2, stride=1)>
kv_append \"k\", %0
%1 = kv_read \"k\", chunk=1 : ct<level=2, scale=40, slots=8, layout=strided(len=2, stride=1)>
";
    module(&format!("{header_kv}{body}")).verify().unwrap();
    // Level 3 does not match the cache's level 2.
    let wrong = body.replace("input \"x\" : ct<level=2", "input \"x\" : ct<level=3");
    let msg = module(&format!("{header_kv}{wrong}"))
        .verify()
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "op kv_append \"k\": %0 does not have the chunk type of KV cache \"k\""
    );
    // A stride of 3 needs key −3 ≡ 5, which is missing.
    let kv3 = header_kv.replace("token_stride=4", "token_stride=3");
    let msg = module(&format!("{kv3}{body}"))
        .verify()
        .unwrap_err()
        .to_string();
    assert_eq!(msg, "op kv_append \"k\": missing rotation key for step 5");
}

#[test]
fn use_before_definition_is_a_parse_error() {
    let e = cachemir_ir::fhe::parse::parse_module(&format!(
        "{}%0 = rescale %1 : ct<level=2, scale=40, slots=8, layout=opaque>\n",
        super::common::HEADER
    ))
    .unwrap_err();
    assert_eq!(e.to_string(), "line 4: %1 is not defined above");
}

#[test]
fn removed_definition_is_reported() {
    let mut m = module(BODY);
    let rotate = m.op_ids().nth(4).unwrap();
    m.remove_op(rotate).unwrap();
    assert_eq!(
        m.verify().unwrap_err().to_string(),
        "op %5 (add): %4 is defined by a removed op"
    );
}
