//! Ingesting Reddit rating threads (Pushshift-style dumps) into a training manifest.

pub mod rating;
