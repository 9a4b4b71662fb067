//! `<data>/state.redb`: sources with their write keys, API tokens with their roles. Keys and
//! tokens are stored only as SHA-256 hashes; the clear text is shown once, when created.

mod credentials;
mod roles;

pub use credentials::{NewSecret, Source, StateError, StateStore, Token};
pub use roles::{Role, UnknownRole};
