//! Text forms of the IRs: the [`TextForm`] entry point and a small lexer both IRs' parsers share.
//!
//! Conventions shared by both text forms: one statement per line, `;` starts a comment, values are `%n`,
//! strings are double-quoted with `\"`, `\\` and `\n` escapes, numbers print so they parse back bit-exactly.

use crate::error::{IrError, Result};

/// A printable and parseable IR: `from_text(&x.to_text())` gives back `x` (up to value renumbering).
pub trait TextForm: Sized {
    /// The text form.
    fn to_text(&self) -> String;
    /// Parses the text form (does not verify; call the IR's verifier afterwards).
    fn from_text(text: &str) -> Result<Self>;
}

/// A token of the text forms.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// An identifier or keyword (`add`, `ct`, `level`).
    Ident(String),
    /// A number (integer or float, also `inf`/`NaN` with an optional sign), as written.
    Number(String),
    /// A string literal, unescaped.
    Str(String),
    /// A value reference `%n`.
    Value(u32),
    /// One punctuation character: `= , : < > ( ) [ ] { }`.
    Punct(char),
}

/// Splits one line (without its comment) into tokens. `line` is 1-based, for errors.
pub fn lex_line(text: &str, line: usize) -> Result<Vec<Token>> {
    let err = |message: String| IrError::Parse { line, message };
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ';' {
            break;
        } else if c.is_whitespace() {
            i += 1;
        } else if "=,:<>()[]{}".contains(c) {
            out.push(Token::Punct(c));
            i += 1;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(err("unterminated string".into())),
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        match chars.get(i + 1) {
                            Some('"') => s.push('"'),
                            Some('\\') => s.push('\\'),
                            Some('n') => s.push('\n'),
                            other => {
                                return Err(err(format!(
                                    "bad escape \\{}",
                                    other.map_or(String::new(), |c| c.to_string())
                                )))
                            }
                        }
                        i += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Token::Str(s));
        } else if c == '%' {
            let start = i + 1;
            i = start;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            let n = digits
                .parse::<u32>()
                .map_err(|_| err(format!("bad value name %{digits}")))?;
            out.push(Token::Value(n));
        } else if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' {
            let start = i;
            i += 1;
            if c == '-' || c == '+' {
                // A signed special value: -inf, -NaN.
                let rest: String = chars[i..].iter().take(3).collect();
                if rest == "inf" || rest == "NaN" {
                    i += 3;
                    out.push(Token::Number(chars[start..i].iter().collect()));
                    continue;
                }
            }
            while i < chars.len() {
                let d = chars[i];
                let prev = chars[i - 1];
                if d.is_ascii_digit()
                    || d == '.'
                    || d == 'e'
                    || d == 'E'
                    || ((d == '-' || d == '+') && (prev == 'e' || prev == 'E'))
                {
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Token::Number(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word == "inf" || word == "NaN" {
                out.push(Token::Number(word));
            } else {
                out.push(Token::Ident(word));
            }
        } else {
            return Err(err(format!("unexpected character {c:?}")));
        }
    }
    Ok(out)
}

/// A cursor over one line's tokens with typed expectations; errors carry the line number.
#[derive(Debug)]
pub struct Cursor {
    tokens: Vec<Token>,
    pos: usize,
    line: usize,
}

impl Cursor {
    /// Lexes `text` (one line, 1-based `line`).
    pub fn new(text: &str, line: usize) -> Result<Self> {
        Ok(Self {
            tokens: lex_line(text, line)?,
            pos: 0,
            line,
        })
    }

    /// A parse error at this line.
    pub fn error(&self, message: impl Into<String>) -> IrError {
        IrError::Parse {
            line: self.line,
            message: message.into(),
        }
    }

    /// The next token without consuming it.
    pub fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    /// The token after the next one.
    pub fn peek2(&self) -> Option<&Token> {
        self.tokens.get(self.pos + 1)
    }

    /// Consumes and returns the next token.
    pub fn next_token(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    /// Whether every token was consumed.
    pub fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// Fails unless every token was consumed.
    pub fn expect_end(&self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(self.error(format!("unexpected {t:?} at end of line"))),
        }
    }

    /// Consumes punctuation `c` if it is next.
    pub fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Token::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes punctuation `c` or fails.
    pub fn expect(&mut self, c: char) -> Result<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(format!("expected '{c}', found {:?}", self.peek())))
        }
    }

    /// Consumes an identifier.
    pub fn ident(&mut self) -> Result<String> {
        match self.next_token() {
            Some(Token::Ident(s)) => Ok(s),
            t => Err(self.error(format!("expected a word, found {t:?}"))),
        }
    }

    /// Consumes identifier `word` or fails.
    pub fn keyword(&mut self, word: &str) -> Result<()> {
        match self.next_token() {
            Some(Token::Ident(s)) if s == word => Ok(()),
            t => Err(self.error(format!("expected `{word}`, found {t:?}"))),
        }
    }

    /// Consumes `key =`.
    pub fn key(&mut self, word: &str) -> Result<()> {
        self.keyword(word)?;
        self.expect('=')
    }

    /// Consumes a string literal.
    pub fn string(&mut self) -> Result<String> {
        match self.next_token() {
            Some(Token::Str(s)) => Ok(s),
            t => Err(self.error(format!("expected a string, found {t:?}"))),
        }
    }

    /// Consumes a value reference `%n`.
    pub fn value(&mut self) -> Result<u32> {
        match self.next_token() {
            Some(Token::Value(n)) => Ok(n),
            t => Err(self.error(format!("expected a value %n, found {t:?}"))),
        }
    }

    /// Consumes a number as `f64`.
    pub fn f64(&mut self) -> Result<f64> {
        match self.next_token() {
            Some(Token::Number(s)) => s
                .parse::<f64>()
                .map_err(|_| self.error(format!("bad number {s}"))),
            t => Err(self.error(format!("expected a number, found {t:?}"))),
        }
    }

    /// Consumes an integer as `i64`.
    pub fn int(&mut self) -> Result<i64> {
        match self.next_token() {
            Some(Token::Number(s)) => s
                .parse::<i64>()
                .map_err(|_| self.error(format!("bad integer {s}"))),
            t => Err(self.error(format!("expected an integer, found {t:?}"))),
        }
    }

    /// Consumes an integer that fits `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        let n = self.int()?;
        u32::try_from(n).map_err(|_| self.error(format!("{n} is out of range (0..2^32)")))
    }

    /// Consumes an integer that fits `i32`.
    pub fn i32(&mut self) -> Result<i32> {
        let n = self.int()?;
        i32::try_from(n).map_err(|_| self.error(format!("{n} is out of range for i32")))
    }

    /// Consumes `[item, item, …]`.
    pub fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        self.expect('[')?;
        let mut out = Vec::new();
        if self.eat(']') {
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            if self.eat(']') {
                return Ok(out);
            }
            self.expect(',')?;
        }
    }
}

/// Formats a float so that it parses back to the same bits: integers without a fraction, others shortest.
pub fn fmt_f64(x: f64) -> String {
    if x.is_finite() && x == x.trunc() && x.abs() < 1e15 && !(x == 0.0 && x.is_sign_negative()) {
        format!("{}", x as i64)
    } else {
        format!("{x:?}")
    }
}

/// Quotes a string with the text forms' escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_trip_bit_exactly() {
        for x in [
            0.0,
            -0.0,
            1.0,
            -3.0,
            0.1,
            1e-7,
            1e300,
            -2.5e-12,
            f64::INFINITY,
            f64::NEG_INFINITY,
            40.0,
        ] {
            let s = fmt_f64(x);
            let mut c = Cursor::new(&s, 1).unwrap();
            let y = c.f64().unwrap();
            assert_eq!(x.to_bits(), y.to_bits(), "{x} printed as {s}");
        }
    }

    #[test]
    fn strings_round_trip() {
        let s = "a \"quoted\" \\ name\nwith newline";
        let mut c = Cursor::new(&quote(s), 1).unwrap();
        assert_eq!(c.string().unwrap(), s);
    }

    #[test]
    fn lex_errors_name_the_line() {
        let e = lex_line("%0 = add @", 7).unwrap_err();
        assert!(e.to_string().starts_with("line 7:"), "{e}");
    }
}
