//! The systemd unit `contrib/systemd/websentry-proxy.service` verifies with
//! `systemd-analyze verify` against the binary just built.
#![cfg(target_os = "linux")]

#[path = "../../cli/tests/support/systemd_verify.rs"]
mod systemd_verify;

#[test]
fn the_systemd_unit_verifies() {
    systemd_verify::verify(
        "websentry-proxy",
        "websentry",
        env!("CARGO_BIN_EXE_websentry"),
    );
}
