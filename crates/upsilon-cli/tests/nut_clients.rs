//! NUT's own clients against `upsilon`'s NUT server: `upsc`, `upscmd`,
//! `upsrw` and `upsmon` from Debian's nut-client, with `upsilon monitor`
//! beside the RupsMon simulator and `upsilon ups --tcp` against the Megatec
//! simulator on TCP (as behind a serial server). 127.0.0.1 only; every
//! wait bounded.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::{Proc, addr_after, http_get, nut, nut_until, spawn, tool, wait_line};

/// `upsc ups@ADDR` as a map of variable to value.
fn upsc(addr: &str) -> BTreeMap<String, String> {
    let (ok, text) = tool("upsc", &[&format!("ups@{addr}")]);
    assert!(ok, "upsc: {text}");
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Waits until `upsc` lists `var`, returning the map.
fn upsc_with(addr: &str, var: &str) -> BTreeMap<String, String> {
    nut_until(addr, var, Duration::from_secs(10), |r| r.starts_with("VAR"));
    upsc(addr)
}

/// The Megatec simulator on TCP reporting `battery` volts, and `upsilon
/// ups --tcp` polling it with the NUT server on; returns (sim, ups, nut).
fn ups_mode(battery: &str, extra: &[&str]) -> (Proc, Proc, String) {
    let sim = spawn(&[
        "simulate",
        "ups",
        "--tcp",
        "127.0.0.1:0",
        "--battery-voltage",
        battery,
    ]);
    let target = support::wait_line(&sim.out, Duration::from_secs(10), |l| l.contains(':'));
    let mut args = vec![
        "ups",
        "--tcp",
        &target,
        "--interval",
        "200ms",
        "--nut",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let ups = spawn(&args);
    let addr = addr_after(&ups.err, "nut listening on ");
    (sim, ups, addr)
}

fn users_file(dir: &std::path::Path) -> String {
    let path = dir.join("upsd.users");
    std::fs::write(
        &path,
        "[admin]\n  password = secret\n  instcmds = all\n  actions = SET\n\
         [monuser]\n  password = monpass\n  upsmon secondary\n\
         [boss]\n  password = bosspass\n  upsmon primary\n",
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rewire-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn upsc_shows_charge_and_runtime_beside_upsilon() {
    let sim = spawn(&[
        "simulate",
        "rupsmon",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "100ms",
    ]);
    let rupsmon = addr_after(&sim.err, "listening on ");
    let mon = spawn(&[
        "monitor",
        "--rupsmon",
        &rupsmon,
        "--nut",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--json",
        "--battery-voltage-nominal",
        "24",
        "--runtimecal",
        "240,100,720,50",
    ]);
    let addr = addr_after(&mon.err, "nut listening on ");
    let http = addr_after(&mon.err, "metrics on http://");
    let vars = upsc_with(&addr, "battery.charge");
    // 27.4 V on a 24 V pack: above 130 × 24 / 120 = 26.0, clamped to 100.
    assert_eq!(vars["battery.charge"], "100", "{vars:?}");
    assert_eq!(vars["battery.voltage.low"], "20.80");
    assert_eq!(vars["battery.voltage.high"], "26.00");
    // Load 7 %: the effective load is the idle load 0.10, so 240 s / 0.10.
    assert_eq!(vars["battery.runtime"], "2400");
    let metrics = http_get(&http, "/metrics", Duration::from_secs(2)).unwrap();
    assert!(
        metrics.contains("upsilon_battery_charge_ratio 1.0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("upsilon_battery_runtime_seconds 2400.0\n"),
        "{metrics}"
    );
    let line = wait_line(&mon.out, Duration::from_secs(5), |l| {
        l.contains("\"kind\":\"status\"") && l.contains("battery_charge")
    });
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["battery_charge"], 100.0);
    assert_eq!(v["battery_runtime"], 2400.0);
    // Beside UPSilon nothing can be commanded: no commands are listed.
    assert_eq!(
        nut(&addr, &["LIST CMD ups"], Duration::from_secs(2)).unwrap()[0],
        "BEGIN LIST CMD ups\nEND LIST CMD ups"
    );
}

#[test]
fn upsc_charge_follows_the_formula_in_ups_mode() {
    // The simulator's F reply says 24.0 V nominal: low 20.8, high 26.0.
    for (battery, charge, voltage) in [
        ("23.4", "50", "23.40"),
        ("27.4", "100", "27.40"),
        ("19.0", "0", "19.00"),
        // Per cell: 12 packs detected, 1.95 × 12 = 23.4 V.
        ("1.95", "50", "23.40"),
    ] {
        let (_sim, _ups, addr) = ups_mode(battery, &[]);
        let vars = upsc_with(&addr, "battery.charge");
        assert_eq!(vars["battery.charge"], charge, "{battery}: {vars:?}");
        assert_eq!(vars["battery.voltage"], voltage, "{battery}");
        assert_eq!(vars["battery.voltage.nominal"], "24.0");
        assert_eq!(vars["input.current.nominal"], "5.0");
        assert!(
            !vars.contains_key("battery.runtime"),
            "no runtimecal, no runtime"
        );
    }
}

#[test]
fn upscmd_and_upsrw_reach_the_ups_with_the_right_password_only() {
    let dir = tempdir("upscmd");
    let users = users_file(&dir);
    let (sim, _ups, addr) = ups_mode("27.4", &["--nut-users", &users]);
    let target = format!("ups@{addr}");
    upsc_with(&addr, "ups.status");
    let (ok, text) = tool(
        "upscmd",
        &[
            "-u",
            "admin",
            "-p",
            "wrong",
            &target,
            "test.battery.start.quick",
        ],
    );
    assert!(!ok && text.contains("ACCESS-DENIED"), "{text}");
    std::thread::sleep(Duration::from_millis(600));
    let sent: Vec<String> = sim.err.try_iter().collect();
    assert!(
        !sent.iter().any(|l| l.contains("got \"T\"")),
        "a refused command reached the line: {sent:?}"
    );
    let (ok, text) = tool(
        "upscmd",
        &[
            "-u",
            "admin",
            "-p",
            "secret",
            "-w",
            &target,
            "test.battery.start.quick",
        ],
    );
    assert!(ok, "upscmd: {text}");
    wait_line(&sim.err, Duration::from_secs(5), |l| {
        l.contains("got \"T\"")
    });
    // Q1 bit 2 (test in progress) is NUT's CAL.
    nut_until(&addr, "ups.status", Duration::from_secs(5), |r| {
        r.contains("CAL")
    });
    let (ok, text) = tool("upscmd", &["-l", &target]);
    assert!(ok && text.contains("test.battery.start.deep"), "{text}");

    let (ok, text) = tool(
        "upsrw",
        &[
            "-s",
            "ups.delay.shutdown=120",
            "-u",
            "admin",
            "-p",
            "secret",
            &target,
        ],
    );
    assert!(ok, "upsrw: {text}");
    let (ok, text) = tool("upsc", &[&target, "ups.delay.shutdown"]);
    assert!(ok && text.lines().next() == Some("120"), "{text}");
    let (ok, text) = tool(
        "upsrw",
        &[
            "-s",
            "ups.delay.shutdown=60",
            "-u",
            "admin",
            "-p",
            "nope",
            &target,
        ],
    );
    assert!(!ok, "upsrw with a wrong password: {text}");
    // shutdown.stayoff now sends the 2-minute delay.
    let (ok, text) = tool(
        "upscmd",
        &["-u", "admin", "-p", "secret", &target, "shutdown.stayoff"],
    );
    assert!(ok, "{text}");
    wait_line(&sim.err, Duration::from_secs(5), |l| {
        l.contains("got \"S02R0000\"")
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_home_assistant_sequence_gets_no_err() {
    let dir = tempdir("hass");
    let users = users_file(&dir);
    let (sim, _ups, addr) = ups_mode("27.4", &["--nut-users", &users]);
    upsc_with(&addr, "ups.status");
    let script = [
        "USERNAME admin",
        "PASSWORD secret",
        "LIST UPS",
        "LIST VAR ups",
        "LIST CMD ups",
        "GET UPSDESC ups",
        "LIST VAR ups",
        "INSTCMD ups beeper.toggle",
        "LIST VAR ups",
        "LOGOUT",
    ];
    let replies = nut(&addr, &script, Duration::from_secs(2)).expect("answers");
    for (cmd, reply) in script.iter().zip(&replies) {
        assert!(!reply.starts_with("ERR"), "{cmd}: {reply}");
    }
    assert!(
        replies[4].contains("CMD ups beeper.toggle"),
        "{}",
        replies[4]
    );
    assert!(
        replies[3].contains("VAR ups battery.charge \"100\""),
        "{}",
        replies[3]
    );
    wait_line(&sim.err, Duration::from_secs(5), |l| {
        l.contains("got \"Q\"")
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn upsmon_shuts_down_on_battery_low_and_not_before() {
    let dir = tempdir("upsmon");
    let sim = spawn(&[
        "simulate",
        "rupsmon",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "1s",
        "--script",
        "drain",
    ]);
    let rupsmon = addr_after(&sim.err, "listening on ");
    let mon = spawn(&["monitor", "--rupsmon", &rupsmon, "--nut", "127.0.0.1:0"]);
    let addr = addr_after(&mon.err, "nut listening on ");
    nut_until(&addr, "ups.status", Duration::from_secs(10), |r| {
        r.starts_with("VAR")
    });
    let flag = dir.join("shutdown-ran");
    std::fs::write(dir.join("nut.conf"), "MODE=netclient\n").unwrap();
    std::fs::write(
        dir.join("upsmon.conf"),
        format!(
            "RUN_AS_USER root\n\
             MONITOR ups@{addr} 1 monuser monpass secondary\n\
             MINSUPPLIES 1\n\
             SHUTDOWNCMD \"/usr/bin/touch {flag}\"\n\
             POLLFREQ 1\nPOLLFREQALERT 1\nHOSTSYNC 1\nDEADTIME 15\nFINALDELAY 0\n\
             POWERDOWNFLAG {pd}\n",
            flag = flag.display(),
            pd = dir.join("killpower").display()
        ),
    )
    .unwrap();
    // Debian's /usr/sbin/upsmon is a wrapper that reads /etc/nut/nut.conf;
    // the program itself takes its configuration from NUT_CONFPATH. A
    // secondary shuts down once the UPS has been OB LB for HOSTSYNC seconds
    // without the primary setting FSD (upsmon.c, is_ups_critical).
    let program = if std::path::Path::new("/lib/nut/upsmon").exists() {
        "/lib/nut/upsmon"
    } else {
        "upsmon"
    };
    // Run as root, upsmon keeps its PID file in /run/nut whatever the
    // environment says, and refuses to start beside a stale one: remove it
    // when the process it names is gone.
    let pidfile = std::path::Path::new("/run/nut/upsmon.pid");
    let stale = |pid: &str| !std::path::Path::new(&format!("/proc/{}", pid.trim())).exists();
    if std::fs::read_to_string(pidfile).is_ok_and(|p| stale(&p)) {
        let _ = std::fs::remove_file(pidfile);
    }
    // -p: one process (no privilege split), so killing it ends upsmon.
    let mut upsmon = std::process::Command::new(program)
        .args(["-D", "-p", "-u", "root"])
        .env("NUT_CONFPATH", &dir)
        .env("NUT_STATEPATH", &dir)
        .env("NUT_ALTPIDPATH", &dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(dir.join("upsmon.log")).unwrap())
        .stderr(std::fs::File::create(dir.join("upsmon.err")).unwrap())
        .spawn()
        .expect("upsmon must be installed (Debian nut-client)");
    // On battery, not yet low: upsmon must not shut down.
    nut_until(&addr, "ups.status", Duration::from_secs(15), |r| {
        r.ends_with("\"OB\"")
    });
    std::thread::sleep(Duration::from_millis(1200));
    let early = flag.exists();
    // Then OB LB: the shutdown command runs.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !flag.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let ran = flag.exists();
    let _ = upsmon.kill();
    let _ = upsmon.wait();
    if std::fs::read_to_string(pidfile).is_ok_and(|p| stale(&p)) {
        let _ = std::fs::remove_file(pidfile);
    }
    let log = std::fs::read_to_string(dir.join("upsmon.log")).unwrap_or_default()
        + &std::fs::read_to_string(dir.join("upsmon.err")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !early,
        "upsmon shut down on battery before the battery was low:\n{log}"
    );
    assert!(ran, "upsmon did not run SHUTDOWNCMD on OB LB:\n{log}");
}

#[test]
fn a_bad_users_file_is_one_line_naming_it_and_never_the_password() {
    let dir = tempdir("badusers");
    let path = dir.join("upsd.users");
    std::fs::write(&path, "[admin]\npassword = hunter2\nbogus = 1\n").unwrap();
    let out = std::process::Command::new(support::BIN)
        .args([
            "ups",
            "--tcp",
            "127.0.0.1:1",
            "--nut",
            "127.0.0.1:0",
            "--nut-users",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("upsd.users") && err.contains("line 3"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn a_primary_sets_fsd_for_every_client() {
    let dir = tempdir("fsd");
    let users = users_file(&dir);
    let (_sim, _ups, addr) = ups_mode("27.4", &["--nut-users", &users]);
    upsc_with(&addr, "ups.status");
    let t = Duration::from_secs(2);
    let secondary = nut(
        &addr,
        &[
            "USERNAME monuser",
            "PASSWORD monpass",
            "LOGIN ups",
            "PRIMARY ups",
            "FSD ups",
        ],
        t,
    )
    .unwrap();
    assert_eq!(
        secondary[2..],
        ["OK", "ERR ACCESS-DENIED", "ERR ACCESS-DENIED"]
    );
    let primary = nut(
        &addr,
        &[
            "USERNAME boss",
            "PASSWORD bosspass",
            "LOGIN ups",
            "MASTER ups",
            "PRIMARY ups",
            "GET NUMLOGINS ups",
            "FSD ups",
            "LOGOUT",
        ],
        t,
    )
    .unwrap();
    assert_eq!(
        primary[2..],
        [
            "OK",
            "OK MASTER-GRANTED",
            "OK PRIMARY-GRANTED",
            "NUMLOGINS ups 1",
            "OK FSD-SET",
            "OK Goodbye"
        ]
    );
    let (ok, text) = tool("upsc", &[&format!("ups@{addr}"), "ups.status"]);
    assert!(ok && text.lines().next() == Some("OL FSD"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
