//! The filetest runner: every `tests/filetests/<pass-name>/*.fhe` file is an FHE module with directives in
//! comments:
//!
//! - `; run: <pass-name>` (one or more, in order): the pipeline to run.
//! - `; check: <text>`: the output must contain lines with these substrings, in this order.
//! - `; not: <text>`: no output line contains this substring.
//! - `; error: <text>`: the pipeline must fail with an error containing this text.
//! - Without `check`/`error` lines, the output must equal the golden `<file>.expected`;
//!   `CACHEMIR_BLESS=1` rewrites goldens.
//!
//! When the input verifies, the runner also checks that the passes preserved semantics: the cleartext
//! interpreter runs the module before and after on the same pseudo-random inputs and weights.

use cachemir_ir::fhe::interp::{Interpreter, KvState};
use cachemir_ir::fhe::{Module, Op, Type};
use cachemir_ir::text::TextForm;
use cachemir_ir::weights::{Weight, Weights};
use cachemir_passes::pipelines::pass_by_name;
use cachemir_passes::{DumpConfig, PassCx, PassManager};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn filetest_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/filetests")
}

struct Directives {
    run: Vec<String>,
    check: Vec<String>,
    not: Vec<String>,
    error: Option<String>,
}

fn directives(text: &str) -> Directives {
    let mut d = Directives {
        run: vec![],
        check: vec![],
        not: vec![],
        error: None,
    };
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix(';') else {
            continue;
        };
        let rest = rest.trim();
        if let Some(v) = rest.strip_prefix("run:") {
            d.run.push(v.trim().to_string());
        } else if let Some(v) = rest.strip_prefix("check:") {
            d.check.push(v.trim().to_string());
        } else if let Some(v) = rest.strip_prefix("not:") {
            d.not.push(v.trim().to_string());
        } else if let Some(v) = rest.strip_prefix("error:") {
            d.error = Some(v.trim().to_string());
        }
    }
    d
}

/// Deterministic pseudo-random numbers in [-1, 1).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

fn random_weights(m: &Module, rng: &mut Rng) -> Weights {
    m.weights
        .iter()
        .map(|(name, d)| {
            let data = (0..d.rows as usize * d.cols as usize)
                .map(|_| rng.next())
                .collect();
            (
                name.clone(),
                Weight::f64(d.rows, d.cols, data).expect("shape matches"),
            )
        })
        .collect()
}

fn random_inputs(m: &Module, rng: &mut Rng) -> BTreeMap<String, Vec<f64>> {
    let mut out = BTreeMap::new();
    for id in m.op_ids() {
        let data = m.op(id);
        if let (Op::Input { name }, Some(Type::Ct(t))) = (
            &data.op,
            data.results.first().and_then(|&r| m.value_type(r)),
        ) {
            let len = t.layout.logical_len().unwrap_or(0) as usize;
            out.insert(name.clone(), (0..len).map(|_| rng.next()).collect());
        }
    }
    out
}

/// Runs two steps of `m` (so KV caches are exercised).
fn run_steps(
    m: &Module,
    weights: &Weights,
    seed: u64,
) -> Result<Vec<BTreeMap<String, Vec<f64>>>, String> {
    let it = Interpreter::new(m, weights).map_err(|e| e.to_string())?;
    let mut rng = Rng(seed);
    let mut st = KvState::default();
    (0..2)
        .map(|_| {
            it.run(&random_inputs(m, &mut rng), &mut st)
                .map_err(|e| e.to_string())
        })
        .collect()
}

fn run_file(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let d = directives(&text);
    if d.run.is_empty() {
        return Err("no `; run:` line".into());
    }
    let passes = d
        .run
        .iter()
        .map(|n| pass_by_name(n))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let mut module = Module::from_text(&text).map_err(|e| e.to_string())?;
    let original = module.clone();
    let manager = PassManager::new(passes)
        .verify_each(true)
        .dump(DumpConfig::from_env());
    let result = manager.run(&mut module, &mut PassCx::default());
    if let Some(want) = &d.error {
        return match result {
            Err(e) if e.to_string().contains(want.as_str()) => Ok(()),
            Err(e) => Err(format!("error `{e}` does not contain `{want}`")),
            Ok(_) => Err(format!(
                "expected an error containing `{want}`, the pipeline succeeded"
            )),
        };
    }
    result.map_err(|e| e.to_string())?;
    let output = module.to_text();

    if d.check.is_empty() {
        let golden = path.with_extension("fhe.expected");
        if std::env::var_os("CACHEMIR_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&golden, &output).map_err(|e| e.to_string())?;
        }
        let want = std::fs::read_to_string(&golden).map_err(|e| {
            format!(
                "no checks and no golden {} ({e}); run with CACHEMIR_BLESS=1",
                golden.display()
            )
        })?;
        if want != output {
            return Err(format!(
                "output differs from {}:\n{output}",
                golden.display()
            ));
        }
    } else {
        let mut lines = output.lines();
        for c in &d.check {
            if !lines.by_ref().any(|l| l.contains(c.as_str())) {
                return Err(format!(
                    "check `{c}` not found (in order) in output:\n{output}"
                ));
            }
        }
    }
    for n in &d.not {
        if let Some(l) = output.lines().find(|l| l.contains(n.as_str())) {
            return Err(format!("`not: {n}` matched `{l}` in output:\n{output}"));
        }
    }

    // Semantics preserved (when the input is a valid program).
    if original.verify().is_ok() {
        let weights = random_weights(&original, &mut Rng(0x5eed));
        let before = run_steps(&original, &weights, 7)?;
        let after = run_steps(&module, &weights, 7)?;
        if before != after {
            return Err(format!(
                "interpreter results changed: before {before:?}, after {after:?}"
            ));
        }
    }
    Ok(())
}

#[test]
fn filetests() {
    let root = filetest_root();
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).expect("tests/filetests exists") {
        let dir = dir.unwrap().path();
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "fhe") {
                files.push(f);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no filetests under {}", root.display());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| run_file(f).err().map(|e| format!("{}: {e}", f.display())))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} filetests failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn folder_names_are_pass_names() {
    for dir in std::fs::read_dir(filetest_root()).unwrap() {
        let name = dir.unwrap().file_name().into_string().unwrap();
        assert!(
            pass_by_name(&name).is_ok(),
            "tests/filetests/{name} is not a pass name"
        );
    }
}
