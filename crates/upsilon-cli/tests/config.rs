//! `--config FILE`, `REWIRE_*` variables and `--print-config` on every
//! long-running mode of `upsilon`, their precedence (flag > environment >
//! file), refused files, the examples in `contrib/config/`, and the
//! `service` subcommand outside Windows.
#![cfg(unix)]

#[path = "../../cli/tests/support/config_check.rs"]
mod check;

use check::{Dir, first_line, line, print_config, refused, run};

const BIN: &str = env!("CARGO_BIN_EXE_upsilon");

#[test]
fn monitor_reads_its_config_file() {
    let dir = Dir::new("upsilon-config");
    let f = dir.file(
        "monitor.toml",
        "# beside UPSilon\nsms-listen = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nmqtt-interval = \"30s\"\n",
    );
    let l = first_line(
        BIN,
        &["monitor", "--config", f.to_str().unwrap()],
        &[],
        false,
        "metrics on",
    );
    assert!(l.contains("http://127.0.0.1:"), "{l}");
}

#[test]
fn monitor_reads_the_environment() {
    let l = first_line(
        BIN,
        &["monitor"],
        &[("REWIRE_SMS_LISTEN", "0"), ("REWIRE_HTTP", "127.0.0.1:0")],
        false,
        "metrics on",
    );
    assert!(l.contains("http://127.0.0.1:"), "{l}");
}

/// Starts `upsilon simulate ups --tcp` (from the config file) and returns
/// its address, for `upsilon ups`.
fn sim_ups(dir: &Dir, env: &[(&str, &str)]) -> String {
    let f = dir.file(
        "sim.toml",
        "tcp = \"127.0.0.1:0\"\nbattery-voltage = \"2.28\"\n",
    );
    let args = ["simulate", "ups", "--config", f.to_str().unwrap()];
    first_line(
        BIN,
        if env.is_empty() { &args } else { &args[..2] },
        env,
        true,
        "127.0.0.1:",
    )
}

#[test]
fn ups_and_the_ups_simulator_read_config_files() {
    let dir = Dir::new("upsilon-config");
    let out = {
        // The simulator lives while first_line's child runs; run it here
        // with its own process so `ups` can reach it.
        let mut sim = check::command(BIN, &["simulate", "ups", "--tcp", "127.0.0.1:0"], &[])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut addr = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(sim.stdout.take().unwrap()),
            &mut addr,
        )
        .unwrap();
        let f = dir.file(
            "ups.toml",
            &format!(
                "tcp = \"{}\"\ncount = 1\ninterval = \"100ms\"\njson = true\n",
                addr.trim()
            ),
        );
        let out = run(BIN, &["ups", "--config", f.to_str().unwrap()], &[]);
        let _ = sim.kill();
        let _ = sim.wait();
        out
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"input_voltage\""),
        "JSON from --config: {stdout}"
    );
    // The simulator's own file (tcp, battery voltage) and the environment.
    assert!(sim_ups(&dir, &[]).starts_with("127.0.0.1:"));
    assert!(sim_ups(&dir, &[("REWIRE_TCP", "127.0.0.1:0")]).starts_with("127.0.0.1:"));
}

#[test]
fn ups_reads_the_environment() {
    let printed = print_config(
        BIN,
        &["ups", "--print-config"],
        &[
            ("REWIRE_SERIAL", "/dev/ttyUSB7"),
            ("REWIRE_JSON", "yes"),
            ("REWIRE_MQTT", "mqtt://127.0.0.1"),
        ],
    );
    assert_eq!(
        line(&printed, "serial"),
        "serial = \"/dev/ttyUSB7\" # REWIRE_SERIAL"
    );
    assert_eq!(line(&printed, "json"), "json = true # REWIRE_JSON");
    assert_eq!(
        line(&printed, "mqtt"),
        "mqtt = \"mqtt://127.0.0.1\" # REWIRE_MQTT"
    );
}

#[test]
fn the_simulators_read_config_files_and_the_environment() {
    let dir = Dir::new("upsilon-config");
    let f = dir.file(
        "rupsmon.toml",
        "listen = \"127.0.0.1:0\"\nscript = \"outage\"\n",
    );
    let l = first_line(
        BIN,
        &["simulate", "rupsmon", "--config", f.to_str().unwrap()],
        &[],
        false,
        "listening on",
    );
    assert!(
        !l.ends_with(":2570"),
        "the file's port 0, not the default: {l}"
    );
    let l = first_line(
        BIN,
        &["simulate", "rupsmon"],
        &[("REWIRE_LISTEN", "127.0.0.1:0")],
        false,
        "listening on",
    );
    assert!(!l.ends_with(":2570"), "{l}");
    let f = dir.file(
        "hb.toml",
        "to = \"127.0.0.1:9\"\ncount = 2\ninterval = \"10ms\"\n",
    );
    let out = run(
        BIN,
        &["simulate", "heartbeat", "--config", f.to_str().unwrap()],
        &[],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sent 2 heartbeat(s) to 127.0.0.1:9"),
        "{out:?}"
    );
    let out = run(
        BIN,
        &["simulate", "heartbeat"],
        &[
            ("REWIRE_TO", "127.0.0.1:9"),
            ("REWIRE_COUNT", "1"),
            ("REWIRE_INTERVAL", "10ms"),
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sent 1 heartbeat(s)"),
        "{out:?}"
    );
    let f = dir.file("sms.toml", "to = \"127.0.0.1:9\"\nrecipient = \"555\"\n");
    let printed = print_config(
        BIN,
        &[
            "simulate",
            "sms",
            "--config",
            f.to_str().unwrap(),
            "--print-config",
        ],
        &[],
    );
    assert_eq!(line(&printed, "recipient"), "recipient = 555 # config file");
    let printed = print_config(
        BIN,
        &["simulate", "sms", "--print-config"],
        &[("REWIRE_TO", "127.0.0.1:9")],
    );
    assert_eq!(line(&printed, "to"), "to = \"127.0.0.1:9\" # REWIRE_TO");
}

#[test]
fn flags_win_over_the_environment_which_wins_over_the_file() {
    let dir = Dir::new("upsilon-config");
    let f = dir.file(
        "p.toml",
        "rupsmon = \"127.0.0.1:2570\"\nreconnect-max = \"5s\"\nnut = 3493\n",
    );
    let p = f.to_str().unwrap();
    let print = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["monitor", "--config", p, "--print-config"];
        all.extend(args);
        print_config(BIN, &all, env)
    };
    let env = [("REWIRE_RECONNECT_MAX", "4s")];
    assert_eq!(
        line(&print(&[], &[]), "reconnect-max"),
        "reconnect-max = \"5s\" # config file"
    );
    assert_eq!(
        line(&print(&[], &env), "reconnect-max"),
        "reconnect-max = \"4s\" # REWIRE_RECONNECT_MAX"
    );
    let both = print(&["--reconnect-max", "3s"], &env);
    assert_eq!(
        line(&both, "reconnect-max"),
        "reconnect-max = \"3s\" # command line"
    );
    // Printed as it was given: a bare port stays one.
    assert_eq!(line(&both, "nut"), "nut = 3493 # config file");
    assert_eq!(line(&both, "nut-name"), "nut-name = \"ups\" # default");
}

#[test]
fn print_config_loads_again() {
    let dir = Dir::new("upsilon-config");
    let first = print_config(
        BIN,
        &[
            "monitor",
            "--rupsmon",
            "127.0.0.1:2570",
            "--nut",
            "3493",
            "--json",
            "--mqtt",
            "mqtts://ha@127.0.0.1",
            "--mqtt-password-file",
            "/etc/rewire/mqtt.pw",
            "--battery-voltage-nominal",
            "24",
            "--runtimecal",
            "240,100,720,50",
            "--print-config",
        ],
        &[("REWIRE_WEBHOOK", "http://127.0.0.1:8080/ups")],
    );
    let f = dir.file("again.toml", &first);
    let second = print_config(
        BIN,
        &["monitor", "--config", f.to_str().unwrap(), "--print-config"],
        &[],
    );
    let values = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.rsplit_once(" # ").unwrap().0.to_owned())
            .collect()
    };
    assert_eq!(values(&first), values(&second));
    assert!(
        second.contains("mqtt = \"mqtts://ha@127.0.0.1\" # config file"),
        "{second}"
    );
    assert!(second.contains("json = true # config file"), "{second}");
}

#[test]
fn bad_config_files_name_file_line_and_key() {
    let dir = Dir::new("upsilon-config");
    refused(
        BIN,
        &["monitor"],
        &dir,
        "rupsmon = \"127.0.0.1:2570\"\nnut-port = 3493\n",
        2,
        "nut-port",
    );
    refused(BIN, &["monitor"], &dir, "\n\nhttp = true\n", 3, "http");
    refused(BIN, &["monitor"], &dir, "json = \"yes\"\n", 1, "json");
    refused(
        BIN,
        &["monitor"],
        &dir,
        "rupsmon = \"127.0.0.1:2570\"\nmqtt-interval = \"60\"\n",
        2,
        "mqtt-interval",
    );
    refused(
        BIN,
        &["monitor"],
        &dir,
        "mqtt = \"http://broker\"\n",
        1,
        "mqtt",
    );
    // The MQTT password itself is never a config key.
    refused(
        BIN,
        &["monitor"],
        &dir,
        "mqtt-password = \"secret\"\n",
        1,
        "mqtt-password",
    );
    refused(
        BIN,
        &["simulate", "rupsmon"],
        &dir,
        "script = \"blackout\"\n",
        1,
        "script",
    );
    let out = run(
        BIN,
        &["monitor", "--config", "/nonexistent/monitor.toml"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/monitor.toml"));
}

#[test]
fn the_examples_in_contrib_load() {
    check::examples_load(BIN, "upsilon");
}

#[test]
fn the_service_is_windows_only_here() {
    let out = run(
        BIN,
        &[
            "service",
            "install",
            "--",
            "monitor",
            "--rupsmon",
            "127.0.0.1:2570",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Windows only"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
