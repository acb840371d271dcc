//! # rateme-util
//!
//! Small helpers every other rateme crate may use, with no heavy dependencies: crash-safe file
//! writes and FNV hashes ([`fsutil`]), crash points for kill tests ([`crash`]), the deterministic RNG every random draw of a run comes
//! from ([`rng`]), Ctrl-C/SIGTERM handling ([`interrupt`]) and HTTP `Retry-After` parsing
//! ([`http`]).

pub mod crash;
pub mod fsutil;
pub mod http;
pub mod interrupt;
pub mod rng;
