//! Text in, text out: the model's tokenizer travels in the plan's client section as a Hugging Face
//! `tokenizer.json` (so a client in any language with a Hugging Face tokenizers library can use it), with
//! the model's beginning- and end-of-sequence ids. The client encodes a prompt (the beginning-of-sequence
//! id first when the model has one), and decodes what it generates.

use crate::error::{IrError, Result};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// The tokenizer as the plan stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenizerSpec {
    /// A Hugging Face `tokenizer.json`.
    pub json: String,
    /// The beginning-of-sequence id put before every prompt, if the model has one.
    pub bos: Option<u32>,
    /// The end-of-sequence id generation stops at, if the model has one.
    pub eos: Option<u32>,
}

fn text_err(message: impl Into<String>) -> IrError {
    IrError::Text {
        message: message.into(),
    }
}

/// A loaded tokenizer: encodes prompts and decodes generated ids.
#[derive(Clone)]
pub struct TextCodec {
    spec: TokenizerSpec,
    tokenizer: tokenizers::Tokenizer,
}

impl std::fmt::Debug for TextCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextCodec")
            .field("bos", &self.spec.bos)
            .field("eos", &self.spec.eos)
            .finish_non_exhaustive()
    }
}

impl TextCodec {
    /// Loads `spec` (its JSON must be a valid `tokenizer.json`).
    pub fn new(spec: TokenizerSpec) -> Result<Self> {
        let tokenizer = tokenizers::Tokenizer::from_str(&spec.json)
            .map_err(|e| text_err(format!("not a valid tokenizer.json: {e}")))?;
        Ok(Self { spec, tokenizer })
    }

    /// The stored form.
    pub fn spec(&self) -> &TokenizerSpec {
        &self.spec
    }

    /// The id of token `name`, if the vocabulary has it.
    pub fn token_id(&self, name: &str) -> Option<u32> {
        self.tokenizer.token_to_id(name)
    }

    /// Whether `id` ends generation.
    pub fn is_eos(&self, id: u32) -> bool {
        self.spec.eos == Some(id)
    }

    /// The ids of `text`, the beginning-of-sequence id first when the model has one. An empty text, or
    /// one the tokenizer maps to its unknown token, is an error naming the characters at fault.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        if text.is_empty() {
            return Err(text_err("the prompt is empty"));
        }
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| text_err(format!("cannot encode the prompt: {e}")))?;
        let unknown = unk_token(&self.tokenizer).and_then(|t| self.tokenizer.token_to_id(&t));
        if let Some(i) = enc.get_ids().iter().position(|&id| Some(id) == unknown) {
            let (a, b) = enc.get_offsets()[i];
            return Err(text_err(format!(
                "the tokenizer cannot encode {:?} (bytes {a}..{b} of the prompt)",
                text.get(a..b).unwrap_or("?")
            )));
        }
        if enc.get_ids().is_empty() {
            return Err(text_err(format!("the prompt {text:?} encodes to no token")));
        }
        Ok(self
            .spec
            .bos
            .into_iter()
            .chain(enc.get_ids().iter().copied())
            .collect())
    }

    /// The text of `ids` (special tokens such as the beginning-of-sequence id are left out).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, true)
            .map_err(|e| text_err(format!("cannot decode {ids:?}: {e}")))
    }
}

/// The unknown token of the tokenizer's model, if it declares one (byte-level BPE does not).
fn unk_token(t: &tokenizers::Tokenizer) -> Option<String> {
    match t.get_model() {
        tokenizers::ModelWrapper::BPE(b) => b.unk_token.clone(),
        tokenizers::ModelWrapper::WordPiece(w) => Some(w.unk_token.clone()),
        tokenizers::ModelWrapper::WordLevel(w) => Some(w.unk_token.clone()),
        tokenizers::ModelWrapper::Unigram(_) => Some("<unk>".into()),
    }
}

/// Text decoded as ids arrive: each call returns the new text since the previous one, holding back an
/// incomplete UTF-8 sequence (a byte-level token can end inside a character).
#[derive(Debug, Default)]
pub struct TextStream {
    ids: Vec<u32>,
    printed: usize,
}

impl TextStream {
    /// Adds `id` and returns the text it completes (possibly empty).
    pub fn push(&mut self, codec: &TextCodec, id: u32) -> Result<String> {
        self.ids.push(id);
        let text = codec.decode(&self.ids)?;
        if text.ends_with('\u{FFFD}') || text.len() < self.printed {
            return Ok(String::new());
        }
        let new = text.get(self.printed..).unwrap_or_default().to_string();
        self.printed = text.len();
        Ok(new)
    }

    /// Everything decoded so far.
    pub fn text(&self, codec: &TextCodec) -> Result<String> {
        codec.decode(&self.ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::models::bpe::BPE;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;

    /// A byte-level BPE over the 256 byte symbols, merging "h e" and "he l".
    fn codec(bos: Option<u32>) -> TextCodec {
        let mut vocab: tokenizers::models::bpe::Vocab = ByteLevel::alphabet()
            .into_iter()
            .enumerate()
            .map(|(i, c)| (c.to_string(), i as u32))
            .collect();
        vocab.insert("he".into(), 256);
        vocab.insert("hel".into(), 257);
        vocab.insert("<s>".into(), 258);
        let merges = vec![("h".into(), "e".into()), ("he".into(), "l".into())];
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .unwrap();
        let mut t = tokenizers::Tokenizer::new(bpe);
        t.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        t.with_decoder(Some(tokenizers::decoders::byte_level::ByteLevel::default()));
        t.add_special_tokens([tokenizers::AddedToken::from("<s>", true)])
            .unwrap();
        let spec = TokenizerSpec {
            json: t.to_string(false).unwrap(),
            bos,
            eos: Some(258),
        };
        TextCodec::new(spec).unwrap()
    }

    #[test]
    fn text_round_trips_with_the_beginning_of_sequence_first() {
        let c = codec(Some(258));
        let ids = c.encode("hello, wörld").unwrap();
        assert_eq!(ids[0], 258);
        assert_eq!(ids[1], 257, "\"hel\" is one token");
        assert_eq!(c.decode(&ids).unwrap(), "hello, wörld");
        assert!(c.is_eos(258) && !c.is_eos(257));
        assert_eq!(codec(None).encode("he").unwrap(), vec![256]);
        assert!(c.encode("").is_err());
        let bad = TokenizerSpec {
            json: "{".into(),
            bos: None,
            eos: None,
        };
        assert!(TextCodec::new(bad).is_err());
    }

    #[test]
    fn a_stream_holds_back_an_incomplete_character() {
        let c = codec(None);
        // "ö" is two bytes, so two byte-level tokens.
        let ids = c.encode("aö").unwrap();
        assert_eq!(ids.len(), 3);
        let mut s = TextStream::default();
        let pieces: Vec<String> = ids.iter().map(|&id| s.push(&c, id).unwrap()).collect();
        assert_eq!(
            pieces,
            vec!["a".to_string(), String::new(), "ö".to_string()]
        );
        assert_eq!(s.text(&c).unwrap(), "aö");
    }
}
