//! `upsilon ups --usb` from the outside: without the `usb` feature it is a
//! one-line error; with it, and no MEC0003 bridge plugged in (as in CI), the
//! error names the device. The conversation itself is tested at the mapping
//! level in `src/usb.rs` (a simulated bridge); nothing here needs hardware.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn upsilon(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_upsilon"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("upsilon runs");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("upsilon {args:?} did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[cfg(not(feature = "usb"))]
#[test]
fn usb_without_the_feature_is_one_line_and_exit_2() {
    for args in [
        &["ups", "--usb"][..],
        &["ups", "--usb", "--vid", "0x0665", "--pid", "0x5161"],
        &["ups", "--usb", "--yes", "beeper-toggle"],
    ] {
        let out = upsilon(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&out),
            "upsilon: built without the usb feature; rebuild with --features usb\n",
            "{args:?}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[cfg(feature = "usb")]
#[test]
fn usb_without_a_bridge_names_the_device_and_exits_2() {
    let out = upsilon(&["ups", "--usb", "--vid", "0x0001", "--pid", "0x0000"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("USB device 0001:0000"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[cfg(feature = "usb")]
#[test]
fn battery_tests_are_refused_before_the_device_is_opened() {
    let out = upsilon(&["ups", "--usb", "--yes", "test", "--minutes", "5"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("upsilon: T05 cannot go over the USB MEC0003 bridge"),
        "{err}"
    );
}

#[test]
fn usb_and_serial_exclude_each_other_and_one_is_required() {
    let out = upsilon(&["ups", "--usb", "--serial", "/dev/null"]);
    assert_eq!(out.status.code(), Some(2));
    let out = upsilon(&["ups"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--serial"), "{}", stderr(&out));
}
