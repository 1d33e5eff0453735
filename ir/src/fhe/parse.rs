//! Parser of the FHE IR text form (the inverse of [`super::print`]). It checks syntax and value names only;
//! run the verifier for types.

use super::module::{KeySet, KvCacheDecl, Module, ValueId, WeightDecl};
use super::op::{Op, WeightRef};
use super::types::{CtType, Layout, PtType, Type};
use super::units::{Level, LogScale, RotStep, SlotCount};
use crate::error::Result;
use crate::params::{CkksParamsLiteral, SecretDistribution};
use crate::text::{Cursor, Token};
use std::collections::BTreeMap;

fn parse_layout(c: &mut Cursor) -> Result<Layout> {
    match c.ident()?.as_str() {
        "opaque" => Ok(Layout::Opaque),
        "strided" => {
            c.expect('(')?;
            c.key("len")?;
            let len = c.u32()?;
            c.expect(',')?;
            c.key("stride")?;
            let stride = c.u32()?;
            c.expect(')')?;
            Ok(Layout::Strided { len, stride })
        }
        "replicated" => {
            c.expect('(')?;
            c.key("len")?;
            let len = c.u32()?;
            c.expect(')')?;
            Ok(Layout::Replicated { len })
        }
        other => Err(c.error(format!("unknown layout `{other}`"))),
    }
}

fn parse_ct_body(c: &mut Cursor) -> Result<CtType> {
    c.expect('<')?;
    c.key("level")?;
    let level = Level(c.u32()?);
    c.expect(',')?;
    c.key("scale")?;
    let scale = LogScale(c.f64()?);
    c.expect(',')?;
    c.key("slots")?;
    let slots = SlotCount(c.u32()?);
    c.expect(',')?;
    c.key("layout")?;
    let layout = parse_layout(c)?;
    let mut degree = 1;
    if c.eat(',') {
        c.key("degree")?;
        let d = c.u32()?;
        degree = u8::try_from(d).map_err(|_| c.error(format!("degree {d} out of range")))?;
    }
    c.expect('>')?;
    Ok(CtType {
        level,
        scale,
        slots,
        layout,
        degree,
    })
}

/// Parses one type (`ct<…>`, `pt<…>`, `scalar`).
pub fn parse_type(c: &mut Cursor) -> Result<Type> {
    match c.ident()?.as_str() {
        "ct" => Ok(Type::Ct(parse_ct_body(c)?)),
        "pt" => {
            c.expect('<')?;
            c.key("level")?;
            let level = Level(c.u32()?);
            c.expect(',')?;
            c.key("scale")?;
            let scale = LogScale(c.f64()?);
            c.expect(',')?;
            c.key("slots")?;
            let slots = SlotCount(c.u32()?);
            c.expect('>')?;
            Ok(Type::Pt(PtType {
                level,
                scale,
                slots,
            }))
        }
        "scalar" => Ok(Type::Scalar),
        other => Err(c.error(format!("unknown type `{other}`"))),
    }
}

fn parse_bool(c: &mut Cursor) -> Result<bool> {
    match c.ident()?.as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(c.error(format!("expected true or false, found `{other}`"))),
    }
}

fn parse_params(c: &mut Cursor) -> Result<CkksParamsLiteral> {
    c.expect('{')?;
    c.key("log_n")?;
    let log_n = c.u32()?;
    c.expect(',')?;
    c.key("log_q")?;
    let log_q = c.list(Cursor::u32)?;
    c.expect(',')?;
    c.key("log_p")?;
    let log_p = c.list(Cursor::u32)?;
    c.expect(',')?;
    c.key("log_default_scale")?;
    let log_default_scale = c.u32()?;
    c.expect(',')?;
    c.key("secret")?;
    let secret = match c.ident()?.as_str() {
        "dense" => SecretDistribution::Dense,
        "fixed_hamming" => {
            c.expect('(')?;
            let h = c.u32()?;
            c.expect(')')?;
            SecretDistribution::FixedHamming(h)
        }
        other => Err(c.error(format!("unknown secret distribution `{other}`")))?,
    };
    c.expect('}')?;
    Ok(CkksParamsLiteral {
        log_n,
        log_q,
        log_p,
        log_default_scale,
        secret,
    })
}

fn parse_keys(c: &mut Cursor) -> Result<KeySet> {
    c.expect('{')?;
    c.key("rotations")?;
    let steps = c.list(|c| c.i32().map(RotStep))?;
    c.expect(',')?;
    c.key("conjugate")?;
    let conjugate = parse_bool(c)?;
    c.expect(',')?;
    c.key("bootstrap")?;
    let bootstrap = parse_bool(c)?;
    c.expect('}')?;
    Ok(KeySet {
        rotations: steps.into_iter().collect(),
        conjugate,
        bootstrap,
    })
}

struct Values(BTreeMap<u32, ValueId>);

impl Values {
    fn get(&self, c: &mut Cursor) -> Result<ValueId> {
        let n = c.value()?;
        self.0
            .get(&n)
            .copied()
            .ok_or_else(|| c.error(format!("%{n} is not defined above")))
    }
}

fn named_f64(c: &mut Cursor, key: &str) -> Result<f64> {
    c.expect(',')?;
    c.key(key)?;
    c.f64()
}

fn parse_op(c: &mut Cursor, mnemonic: &str, vals: &Values) -> Result<Op> {
    let op = match mnemonic {
        "input" => Op::Input { name: c.string()? },
        "output" => {
            let name = c.string()?;
            c.expect(',')?;
            Op::Output {
                name,
                value: vals.get(c)?,
            }
        }
        "const" => Op::Const { value: c.f64()? },
        "plain" => {
            let name = c.string()?;
            c.expect('[')?;
            let index = c.u32()?;
            c.expect(']')?;
            Op::Plain {
                weight: WeightRef { name, index },
            }
        }
        "add" | "sub" | "mul_ct" | "mul_plain" => {
            let a = vals.get(c)?;
            c.expect(',')?;
            let b = vals.get(c)?;
            match mnemonic {
                "add" => Op::Add { lhs: a, rhs: b },
                "sub" => Op::Sub { lhs: a, rhs: b },
                "mul_ct" => Op::MulCt { lhs: a, rhs: b },
                _ => Op::MulPlain { ct: a, pt: b },
            }
        }
        "mul_const" => {
            let ct = vals.get(c)?;
            c.expect(',')?;
            let constant = vals.get(c)?;
            let scale = LogScale(named_f64(c, "scale")?);
            Op::MulConst {
                ct,
                constant,
                scale,
            }
        }
        "relinearize" => Op::Relinearize {
            input: vals.get(c)?,
        },
        "rescale" => Op::Rescale {
            input: vals.get(c)?,
        },
        "conjugate" => Op::Conjugate {
            input: vals.get(c)?,
        },
        "level_drop" => {
            let input = vals.get(c)?;
            c.expect(',')?;
            c.key("to")?;
            Op::LevelDrop {
                input,
                to: Level(c.u32()?),
            }
        }
        "rotate" => {
            let input = vals.get(c)?;
            c.expect(',')?;
            c.key("step")?;
            Op::Rotate {
                input,
                step: RotStep(c.i32()?),
            }
        }
        "rotate_hoisted" => {
            let input = vals.get(c)?;
            c.expect(',')?;
            c.key("steps")?;
            Op::RotateHoisted {
                input,
                steps: c.list(|c| c.i32().map(RotStep))?,
            }
        }
        "linear_transform" => {
            let input = vals.get(c)?;
            c.expect(',')?;
            c.key("diagonals")?;
            let diagonals = c.string()?;
            c.expect(',')?;
            c.key("offsets")?;
            let offsets = c.list(|c| c.i32().map(RotStep))?;
            c.expect(',')?;
            c.key("baby_step")?;
            let baby_step = c.u32()?;
            let scale = LogScale(named_f64(c, "scale")?);
            Op::LinearTransform {
                input,
                diagonals,
                offsets,
                baby_step,
                scale,
            }
        }
        "poly_eval" => {
            let input = vals.get(c)?;
            c.expect(',')?;
            c.key("coeffs")?;
            let coeffs = c.list(Cursor::f64)?;
            c.expect(',')?;
            c.key("interval")?;
            c.expect('(')?;
            let a = c.f64()?;
            c.expect(',')?;
            let b = c.f64()?;
            c.expect(')')?;
            Op::PolyEval {
                input,
                coeffs,
                interval: (a, b),
            }
        }
        "bootstrap" => {
            let input = vals.get(c)?;
            c.expect(',')?;
            c.key("target")?;
            let target = Level(c.u32()?);
            let boost = if c.eat(',') {
                c.key("boost")?;
                c.u32()?
            } else {
                0
            };
            Op::Bootstrap {
                input,
                target,
                boost,
            }
        }
        "kv_read" => {
            let cache = c.string()?;
            c.expect(',')?;
            c.key("chunk")?;
            Op::KvRead {
                cache,
                chunk: c.u32()?,
            }
        }
        "kv_append" => {
            let cache = c.string()?;
            c.expect(',')?;
            Op::KvAppend {
                cache,
                value: vals.get(c)?,
            }
        }
        other => return Err(c.error(format!("unknown op `{other}`"))),
    };
    Ok(op)
}

/// Parses a module from its text form.
pub fn parse_module(text: &str) -> Result<Module> {
    let mut module: Option<Module> = None;
    let mut vals = Values(BTreeMap::new());
    let mut last_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        last_line = line;
        let mut c = Cursor::new(raw, line)?;
        if c.at_end() {
            continue;
        }
        // Declarations.
        if let Some(Token::Ident(word)) = c.peek() {
            let word = word.clone();
            let is_decl = matches!(word.as_str(), "params" | "keys" | "weight" | "kv")
                && matches!(c.peek2(), Some(Token::Punct('{')) | Some(Token::Str(_)));
            if is_decl {
                c.next_token();
                if word == "params" {
                    if module.is_some() {
                        return Err(c.error("`params` appears twice"));
                    }
                    module = Some(Module::new(parse_params(&mut c)?));
                    c.expect_end()?;
                    continue;
                }
                let m = module
                    .as_mut()
                    .ok_or_else(|| c.error("the module must start with `params`"))?;
                match word.as_str() {
                    "keys" => m.keys = parse_keys(&mut c)?,
                    "weight" => {
                        let name = c.string()?;
                        c.expect('{')?;
                        c.key("rows")?;
                        let rows = c.u32()?;
                        c.expect(',')?;
                        c.key("cols")?;
                        let cols = c.u32()?;
                        c.expect('}')?;
                        if m.weights
                            .insert(name.clone(), WeightDecl { rows, cols })
                            .is_some()
                        {
                            return Err(c.error(format!("weight \"{name}\" declared twice")));
                        }
                    }
                    _ => {
                        let name = c.string()?;
                        c.expect('{')?;
                        c.key("chunks")?;
                        let chunks = c.u32()?;
                        c.expect(',')?;
                        c.key("tokens_per_chunk")?;
                        let tokens_per_chunk = c.u32()?;
                        c.expect(',')?;
                        c.key("token_stride")?;
                        let token_stride = c.u32()?;
                        c.expect(',')?;
                        c.key("chunk")?;
                        c.keyword("ct")?;
                        let chunk = parse_ct_body(&mut c)?;
                        c.expect('}')?;
                        let decl = KvCacheDecl {
                            chunks,
                            tokens_per_chunk,
                            token_stride,
                            chunk,
                        };
                        if m.kv_caches.insert(name.clone(), decl).is_some() {
                            return Err(c.error(format!("KV cache \"{name}\" declared twice")));
                        }
                    }
                }
                c.expect_end()?;
                continue;
            }
        }
        let m = module
            .as_mut()
            .ok_or_else(|| c.error("the module must start with `params`"))?;
        // Statement: [%a, %b =] mnemonic args [: types]
        let mut names = Vec::new();
        if matches!(c.peek(), Some(Token::Value(_))) {
            loop {
                names.push(c.value()?);
                if !c.eat(',') {
                    break;
                }
            }
            c.expect('=')?;
        }
        let mnemonic = c.ident()?;
        let op = parse_op(&mut c, &mnemonic, &vals)?;
        let mut types = Vec::new();
        if c.eat(':') {
            loop {
                types.push(parse_type(&mut c)?);
                if !c.eat(',') {
                    break;
                }
            }
        }
        c.expect_end()?;
        if types.len() != names.len() {
            return Err(c.error(format!("{} results but {} types", names.len(), types.len())));
        }
        let (_, results) = m.push_op(op, types);
        for (n, r) in names.into_iter().zip(results) {
            if vals.0.insert(n, r).is_some() {
                return Err(c.error(format!("%{n} is defined twice")));
            }
        }
    }
    module.ok_or(crate::IrError::Parse {
        line: last_line.max(1),
        message: "empty module: no `params`".into(),
    })
}

impl crate::text::TextForm for Module {
    fn to_text(&self) -> String {
        super::print::module_to_string(self)
    }
    fn from_text(text: &str) -> Result<Self> {
        parse_module(text)
    }
}
