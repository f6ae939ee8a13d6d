//! UPSilon 2000 and Megatec Q1 UPS traffic (status lines, heartbeats, SMS alerts, commands).
//!
//! Skeleton: issue #5 fills this crate. It builds for bare-metal targets today
//! and will keep doing so: no `std`, no `alloc`, no `unsafe`, no panics.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
