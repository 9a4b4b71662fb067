pub mod bench;
pub mod demo;
pub mod profiles;
pub mod serve;
pub mod sources;
pub mod sql;
pub mod tokens;
