//! The generated dissector, run by tshark on every capture in `testdata/`
//! (and on serial pcaps written by `rewire_transport::capture::pcap_out`),
//! compared message by message with the decoders' checked-in
//! `testdata/*/expected/*.ndjson` (`decode --json` output).
//!
//! These tests need `tshark` (Debian package `tshark`) and fail, not skip,
//! without it. `TSHARK=/path/to/tshark` picks another binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use rewire_transport::capture::pcap_out::{SerialProtocol, write_serial_pcap};
use rewire_transport::capture::{HexDumpReader, RawFileReader};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lua() -> PathBuf {
    root().join(rewire_dissector::LUA_PATH)
}

fn tshark_bin() -> String {
    std::env::var("TSHARK").unwrap_or_else(|_| "tshark".to_owned())
}

/// Runs tshark; panics with a clear message when it is missing.
fn tshark(args: &[&str]) -> (String, String) {
    let out = Command::new(tshark_bin())
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{}` ({e}): these tests need Wireshark's tshark \
                 (Debian package `tshark`, listed in .ci/packages)",
                tshark_bin()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "tshark {args:?} failed ({}):\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

/// Fails on any sign of a Lua problem in tshark's output.
fn assert_no_lua_error(what: &str, text: &str) {
    for needle in [
        "Lua: Error",
        "Lua Error",
        "lua_script",
        "attempt to ",
        "stack traceback",
    ] {
        assert!(
            !text.contains(needle),
            "{what}: Lua error ({needle:?}):\n{text}"
        );
    }
}

/// Dissects `file` and returns, in packet order, every message of `proto`
/// (a packet may hold several).
fn messages(file: &Path, proto: &str) -> Vec<Value> {
    let lua = lua();
    let lua_arg = format!("lua_script:{}", lua.display());
    let file_arg = file.display().to_string();
    let (stdout, stderr) = tshark(&[
        "-X",
        &lua_arg,
        "-r",
        &file_arg,
        "-T",
        "json",
        "--no-duplicate-keys",
    ]);
    assert_no_lua_error(&file_arg, &stderr);
    assert_no_lua_error(&file_arg, &stdout);
    let packets: Vec<Value> =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{file_arg}: tshark JSON: {e}"));
    let mut out = Vec::new();
    for p in packets {
        match p.pointer(&format!("/_source/layers/{proto}")) {
            Some(Value::Array(items)) => out.extend(items.iter().cloned()),
            Some(item @ Value::Object(_)) => out.push(item.clone()),
            _ => {}
        }
    }
    out
}

fn expected(name: &str) -> Vec<Value> {
    let path = root().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A field as a list (tshark merges repeated keys into arrays).
fn list(v: Option<&Value>) -> Vec<Value> {
    match v {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => vec![other.clone()],
    }
}

fn field<'a>(msg: &'a Value, key: &str) -> Option<&'a str> {
    msg.get(key).and_then(Value::as_str)
}

fn uint(s: Option<&str>) -> Option<u64> {
    let s = s?;
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn flag(s: Option<&str>) -> Option<bool> {
    s.map(|s| s == "1" || s == "True" || s == "true")
}

/// Compares a `decode --json` value with a tshark string: numbers by value,
/// strings exactly, null with an absent field.
fn same_value(expected: &Value, got: Option<&str>) -> bool {
    match (expected, got) {
        (Value::Null, None) => true,
        (Value::Number(n), Some(g)) => g
            .parse::<f64>()
            .ok()
            .zip(n.as_f64())
            .is_some_and(|(g, n)| (g - n).abs() < 1e-9),
        (Value::String(s), Some(g)) => s == g,
        (Value::Bool(b), g) => flag(g) == Some(*b),
        _ => false,
    }
}

/// Collects mismatches instead of stopping at the first.
#[derive(Default)]
struct Report(Vec<String>);

impl Report {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }
}

fn compare_websentry(exp: &[Value], got: &[Value], r: &mut Report) {
    for (i, (e, g)) in exp.iter().zip(got).enumerate() {
        r.check(
            uint(field(g, "websentry.function")) == e["function_code"].as_u64(),
            || format!("#{i} function: expected {}, tshark {g}", e["function_code"]),
        );
        r.check(
            uint(field(g, "websentry.length")) == e["length"].as_u64(),
            || format!("#{i} length: expected {}, tshark {g}", e["length"]),
        );
        r.check(
            flag(field(g, "websentry.crc.ok")) == e["crc_ok"].as_bool(),
            || format!("#{i} crc_ok: expected {}, tshark {g}", e["crc_ok"]),
        );
        let props = e["properties"].as_array().cloned().unwrap_or_default();
        let ids = list(g.get("websentry.prop"));
        let trees = list(g.get("websentry.prop_tree"));
        r.check(props.len() == ids.len() && ids.len() == trees.len(), || {
            format!("#{i}: {} properties expected, tshark {g}", props.len())
        });
        for (j, ((p, id), t)) in props.iter().zip(&ids).zip(&trees).enumerate() {
            r.check(uint(id.as_str()) == p["id"].as_u64(), || {
                format!("#{i}.{j} id: expected {}, tshark {id}", p["id"])
            });
            for (key, lua_key) in [
                ("name", "websentry.prop.name"),
                ("text", "websentry.prop.text"),
                ("unit", "websentry.prop.unit"),
                ("value", "websentry.prop.value"),
            ] {
                r.check(same_value(&p[key], field(t, lua_key)), || {
                    format!("#{i}.{j} {key}: expected {}, tshark {t}", p[key])
                });
            }
            let ty = uint(field(t, "websentry.prop.type"));
            r.check(ty == p["type"].as_u64(), || {
                format!("#{i}.{j} type: expected {}, tshark {t}", p["type"])
            });
        }
    }
}

fn compare_powerone(exp: &[Value], got: &[Value], r: &mut Report) {
    for (i, (e, g)) in exp.iter().zip(got).enumerate() {
        for (key, lua_key) in [
            ("dst", "powerone.dst"),
            ("src", "powerone.src"),
            ("control", "powerone.control"),
            ("function", "powerone.function"),
        ] {
            r.check(uint(field(g, lua_key)) == e[key].as_u64(), || {
                format!("#{i} {key}: expected {}, tshark {g}", e[key])
            });
        }
        for (key, lua_key) in [
            ("reply_required", "powerone.reply_required"),
            ("checksum_ok", "powerone.checksum.ok"),
        ] {
            r.check(flag(field(g, lua_key)) == e[key].as_bool(), || {
                format!("#{i} {key}: expected {}, tshark {g}", e[key])
            });
        }
        let data = field(g, "powerone.data").unwrap_or("").replace(':', "");
        r.check(Some(data.as_str()) == e["data"].as_str(), || {
            format!("#{i} data: expected {}, tshark {data}", e["data"])
        });
        if let Some(d) = e["decoded"].as_object().filter(|d| d.contains_key("year")) {
            let tree = g.get("powerone.data_tree").cloned().unwrap_or(Value::Null);
            for key in ["year", "month", "day", "hour", "minute"] {
                let got = uint(field(&tree, &format!("powerone.date_time.{key}")));
                r.check(got == d[key].as_u64(), || {
                    format!("#{i} decoded {key}: expected {}, tshark {tree}", d[key])
                });
            }
        }
        if let Some(pw) = e["decoded"].get("password") {
            let tree = g.get("powerone.data_tree").cloned().unwrap_or(Value::Null);
            r.check(same_value(pw, field(&tree, "powerone.password")), || {
                format!("#{i} password: expected {pw}, tshark {tree}")
            });
        }
    }
}

const Q1_KEYS: [&str; 7] = [
    "input_voltage",
    "input_fault_voltage",
    "output_voltage",
    "load_percent",
    "input_frequency",
    "battery_voltage",
    "temperature",
];
const BIT_KEYS: [&str; 8] = [
    "utility_fail",
    "battery_low",
    "bypass_active",
    "ups_failed",
    "standby",
    "test_in_progress",
    "shutdown_active",
    "beeper_on",
];

fn bits_tree(g: &Value) -> Value {
    g.get("upsilon.q1.bits_tree")
        .cloned()
        .unwrap_or(Value::Null)
}

fn compare_upsilon(exp: &[Value], got: &[Value], r: &mut Report) {
    for (i, (e, g)) in exp.iter().zip(got).enumerate() {
        let kind = e["kind"].as_str().unwrap_or("?");
        r.check(field(g, "upsilon.kind") == Some(kind), || {
            format!("#{i} kind: expected {kind}, tshark {g}")
        });
        match kind {
            "status" => {
                for key in Q1_KEYS {
                    let got = field(g, &format!("upsilon.q1.{key}"));
                    r.check(same_value(&e[key], got), || {
                        format!("#{i} {key}: expected {}, tshark {got:?}", e[key])
                    });
                }
                let bits = bits_tree(g);
                for key in BIT_KEYS {
                    let got = flag(field(&bits, &format!("upsilon.q1.{key}")));
                    r.check(got == e[key].as_bool(), || {
                        format!("#{i} {key}: expected {}, tshark {bits}", e[key])
                    });
                }
                r.check(same_value(&e["bits"], field(g, "upsilon.q1.bits")), || {
                    format!("#{i} bits: expected {}, tshark {g}", e["bits"])
                });
                let per_cell = flag(field(g, "upsilon.q1.battery_per_cell"));
                r.check(per_cell == e["battery_per_cell"].as_bool(), || {
                    format!(
                        "#{i} battery_per_cell: expected {}, tshark {g}",
                        e["battery_per_cell"]
                    )
                });
            }
            "heartbeat" => {
                r.check(
                    flag(field(g, "upsilon.heartbeat.connected")) == e["connected"].as_bool(),
                    || format!("#{i} connected: expected {}, tshark {g}", e["connected"]),
                );
                r.check(
                    same_value(&e["ups"], field(g, "upsilon.heartbeat.ups")),
                    || format!("#{i} ups: expected {}, tshark {g}", e["ups"]),
                );
                r.check(
                    same_value(&e["raw"], field(g, "upsilon.heartbeat.raw")),
                    || format!("#{i} raw: expected {}, tshark {g}", e["raw"]),
                );
            }
            "sms_alert" => {
                for key in ["recipient", "content", "host", "message", "code"] {
                    let got = field(g, &format!("upsilon.sms.{key}"));
                    r.check(same_value(&e[key], got), || {
                        format!("#{i} {key}: expected {}, tshark {got:?}", e[key])
                    });
                }
            }
            other => r.0.push(format!("#{i}: no comparison for kind {other}")),
        }
    }
}

type Compare = fn(&[Value], &[Value], &mut Report);

/// Dissects one capture and compares it with its expected records.
fn check_capture(file: &Path, expected_file: &str, proto: &str, compare: Compare) -> Vec<String> {
    let exp: Vec<Value> = expected(expected_file)
        .into_iter()
        .filter(|e| e["kind"] != "error")
        .collect();
    let got: Vec<Value> = messages(file, proto)
        .into_iter()
        // UPSilon: the SMS server's answer is shown but is not a message.
        .filter(|m| proto != "upsilon" || m.get("upsilon.kind").is_some())
        .collect();
    let mut r = Report::default();
    r.check(exp.len() == got.len(), || {
        format!(
            "{} messages expected, tshark found {}",
            exp.len(),
            got.len()
        )
    });
    compare(&exp, &got, &mut r);
    r.0.into_iter()
        .map(|m| format!("{}: {m}", file.display()))
        .collect()
}

/// The captures of one protocol directory, with their expected files.
fn captures(dir: &str) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(root().join("testdata").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (p, format!("testdata/{dir}/expected/{name}.ndjson"))
        })
        .collect();
    out.sort();
    out
}

/// Runs `jobs` on a few threads (tshark starts slowly) and fails with
/// every mismatch.
fn run_all(jobs: Vec<(PathBuf, String, &'static str, Compare)>) {
    assert!(!jobs.is_empty());
    let mut failures = Vec::new();
    for batch in jobs.chunks(4) {
        let results: Vec<Vec<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .iter()
                .map(|(file, exp, proto, cmp)| {
                    s.spawn(move || check_capture(file, exp, proto, *cmp))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        failures.extend(results.into_iter().flatten());
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn jobs(
    dir: &str,
    proto: &'static str,
    cmp: Compare,
) -> Vec<(PathBuf, String, &'static str, Compare)> {
    captures(dir)
        .into_iter()
        .map(|(f, e)| (f, e, proto, cmp))
        .collect()
}

#[test]
fn fields_load_without_lua_errors_and_are_unique() {
    let lua_arg = format!("lua_script:{}", lua().display());
    let (stdout, stderr) = tshark(&["-G", "fields", "-X", &lua_arg]);
    assert_no_lua_error("tshark -G fields", &stderr);
    let ours: Vec<&str> = stdout
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.first() == Some(&"F"))
                .then(|| cols.get(2).copied())
                .flatten()
        })
        .filter(|abbrev| {
            ["upsilon.", "websentry.", "powerone.", "rewire."]
                .iter()
                .any(|p| abbrev.starts_with(p))
        })
        .collect();
    let mut sorted = ours.clone();
    sorted.sort_unstable();
    let mut dups = sorted.clone();
    dups.dedup();
    assert_eq!(
        sorted.len(),
        dups.len(),
        "duplicate field abbreviations in {sorted:?}"
    );
    for needed in [
        "websentry.crc.ok",
        "websentry.prop.name",
        "powerone.checksum.ok",
        "upsilon.q1.input_voltage",
        "upsilon.q1.beeper_on",
        "upsilon.heartbeat.connected",
        "upsilon.sms.recipient",
        "rewire.direction",
    ] {
        assert!(ours.contains(&needed), "{needed} missing from {ours:?}");
    }
    // Every protocol registered.
    let (protos, _) = tshark(&["-G", "protocols", "-X", &lua_arg]);
    for p in ["upsilon", "websentry", "powerone", "rewire"] {
        assert!(
            protos.lines().any(|l| l.split('\t').nth(2) == Some(p)),
            "protocol {p} not registered"
        );
    }
}

#[test]
fn websentry_captures_match_the_decoder() {
    run_all(jobs("websentry", "websentry", compare_websentry));
}

#[test]
fn powerone_captures_match_the_decoder() {
    run_all(jobs("powerone", "powerone", compare_powerone));
}

#[test]
fn upsilon_captures_match_the_decoder() {
    run_all(jobs("upsilon", "upsilon", compare_upsilon));
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rewire-dissector-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn powerone_serial_pcaps_match_the_decoder() {
    let dir = temp_dir("powerone");
    let mut all = Vec::new();
    let src = root().join("testdata/powerone");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hex" || x == "bin"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 4, "{inputs:?}");
    for input in inputs {
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        let pcap = dir.join(format!("{name}.pcap"));
        let out = std::fs::File::create(&pcap).unwrap();
        let file = std::io::BufReader::new(std::fs::File::open(&input).unwrap());
        let records = if name.ends_with(".hex") {
            write_serial_pcap(HexDumpReader::new(file), SerialProtocol::PowerOne, out)
        } else {
            write_serial_pcap(RawFileReader::new(file), SerialProtocol::PowerOne, out)
        }
        .unwrap();
        assert!(records > 0, "{name}");
        all.push((
            pcap,
            format!("testdata/powerone/expected/{name}.ndjson"),
            "powerone",
            compare_powerone as Compare,
        ));
    }
    // A raw file read in 5-byte pieces: every frame spans records, so the
    // dissector must carry bytes from record to record.
    let pcap = dir.join("requests-split.pcap");
    let file = std::fs::File::open(src.join("requests.bin")).unwrap();
    write_serial_pcap(
        RawFileReader::with_chunk_size(file, 5),
        SerialProtocol::Unknown,
        std::fs::File::create(&pcap).unwrap(),
    )
    .unwrap();
    all.push((
        pcap,
        "testdata/powerone/expected/requests.bin.ndjson".to_owned(),
        "powerone",
        compare_powerone as Compare,
    ));
    run_all(all);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Megatec serial exchange written with the parser's own encoders, then
/// dissected; values are compared with what the parser reads back.
#[test]
fn megatec_serial_exchange_matches_the_parser() {
    use rewire_upsilon::{
        Command, Decimal, Info, Ratings, RestoreMinutes, ShutdownDelay, Status, StatusBits,
        TestMinutes,
    };

    fn line(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x} ")).collect()
    }
    fn emit_cmd(c: &Command) -> Vec<u8> {
        let mut buf = [0u8; 16];
        let n = c.emit(&mut buf).unwrap();
        buf[..n].to_vec()
    }
    let dec = |raw, scale| Decimal::new(raw, scale);
    let status = Status {
        input_voltage: dec(2301, 1),
        input_fault_voltage: dec(1400, 1),
        output_voltage: dec(2299, 1),
        load_percent: Some(23),
        input_frequency: dec(500, 1),
        battery_voltage: dec(227, 2),
        temperature: None,
        bits: StatusBits::from_bits(StatusBits::UTILITY_FAIL | StatusBits::BEEPER_ON),
    };
    let mut buf = [0u8; 128];
    let n = status.emit(&mut buf).unwrap();
    let status_line = buf[..n].to_vec();
    let ratings = Ratings {
        voltage: dec(2200, 1),
        current: dec(5, 0),
        battery_voltage: dec(2400, 2),
        frequency: dec(500, 1),
    };
    let n = ratings.emit(&mut buf).unwrap();
    let ratings_line = buf[..n].to_vec();
    let info = Info {
        company: "NOT_A_LIVE_UPS",
        model: "TESTING",
        version: "V4.10",
    };
    let n = info.emit(&mut buf).unwrap();
    let info_line = buf[..n].to_vec();
    let commands = [
        Command::Status,
        Command::Ratings,
        Command::Info,
        Command::TestFor(TestMinutes::new(5).unwrap()),
        Command::Shutdown {
            delay: ShutdownDelay::from_tenths(5).unwrap(),
            restore: Some(RestoreMinutes::new(2).unwrap()),
        },
        Command::CancelShutdown,
    ];
    let mut dump = String::new();
    let replies: [Option<&[u8]>; 6] = [
        Some(&status_line),
        Some(&ratings_line),
        Some(&info_line),
        None,
        None,
        Some(b"C\r"), // an echo: the UPS does not know the command
    ];
    for (c, reply) in commands.iter().zip(replies) {
        dump.push_str(&format!("TX: {}\n", line(&emit_cmd(c))));
        if let Some(reply) = reply {
            dump.push_str(&format!("RX: {}\n", line(reply)));
        }
    }
    let dir = temp_dir("megatec");
    let pcap = dir.join("megatec.pcap");
    write_serial_pcap(
        HexDumpReader::new(dump.as_bytes()),
        SerialProtocol::Megatec,
        std::fs::File::create(&pcap).unwrap(),
    )
    .unwrap();
    let got = messages(&pcap, "upsilon");
    let _ = std::fs::remove_dir_all(&dir);
    let kinds: Vec<&str> = got
        .iter()
        .filter_map(|m| field(m, "upsilon.kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            "command", "status", "command", "ratings", "command", "info", "command", "command",
            "command", "echo"
        ],
        "{got:#?}"
    );
    // Command names and arguments.
    let names: Vec<&str> = got
        .iter()
        .filter_map(|m| field(m, "upsilon.command.name"))
        .collect();
    assert_eq!(
        names,
        [
            "Status",
            "Ratings",
            "Info",
            "TestFor",
            "Shutdown",
            "CancelShutdown"
        ]
    );
    assert_eq!(uint(field(&got[6], "upsilon.command.minutes")), Some(5));
    assert_eq!(field(&got[7], "upsilon.command.delay"), Some(".5"));
    assert_eq!(uint(field(&got[7], "upsilon.command.restore")), Some(2));
    // The status reply, against the parser's reading of the same line.
    let parsed = rewire_upsilon::Status::parse(status_line.strip_suffix(b"\r").unwrap()).unwrap();
    let s = &got[1];
    let num = |d: Option<Decimal>| d.map(|d| serde_json::json!(d.milli() as f64 / 1000.0));
    let want = [
        num(parsed.input_voltage),
        num(parsed.input_fault_voltage),
        num(parsed.output_voltage),
        parsed.load_percent.map(|l| serde_json::json!(l)),
        num(parsed.input_frequency),
        num(parsed.battery_voltage),
        num(parsed.temperature),
    ];
    for (key, want) in Q1_KEYS.iter().zip(want) {
        let want = want.unwrap_or(Value::Null);
        let got = field(s, &format!("upsilon.q1.{key}"));
        assert!(
            same_value(&want, got),
            "{key}: parser {want}, tshark {got:?}"
        );
    }
    let bits = bits_tree(s);
    let flags = [
        parsed.bits.utility_fail(),
        parsed.bits.battery_low(),
        parsed.bits.bypass_boost_buck(),
        parsed.bits.ups_failed(),
        parsed.bits.standby(),
        parsed.bits.test_in_progress(),
        parsed.bits.shutdown_active(),
        parsed.bits.beeper_on(),
    ];
    for (key, want) in BIT_KEYS.iter().zip(flags) {
        assert_eq!(
            flag(field(&bits, &format!("upsilon.q1.{key}"))),
            Some(want),
            "{key}"
        );
    }
    assert_eq!(
        flag(field(s, "upsilon.q1.battery_per_cell")),
        Some(parsed.battery_per_cell())
    );
    // Ratings and information.
    let r = &got[3];
    for (key, want) in [
        ("voltage", 220.0),
        ("current", 5.0),
        ("battery_voltage", 24.0),
        ("frequency", 50.0),
    ] {
        let got = field(r, &format!("upsilon.ratings.{key}"));
        assert!(same_value(&serde_json::json!(want), got), "{key}: {got:?}");
    }
    assert_eq!(
        field(&got[5], "upsilon.info.company"),
        Some("NOT_A_LIVE_UPS")
    );
    assert_eq!(field(&got[5], "upsilon.info.model"), Some("TESTING"));
    assert_eq!(field(&got[5], "upsilon.info.version"), Some("V4.10"));
}
