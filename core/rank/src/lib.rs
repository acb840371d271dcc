//! # rateme-rank
//!
//! The algorithmic core of ranking images by pairwise comparisons:
//!
//! - [`trueskill`]: TrueSkill updates (1 vs 1, free-for-all with ties such as best of four,
//!   teams) and match quality, compatible with Python `trueskill` 0.4.5.
//! - [`posterior`]: the same model fitted to all comparisons at once (expectation propagation
//!   to convergence), independent of the order in which they came.
//! - [`session`]: the state of a ranking session (ratings, counts, history, removed items).
//! - [`pairing`]: which pair (or group of four) to show next: random, the original app's ring
//!   and smart shuffle, sequential elimination, and the active mode.
//! - [`prior`]: a model's scores turned into calibrated starting ratings.
//! - [`sim`]: a simulated rater and the benchmark that compares the modes (`rank-sim`).
//!
//! No I/O and no web server here; the app wires these together.

pub mod gaussian;
pub mod metrics;
pub mod normal;
pub mod pairing;
pub mod posterior;
pub mod prior;
pub mod rng;
pub mod session;
pub mod sim;
pub mod trueskill;
