//! Parser of the tensor-IR text form (the inverse of [`super::print::print`]).
//!
//! The result is not verified beyond what parsing needs (known operands, declared lengths);
//! call [`super::verify::verify`] afterwards. Weights come back declared without data.

use std::collections::BTreeMap;

use super::module::{Module, Node, Value, ValueId};
use super::op::Op;
use super::weight::Weight;
use crate::error::Result;
use crate::text::{Cursor, Token};

/// Parses the text form of a module.
pub fn parse(text: &str) -> Result<Module> {
    let mut m = Module::new();
    let mut names: BTreeMap<u32, ValueId> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let mut c = Cursor::new(raw, line)?;
        if c.at_end() {
            continue;
        }
        match c.peek() {
            Some(Token::Ident(w)) if w == "weight" => {
                c.keyword("weight")?;
                let name = c.string()?;
                c.expect(':')?;
                let shape = c.list(usize_of)?;
                c.expect_end()?;
                if m.weights
                    .insert(name.clone(), Weight::declared(shape))
                    .is_some()
                {
                    return Err(c.error(format!("weight {name:?} declared twice")));
                }
            }
            Some(Token::Value(_)) => {
                let v = c.value()?;
                c.expect('=')?;
                let keyword = c.ident()?;
                let args = operands(&mut c, &names)?;
                let op = op_of(&keyword, &mut c)?;
                c.expect(':')?;
                c.keyword("vec")?;
                c.expect('<')?;
                let len = usize_of(&mut c)?;
                c.expect('>')?;
                c.expect_end()?;
                if !op.has_result() {
                    return Err(c.error(format!("`{keyword}` defines no value")));
                }
                if names.contains_key(&v) {
                    return Err(c.error(format!("%{v} defined twice")));
                }
                let id = m.values.push(Value { len });
                names.insert(v, id);
                m.nodes.push(Node {
                    op,
                    args,
                    result: Some(id),
                });
            }
            Some(Token::Ident(w)) if w == "output" => {
                c.keyword("output")?;
                let args = operands(&mut c, &names)?;
                c.expect_end()?;
                m.nodes.push(Node {
                    op: Op::Output,
                    args,
                    result: None,
                });
            }
            _ => return Err(c.error("expected `weight`, `%n = op ...` or `output`")),
        }
    }
    Ok(m)
}

fn usize_of(c: &mut Cursor) -> Result<usize> {
    let v = c.int()?;
    usize::try_from(v).map_err(|_| c.error(format!("{v} is not a size")))
}

fn f32_of(c: &mut Cursor) -> Result<f32> {
    match c.next_token() {
        Some(Token::Number(s)) => s
            .parse::<f32>()
            .map_err(|_| c.error(format!("bad number {s}"))),
        other => Err(c.error(format!("expected a number, found {other:?}"))),
    }
}

/// `%a, %b, ...` (possibly none).
fn operands(c: &mut Cursor, names: &BTreeMap<u32, ValueId>) -> Result<Vec<ValueId>> {
    let mut out = Vec::new();
    if !matches!(c.peek(), Some(Token::Value(_))) {
        return Ok(out);
    }
    loop {
        let v = c.value()?;
        out.push(
            *names
                .get(&v)
                .ok_or_else(|| c.error(format!("%{v} is not defined")))?,
        );
        if !c.eat(',') {
            return Ok(out);
        }
    }
}

/// The op named `keyword` with its `key=value` attributes.
fn op_of(keyword: &str, c: &mut Cursor) -> Result<Op> {
    Ok(match keyword {
        "input" => {
            c.key("embedding")?;
            Op::Input {
                embedding: c.string()?,
            }
        }
        "mat_vec" => {
            c.key("weight")?;
            Op::MatVec {
                weight: c.string()?,
            }
        }
        "lm_head" => {
            c.key("weight")?;
            Op::LmHead {
                weight: c.string()?,
            }
        }
        "rms_norm" => {
            c.key("gain")?;
            let gain = c.string()?;
            c.key("eps")?;
            Op::RmsNorm {
                gain,
                eps: f32_of(c)?,
            }
        }
        "rope" => {
            c.key("heads")?;
            let heads = usize_of(c)?;
            c.key("head_dim")?;
            let head_dim = usize_of(c)?;
            c.key("inv_freq")?;
            Op::Rope {
                heads,
                head_dim,
                inv_freq: c.list(f32_of)?,
            }
        }
        "attention" => {
            c.key("layer")?;
            let layer = usize_of(c)?;
            c.key("q_heads")?;
            let q_heads = usize_of(c)?;
            c.key("kv_heads")?;
            let kv_heads = usize_of(c)?;
            c.key("head_dim")?;
            let head_dim = usize_of(c)?;
            c.key("scale")?;
            Op::Attention {
                layer,
                q_heads,
                kv_heads,
                head_dim,
                scale: f32_of(c)?,
            }
        }
        "silu" => Op::Silu,
        "mul" => Op::Mul,
        "add" => Op::Add,
        "softmax" => Op::Softmax,
        other => return Err(c.error(format!("unknown op `{other}`"))),
    })
}
