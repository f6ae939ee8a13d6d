//! `--config FILE`, `REWIRE_*` variables and `--print-config` on
//! `powerone listen` and `powerone simulate`, their precedence, refused
//! files and the examples in `contrib/config/`.
#![cfg(unix)]

#[path = "../../cli/tests/support/config_check.rs"]
mod check;

use check::{Dir, first_line, line, print_config, refused};

const BIN: &str = env!("CARGO_BIN_EXE_powerone");

#[test]
fn listen_reads_its_config_file() {
    let dir = Dir::new("powerone-config");
    let f = dir.file(
        "listen.toml",
        "tcp-relay = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:9\"\njson = true\n",
    );
    let l = first_line(
        BIN,
        &["listen", "--config", f.to_str().unwrap()],
        &[],
        false,
        "relaying",
    );
    assert!(
        l.contains("127.0.0.1:") && l.contains("-> 127.0.0.1:9"),
        "{l}"
    );
}

#[test]
fn listen_reads_the_environment() {
    let env = [
        ("REWIRE_TCP_RELAY", "127.0.0.1:0"),
        ("REWIRE_UPSTREAM", "127.0.0.1:9"),
    ];
    let l = first_line(BIN, &["listen"], &env, false, "relaying");
    assert!(l.contains("-> 127.0.0.1:9"), "{l}");
}

#[test]
fn simulate_reads_its_config_file_and_the_environment() {
    let dir = Dir::new("powerone-config");
    let f = dir.file(
        "sim.toml",
        "tcp = \"127.0.0.1:0\"\naddr = 7\npassword = \"1234\"\n",
    );
    let l = first_line(
        BIN,
        &["simulate", "--config", f.to_str().unwrap()],
        &[],
        false,
        "listening on",
    );
    assert!(l.contains("0x07") && l.contains("127.0.0.1:"), "{l}");
    let l = first_line(
        BIN,
        &["simulate"],
        &[("REWIRE_TCP", "127.0.0.1:0"), ("REWIRE_ADDR", "9")],
        false,
        "listening on",
    );
    assert!(l.contains("0x09"), "{l}");
}

#[test]
fn flags_win_over_the_environment_which_wins_over_the_file() {
    let dir = Dir::new("powerone-config");
    let f = dir.file(
        "p.toml",
        "serial = \"/dev/ttyUSB0\"\nbaud = 19200\ncount = 5\n",
    );
    let p = f.to_str().unwrap();
    let env = [("REWIRE_BAUD", "4800")];
    let print = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["listen", "--config", p, "--print-config"];
        all.extend(args);
        print_config(BIN, &all, env)
    };
    assert_eq!(line(&print(&[], &[]), "baud"), "baud = 19200 # config file");
    assert_eq!(line(&print(&[], &env), "baud"), "baud = 4800 # REWIRE_BAUD");
    let all = print(&["--baud", "2400"], &env);
    assert_eq!(line(&all, "baud"), "baud = 2400 # command line");
    assert_eq!(
        line(&all, "serial"),
        "serial = \"/dev/ttyUSB0\" # config file"
    );
    let f2 = dir.file("again.toml", &all);
    let again = print_config(
        BIN,
        &["listen", "--config", f2.to_str().unwrap(), "--print-config"],
        &[],
    );
    assert_eq!(line(&again, "baud"), "baud = 2400 # config file");
    assert_eq!(line(&again, "count"), "count = 5 # config file");
}

#[test]
fn bad_config_files_name_file_line_and_key() {
    let dir = Dir::new("powerone-config");
    refused(
        BIN,
        &["listen"],
        &dir,
        "serial = \"/dev/ttyUSB0\"\nserial3 = \"x\"\n",
        2,
        "serial3",
    );
    refused(BIN, &["listen"], &dir, "baud = \"fast\"\n", 1, "baud");
    refused(BIN, &["listen"], &dir, "count = [1, 2]\n", 1, "count");
    refused(BIN, &["simulate"], &dir, "\n\naddr = 0\n", 3, "addr");
    refused(BIN, &["simulate"], &dir, "noise = 1\n", 1, "noise");
}

#[test]
fn the_examples_in_contrib_load() {
    check::examples_load(BIN, "powerone");
}
