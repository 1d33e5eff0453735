//! Range management on a model with outlier channels: the tiny `optimum` fixture with two embedding
//! channels scaled by ±3000, so its residual stream carries entries far above what bootstrapping refreshes
//! (a real LLM's massive activations). Lowered at `N16_BOOT`, every bootstrap input must stay within
//! half its limit on the calibration tokens and above a 32nd of the range target, and the cleartext
//! interpreter must give the greedy tokens
//! of the plaintext reference executor run on the same modified model.

use cachemir_compiler::calibrate::{bootstrap_inputs, observe};
use cachemir_compiler::lower::{self, params, range::Ranges, Options, Strategy};
use cachemir_compiler::model::load_tensor_ir;
use cachemir_compiler::reference::generate;
use cachemir_compiler::truncate::truncate_layers;
use cachemir_ir::plan::client;
use cachemir_ir::tensor::{Module, Op};
use std::path::Path;

const CALIBRATION: [u32; 12] = [3, 250, 17, 88, 140, 9, 201, 66, 42, 123, 7, 180];
const PROMPT: [u32; 4] = [1, 17, 42, 99];

fn outlier_model() -> Module {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tiny-llama/optimum/model.onnx");
    let mut m = load_tensor_ir(&path).unwrap();
    let w = m.weights.get_mut("embed_tokens").unwrap();
    let cols = w.shape[1];
    for row in w.data.as_mut().unwrap().chunks_mut(cols) {
        row[3] *= 3000.0;
        row[40] *= -3000.0;
    }
    m
}

fn check(m: &Module) {
    check_with(m, &[CALIBRATION.to_vec()]);
}

fn check_with(m: &Module, calibration: &[Vec<u32>]) {
    let cal = observe(m, calibration).unwrap();
    let set = params::by_name("N16_BOOT").unwrap();
    let input = m
        .nodes
        .iter()
        .find(|(_, n)| matches!(n.op, Op::Input { .. }))
        .and_then(|(_, n)| n.result)
        .unwrap();
    let peak = cal
        .magnitude(input.index())
        .unwrap()
        .iter()
        .fold(0.0, |a: f64, &b| a.max(b));
    let limit = Ranges::new(&set.literal).limit;
    assert!(
        peak > 2.0 * limit,
        "the outliers ({peak}) must exceed the limit {limit}"
    );
    let opts = Options {
        strategy: Strategy::Cachemir,
        params: set,
        slots: None,
        max_context: 16,
        cache_level: None,
        placement: Default::default(),
        costs: None,
    };
    let lowered = lower::lower(m, &cal, &opts).unwrap();
    let boots =
        bootstrap_inputs(&lowered.module, &lowered.weights, &[CALIBRATION.to_vec()]).unwrap();
    assert!(!boots.is_empty());
    // Nor far below the target: bootstrapping's noise floor is absolute, so a small input loses
    // relative precision (a residual stream in small units once reached it at 5e-4).
    let floor = lower::range::TARGET_AMPLITUDE / 32.0;
    for b in &boots {
        assert!(
            b.observed >= floor,
            "{}: {} below {floor}",
            b.op,
            b.observed
        );
    }
    for b in &boots {
        assert!(
            !b.at_risk(),
            "{}: {} against the limit {}",
            b.op,
            b.observed,
            b.limit
        );
    }
    let want = generate(m, &PROMPT, 6).unwrap();
    let (got, _) =
        client::generate_in_clear(&lowered.module, &lowered.weights, &PROMPT, 6).unwrap();
    assert_eq!(got, want.generated_ids);
}

#[test]
fn outlier_channels_stay_in_range_and_keep_the_reference_tokens() {
    check(&outlier_model());
}

#[test]
fn one_layer_of_the_outlier_model_stays_in_range_and_keeps_its_tokens() {
    check(&truncate_layers(&outlier_model(), 1).unwrap());
}

/// An attention sink: token 1, always first, with an embedding row 200 times the others', so the first
/// position's sums of squares are 4·10^4 times the rest. The first position gets its own RMSNorm units
/// (the client's first-position indicator is an input), and the tokens stay the reference's.
#[test]
fn a_first_position_sink_gets_its_own_units_and_keeps_the_reference_tokens() {
    let mut m = outlier_model();
    let w = m.weights.get_mut("embed_tokens").unwrap();
    let cols = w.shape[1];
    for v in &mut w.data.as_mut().unwrap()[cols..2 * cols] {
        *v *= 200.0;
    }
    let calibration: Vec<Vec<u32>> = CALIBRATION.chunks(4).map(|c| [&[1], c].concat()).collect();
    check_with(&m, &calibration);
    let cal = observe(&m, &calibration).unwrap();
    let opts = Options {
        strategy: Strategy::Cachemir,
        params: params::by_name("N16_BOOT").unwrap(),
        slots: None,
        max_context: 16,
        cache_level: None,
        placement: Default::default(),
        costs: None,
    };
    let lowered = lower::lower(&m, &cal, &opts).unwrap();
    let inputs = lowered.module.op_ids().filter(|&id| {
        matches!(&lowered.module.op(id).op, cachemir_ir::fhe::Op::Input { name } if name == "pos.first")
    });
    assert_eq!(
        inputs.count(),
        1,
        "the first-position indicator is an input"
    );
}
