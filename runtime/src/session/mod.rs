//! The client side of a session: keys, encryption of a plan's inputs, decryption of its outputs.
//! The server side is [`crate::executor::Executor`] with its [`crate::executor::KvState`]; the secret
//! key never leaves [`Client`].

mod client;

pub use client::Client;
