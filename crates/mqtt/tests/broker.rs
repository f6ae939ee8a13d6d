//! The MQTT output against a real mosquitto broker: discovery, state,
//! availability and the last will, an outage with queued events, Home
//! Assistant's birth message, and start-up failures.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

use common::{Mosquitto, Observer, config_problems};
use rewire_host::reading::{DeviceId, Event, Observation, Priority, Reading, Unit, Value};
use rewire_host::sink::Fanout;
use rewire_mqtt::{Broker, Config, Error, MqttSink};
use serde_json::Value as Json;

/// A device message as the tests make them.
struct Msg {
    device: DeviceId,
    readings: Vec<Reading>,
    event: Option<Event>,
}

impl Observation for Msg {
    fn device(&self) -> &DeviceId {
        &self.device
    }
    fn readings(&self, out: &mut Vec<Reading>) {
        out.extend(self.readings.iter().cloned());
    }
    fn event(&self) -> Option<Event> {
        self.event.clone()
    }
}

fn ups() -> DeviceId {
    DeviceId::new("upsilon", "ups")
}

fn status(voltage: f64) -> Msg {
    let bit = |b: &'static str, v| {
        Reading::state("status_bit", "bits", Value::Bool(v), UNIX_EPOCH).with_label("bit", b)
    };
    Msg {
        device: ups(),
        readings: vec![
            Reading::gauge(
                "input_voltage",
                "in",
                Value::Number(voltage),
                Unit::Volt,
                UNIX_EPOCH,
            ),
            Reading::gauge(
                "input_frequency",
                "f",
                Value::Number(50.1),
                Unit::Hertz,
                UNIX_EPOCH,
            ),
            Reading::gauge("temperature", "t", Value::Unset, Unit::Celsius, UNIX_EPOCH),
            Reading::gauge(
                "humidity",
                "h",
                Value::Number(41.0),
                Unit::Percent,
                UNIX_EPOCH,
            ),
            Reading::state("mode", "m", Value::Number(2.0), UNIX_EPOCH).with_label("label", "Dry"),
            bit("utility_fail", false),
            bit("battery_low", false),
            bit("ups_failed", false),
        ],
        event: None,
    }
}

fn event(n: u32) -> Msg {
    Msg {
        device: ups(),
        readings: Vec::new(),
        event: Some(Event {
            name: "sms_alert".into(),
            priority: Priority::Alert,
            text: format!("alert {n}"),
            ts: UNIX_EPOCH,
        }),
    }
}

fn config(broker: &Mosquitto) -> Config {
    let (host, port) = broker.addr();
    let mut c = Config::new(
        Broker {
            host,
            port,
            tls: None,
            username: None,
            password: None,
        },
        "test",
    );
    c.device_id = Some("ups-1".to_owned());
    c.interval = Duration::from_secs(60);
    c
}

fn fanout(config: Config) -> (Fanout<Msg>, rewire_mqtt::MqttHandle) {
    let sink = MqttSink::start(config).expect("connects");
    let handle = sink.handle();
    let mut fanout = Fanout::new();
    fanout.add(sink, 1024);
    (fanout, handle)
}

#[test]
fn discovery_state_and_availability_are_retained_with_the_documented_shapes() {
    let broker = Mosquitto::start("");
    let (mut fanout, _) = fanout(config(&broker));
    fanout.publish(status(229.5));
    broker.wait_retained(
        "rewire/ups-1/availability",
        "online",
        Duration::from_secs(5),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let configs = loop {
        let configs = broker.retained("homeassistant/#");
        if configs.len() >= 10 || Instant::now() > deadline {
            break configs;
        }
    };
    let topics: Vec<&str> = configs.iter().map(|(t, _)| t.as_str()).collect();
    for want in [
        "homeassistant/sensor/ups-1/input_voltage/config",
        "homeassistant/sensor/ups-1/input_frequency/config",
        "homeassistant/sensor/ups-1/temperature/config",
        "homeassistant/sensor/ups-1/humidity/config",
        "homeassistant/sensor/ups-1/mode/config",
        "homeassistant/binary_sensor/ups-1/status_bit_utility_fail/config",
        "homeassistant/binary_sensor/ups-1/status_bit_battery_low/config",
        "homeassistant/binary_sensor/ups-1/status_bit_ups_failed/config",
        "homeassistant/binary_sensor/ups-1/link/config",
        "homeassistant/sensor/ups-1/mqtt_events_dropped/config",
    ] {
        assert!(topics.contains(&want), "{want} missing from {topics:#?}");
    }
    let problems: Vec<String> = configs
        .iter()
        .flat_map(|(t, p)| config_problems(t, p))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let get = |t: &str| -> Json {
        serde_json::from_str(&configs.iter().find(|(x, _)| x == t).unwrap().1).unwrap()
    };
    let v = get("homeassistant/sensor/ups-1/input_voltage/config");
    assert_eq!(v["device_class"], "voltage");
    assert_eq!(v["unit_of_measurement"], "V");
    assert_eq!(v["state_class"], "measurement");
    assert_eq!(v["state_topic"], "rewire/ups-1/state");
    assert_eq!(v["value_template"], "{{ value_json.input_voltage }}");
    assert_eq!(v["availability"][0]["topic"], "rewire/ups-1/availability");
    assert_eq!(v["device"]["identifiers"][0], "rewire_ups-1");
    let p = get("homeassistant/binary_sensor/ups-1/status_bit_utility_fail/config");
    assert_eq!(p["device_class"], "power");
    assert_eq!(
        p["value_template"],
        "{{ 'OFF' if value_json.status_bit_utility_fail else 'ON' }}"
    );
    assert_eq!(
        get("homeassistant/binary_sensor/ups-1/status_bit_battery_low/config")["device_class"],
        "battery"
    );
    assert_eq!(
        get("homeassistant/binary_sensor/ups-1/status_bit_ups_failed/config")["device_class"],
        "problem"
    );
    assert_eq!(
        get("homeassistant/binary_sensor/ups-1/link/config")["device_class"],
        "connectivity"
    );
    assert_eq!(
        get("homeassistant/sensor/ups-1/humidity/config")["device_class"],
        "humidity"
    );

    let state = broker.retained("rewire/ups-1/state");
    let state: Json = serde_json::from_str(&state[0].1).unwrap();
    assert_eq!(
        state,
        serde_json::json!({
            "input_voltage": 229.5, "input_frequency": 50.1, "temperature": null,
            "humidity": 41.0, "mode": "Dry", "status_bit_utility_fail": false,
            "status_bit_battery_low": false, "status_bit_ups_failed": false,
            "link": true, "mqtt_events_dropped": 0
        })
    );

    // A change is published; the link lost sets availability offline.
    fanout.publish(status(231.0));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !broker.retained("rewire/ups-1/state")[0].1.contains("231") {
        assert!(Instant::now() < deadline, "the change was not published");
    }
    fanout.publish(Msg {
        device: ups(),
        readings: Vec::new(),
        event: Some(Event {
            name: "connection_lost".into(),
            priority: Priority::Alert,
            text: "rupsmon link lost".into(),
            ts: UNIX_EPOCH,
        }),
    });
    broker.wait_retained(
        "rewire/ups-1/availability",
        "offline",
        Duration::from_secs(5),
    );
    fanout.publish(status(230.0));
    broker.wait_retained(
        "rewire/ups-1/availability",
        "online",
        Duration::from_secs(5),
    );
    // A clean stop says offline too.
    fanout.close();
    broker.wait_retained(
        "rewire/ups-1/availability",
        "offline",
        Duration::from_secs(5),
    );
}

#[test]
fn home_assistant_online_republishes_discovery() {
    let broker = Mosquitto::start("");
    let (mut fanout, _) = fanout(config(&broker));
    fanout.publish(status(229.5));
    broker.wait_retained(
        "rewire/ups-1/availability",
        "online",
        Duration::from_secs(5),
    );
    std::thread::sleep(Duration::from_millis(300));
    // -R: only what is published from now on.
    let observer = Observer::start(&broker, "homeassistant/+/+/+/config", &["-R"]);
    assert!(observer.seen().is_empty());
    broker.publish("homeassistant/status", "online");
    observer.wait_for(Duration::from_secs(5), "discovery again", |seen| {
        seen.iter()
            .any(|(t, _)| t.ends_with("/input_voltage/config"))
            && seen
                .iter()
                .any(|(t, _)| t.ends_with("/status_bit_utility_fail/config"))
    });
    fanout.close();
}

#[test]
fn no_discovery_publishes_state_only() {
    let broker = Mosquitto::start("");
    let mut c = config(&broker);
    c.discovery_prefix = None;
    let (mut fanout, _) = fanout(c);
    fanout.publish(status(229.5));
    broker.wait_retained(
        "rewire/ups-1/availability",
        "online",
        Duration::from_secs(5),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(!broker.retained("rewire/ups-1/state").is_empty());
    assert!(broker.retained("homeassistant/#").is_empty());
    fanout.close();
}

#[test]
fn an_outage_keeps_events_in_order_within_the_bound_and_counts_the_rest() {
    const BOUND: usize = 20;
    let mut broker = Mosquitto::start("");
    let observer = Observer::start(
        &broker,
        "rewire/+/event",
        &["-c", "-i", "observer", "-q", "1"],
    );
    let mut c = config(&broker);
    c.queue = BOUND;
    let (mut fanout, handle) = fanout(c);
    for n in 0..3 {
        fanout.publish(event(n));
    }
    observer.wait_for(Duration::from_secs(5), "the first events", |s| s.len() == 3);

    // QoS 1 is at least once: an event in flight when the broker dies is
    // sent again. Stop it once everything so far is acknowledged.
    let deadline = Instant::now() + Duration::from_secs(5);
    while handle.stats().unacked > 0 {
        assert!(Instant::now() < deadline, "never acknowledged");
        std::thread::sleep(Duration::from_millis(10));
    }
    broker.stop();
    let deadline = Instant::now() + Duration::from_secs(5);
    while handle.stats().connected {
        assert!(Instant::now() < deadline, "the outage was not noticed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let down = Instant::now();
    for n in 3..3 + BOUND as u32 + 7 {
        fanout.publish(event(n));
    }
    std::thread::sleep(Duration::from_secs(5).saturating_sub(down.elapsed()));
    assert_eq!(handle.stats().dropped, 7);
    assert_eq!(handle.stats().queued, BOUND as u64);
    broker.restart();

    let seen = observer.wait_for(Duration::from_secs(15), "the queued events", |s| {
        s.iter().any(|(_, p)| p.contains("events_dropped"))
    });
    let texts: Vec<String> = seen
        .iter()
        .map(|(_, p)| serde_json::from_str::<Json>(p).unwrap())
        .filter(|j| j["event"] == "sms_alert")
        .map(|j| j["text"].as_str().unwrap().to_owned())
        .collect();
    let want: Vec<String> = (0..3 + BOUND as u32)
        .map(|n| format!("alert {n}"))
        .collect();
    assert_eq!(texts, want, "every queued event once, in order");
    let dropped: Json = serde_json::from_str(
        &seen
            .iter()
            .find(|(_, p)| p.contains("events_dropped"))
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(dropped["dropped"], 7);
    assert_eq!(dropped["priority"], "alert");
    let metric = handle.readings();
    assert_eq!(metric[0].name, "mqtt_events_dropped");
    assert_eq!(metric[0].value, Value::Number(7.0));
    // The state carries the count too.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !broker
        .retained("rewire/ups-1/state")
        .first()
        .is_some_and(|(_, p)| p.contains("\"mqtt_events_dropped\":7"))
    {
        assert!(Instant::now() < deadline, "no drop count in the state");
    }
    fanout.close();
}

/// Run as a child by the SIGKILL test: connects, then waits to be killed.
#[test]
#[ignore = "a helper the SIGKILL test runs in a child process"]
fn child_that_waits_to_be_killed() {
    let Ok(port) = std::env::var("REWIRE_MQTT_TEST_PORT") else {
        return;
    };
    let mut c = Config::new(
        Broker {
            host: "127.0.0.1".into(),
            port: port.parse().unwrap(),
            tls: None,
            username: None,
            password: None,
        },
        "test",
    );
    c.device_id = Some("ups-1".into());
    let (mut fanout, _) = fanout(c);
    fanout.publish(status(229.5));
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn sigkill_leaves_the_last_will_offline() {
    let broker = Mosquitto::start("");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_that_waits_to_be_killed",
            "--ignored",
            "--nocapture",
        ])
        .env("REWIRE_MQTT_TEST_PORT", broker.port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    broker.wait_retained(
        "rewire/ups-1/availability",
        "online",
        Duration::from_secs(10),
    );
    Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    broker.wait_retained(
        "rewire/ups-1/availability",
        "offline",
        Duration::from_secs(10),
    );
}

#[test]
fn a_wrong_password_is_one_clear_error_at_start() {
    let dir = common::temp_dir("passwd");
    let passwd = dir.join("passwd");
    let ok = Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwd)
        .args(["rewire", "right"])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let broker = Mosquitto::start(&format!(
        "listener PORT 127.0.0.1\nallow_anonymous false\npassword_file {}\n",
        passwd.display()
    ));
    let mut c = config(&broker);
    c.broker.username = Some("rewire".into());
    c.broker.password = Some("wrong".into());
    let err = MqttSink::start(c.clone()).unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err:?}");
    let text = err.to_string();
    let want = format!(
        "the MQTT broker 127.0.0.1:{} refused the connection: ",
        broker.port
    );
    assert!(
        text.starts_with(&want) && text.contains("password"),
        "{text}"
    );
    c.broker.password = Some("right".into());
    let sink = MqttSink::start(c).expect("the right password connects");
    drop(sink);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_unreachable_broker_is_one_clear_error_at_start() {
    let port = common::free_port();
    let c = Config::new(
        Broker {
            host: "127.0.0.1".into(),
            port,
            tls: None,
            username: None,
            password: None,
        },
        "test",
    );
    let err = MqttSink::start(c).unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot reach the MQTT broker 127.0.0.1:{port}: ")),
        "{err}"
    );
}

/// A build without TLS refuses `mqtts://` at start, before any connection,
/// with one line that says why.
#[cfg(not(feature = "tls"))]
#[test]
fn tls_without_the_feature_is_one_clear_error_at_start() {
    let c = Config::new(
        Broker {
            host: "127.0.0.1".into(),
            port: common::free_port(),
            tls: Some(rewire_mqtt::Tls::SystemRoots),
            username: None,
            password: None,
        },
        "test",
    );
    const { assert!(!rewire_mqtt::TLS_AVAILABLE) };
    let err = MqttSink::start(c).unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("no TLS"), "{err}");
}

#[cfg(feature = "tls")]
fn openssl(args: &[&str]) {
    let ok = Command::new("openssl")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl")
        .success();
    assert!(ok, "openssl {args:?}");
}

#[cfg(feature = "tls")]
#[test]
fn tls_with_the_right_ca_connects_and_an_untrusted_one_fails_clearly() {
    let dir = common::temp_dir("tls");
    let p = |f: &str| dir.join(f).display().to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=rewire test CA",
        "-keyout",
        &p("ca.key"),
        "-out",
        &p("ca.pem"),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &p("server.key"),
        "-out",
        &p("server.csr"),
    ]);
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p("server.csr"),
        "-CA",
        &p("ca.pem"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &p("ext"),
        "-out",
        &p("server.pem"),
    ]);
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=other CA",
        "-keyout",
        &p("other.key"),
        "-out",
        &p("other.pem"),
    ]);
    let broker = Mosquitto::start(&format!(
        "listener PORT 127.0.0.1\nallow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}\n",
        p("ca.pem"),
        p("server.pem"),
        p("server.key")
    ));
    let mut c = config(&broker);
    c.broker.tls = Some(rewire_mqtt::Tls::CaFile(dir.join("ca.pem")));
    let sink = MqttSink::start(c.clone()).expect("TLS with the right CA connects");
    drop(sink);
    c.broker.tls = Some(rewire_mqtt::Tls::CaFile(dir.join("other.pem")));
    let err = MqttSink::start(c.clone()).unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("TLS with the MQTT broker"),
        "{err}"
    );
    c.broker.tls = Some(rewire_mqtt::Tls::CaFile(dir.join("missing.pem")));
    let err = MqttSink::start(c).unwrap_err();
    assert!(matches!(err, Error::CaFile { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.pem"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
