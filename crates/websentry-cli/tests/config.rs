//! `--config FILE`, `REWIRE_*` variables and `--print-config` on every
//! long-running mode of `websentry`, their precedence, refused files, the
//! examples in `contrib/config/`, and `service` outside Windows.
#![cfg(unix)]

#[path = "../../cli/tests/support/config_check.rs"]
mod check;

use check::{Dir, first_line, line, print_config, refused, run};

const BIN: &str = env!("CARGO_BIN_EXE_websentry");

#[test]
fn proxy_reads_its_config_file() {
    let dir = Dir::new("websentry-config");
    let f = dir.file(
        "proxy.toml",
        "listen = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:9\"\nhttp = \"127.0.0.1:0\"\nmqtt-base-topic = \"site/rewire\"\n",
    );
    let l = first_line(
        BIN,
        &["proxy", "--config", f.to_str().unwrap()],
        &[],
        false,
        "listening on",
    );
    assert!(l.contains("127.0.0.1:") && !l.ends_with(":1030"), "{l}");
}

#[test]
fn proxy_reads_the_environment() {
    let env = [
        ("REWIRE_LISTEN", "127.0.0.1:0"),
        ("REWIRE_UPSTREAM", "127.0.0.1:9"),
        ("REWIRE_HTTP", "127.0.0.1:0"),
    ];
    let l = first_line(BIN, &["proxy"], &env, false, "http on");
    assert!(l.contains("127.0.0.1:") && !l.ends_with(":1031"), "{l}");
}

#[test]
fn the_simulators_read_config_files_and_the_environment() {
    let dir = Dir::new("websentry-config");
    let f = dir.file("cloud.toml", "listen = \"127.0.0.1:0\"\nset-every = 0\n");
    let l = first_line(
        BIN,
        &["simulate", "cloud", "--config", f.to_str().unwrap()],
        &[],
        false,
        "listening on",
    );
    assert!(!l.ends_with(":1030"), "{l}");
    let l = first_line(
        BIN,
        &["simulate", "cloud"],
        &[("REWIRE_LISTEN", "127.0.0.1:0")],
        false,
        "listening on",
    );
    assert!(!l.ends_with(":1030"), "{l}");
    // `--connect` is required: the file or the environment supplies it.
    let f = dir.file(
        "unit.toml",
        "connect = \"127.0.0.1:9\"\nsessions = 3\nmac = \"00:90:c2:00:00:01\"\n",
    );
    let printed = print_config(
        BIN,
        &[
            "simulate",
            "unit",
            "--config",
            f.to_str().unwrap(),
            "--print-config",
        ],
        &[],
    );
    assert_eq!(
        line(&printed, "connect"),
        "connect = \"127.0.0.1:9\" # config file"
    );
    assert_eq!(line(&printed, "sessions"), "sessions = 3 # config file");
    let printed = print_config(
        BIN,
        &["simulate", "unit", "--print-config"],
        &[("REWIRE_CONNECT", "127.0.0.1:9")],
    );
    assert_eq!(
        line(&printed, "connect"),
        "connect = \"127.0.0.1:9\" # REWIRE_CONNECT"
    );
}

#[test]
fn flags_win_over_the_environment_which_wins_over_the_file() {
    let dir = Dir::new("websentry-config");
    let f = dir.file("p.toml", "max-age = \"90s\"\nmqtt = \"mqtt://127.0.0.1\"\n");
    let p = f.to_str().unwrap();
    let env = [("REWIRE_MAX_AGE", "2m")];
    let print = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["proxy", "--config", p, "--print-config"];
        all.extend(args);
        print_config(BIN, &all, env)
    };
    assert_eq!(
        line(&print(&[], &[]), "max-age"),
        "max-age = \"90s\" # config file"
    );
    assert_eq!(
        line(&print(&[], &env), "max-age"),
        "max-age = \"2m\" # REWIRE_MAX_AGE"
    );
    let all = print(&["--max-age", "1h"], &env);
    assert_eq!(line(&all, "max-age"), "max-age = \"1h\" # command line");
    assert_eq!(
        line(&all, "mqtt"),
        "mqtt = \"mqtt://127.0.0.1\" # config file"
    );
    // The file's mqtt satisfies --mqtt-ca's need for --mqtt.
    let ca = print(&["--mqtt-ca", "/etc/ssl/ca.pem"], &[]);
    assert_eq!(
        line(&ca, "mqtt-ca"),
        "mqtt-ca = \"/etc/ssl/ca.pem\" # command line"
    );
}

#[test]
fn print_config_loads_again() {
    let dir = Dir::new("websentry-config");
    let first = print_config(
        BIN,
        &[
            "proxy",
            "--listen",
            "1030",
            "--raw-log",
            "/var/lib/ws.json",
            "--metric-names",
            "wmpe",
            "--print-config",
        ],
        &[],
    );
    let f = dir.file("again.toml", &first);
    let second = print_config(
        BIN,
        &["proxy", "--config", f.to_str().unwrap(), "--print-config"],
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
        second.contains("metric-names = \"wmpe\" # config file"),
        "{second}"
    );
}

#[test]
fn bad_config_files_name_file_line_and_key() {
    let dir = Dir::new("websentry-config");
    refused(
        BIN,
        &["proxy"],
        &dir,
        "listen = \"127.0.0.1:0\"\nport = 1030\n",
        2,
        "port",
    );
    refused(BIN, &["proxy"], &dir, "backlog = \"many\"\n", 1, "backlog");
    refused(BIN, &["proxy"], &dir, "max-age = true\n", 1, "max-age");
    refused(
        BIN,
        &["proxy"],
        &dir,
        "\nmetric-names = \"prometheus\"\n",
        2,
        "metric-names",
    );
    refused(
        BIN,
        &["simulate", "unit"],
        &dir,
        "connect = \"h:1\"\nmac = \"00:90\"\n",
        2,
        "mac",
    );
}

#[test]
fn the_examples_in_contrib_load() {
    check::examples_load(BIN, "websentry");
}

#[test]
fn the_service_is_windows_only_here() {
    let out = run(BIN, &["service", "install", "--", "proxy"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Windows only"));
}
