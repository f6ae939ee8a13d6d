//! The `upsilon` command's arguments and the pure functions that turn them
//! into the configurations of `rewire-upsilon-host`, where the device logic
//! lives. `main.rs` only wires the two together.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod args;
