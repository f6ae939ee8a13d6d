//! The systemd unit `contrib/systemd/powerone-listen.service` verifies with
//! `systemd-analyze verify` against the binary just built.
#![cfg(target_os = "linux")]

#[path = "../../cli/tests/support/systemd_verify.rs"]
mod systemd_verify;

#[test]
fn the_systemd_unit_verifies() {
    systemd_verify::verify(
        "powerone-listen",
        "powerone",
        env!("CARGO_BIN_EXE_powerone"),
    );
}
