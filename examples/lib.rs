//! Runnable examples for the rewire crates, one file each beside this one.
//!
//! Run one with `cargo run -p rewire-examples --example NAME`.
