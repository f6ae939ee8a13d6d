//! The MQTT flags every live mode shares (`#[command(flatten)]` an
//! [`MqttArgs`]), the pure function turning them into the
//! [`rewire_mqtt::Config`], and [`MqttArgs::start`] for the wiring.
//!
//! The password never appears on the command line: it comes from
//! `--mqtt-password-file` or the `REWIRE_MQTT_PASSWORD` environment
//! variable.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use rewire_mqtt::{Broker, Config, MqttSink, Tls};

/// The environment variable the MQTT password may come from.
pub const PASSWORD_ENV: &str = "REWIRE_MQTT_PASSWORD";

/// The MQTT flags of a live mode.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "MQTT")]
pub struct MqttArgs {
    /// The broker to publish readings, events and availability to, with
    /// Home Assistant discovery (`mqtt://` or `mqtts://` URL).
    #[arg(
        long,
        value_name = "URL",
        value_parser = parse_url,
        help = "Publish readings, events and availability to this MQTT broker, with Home Assistant \
discovery: mqtt://[user@]host[:port] (port 1883) or mqtts://[user@]host[:port] (TLS, port 8883). \
Read-only: nothing received over MQTT reaches the device"
    )]
    pub mqtt: Option<MqttUrl>,
    /// Trust the CA certificates of this PEM file for mqtts:// instead of
    /// the system's.
    #[arg(long, value_name = "FILE", requires = "mqtt")]
    pub mqtt_ca: Option<PathBuf>,
    /// Read the MQTT password from this file (first line); otherwise from
    /// the REWIRE_MQTT_PASSWORD environment variable.
    #[arg(long, value_name = "FILE", requires = "mqtt")]
    pub mqtt_password_file: Option<PathBuf>,
    /// Publish the state at least this often, and on every change.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::value::duration)]
    pub mqtt_interval: Duration,
    /// First level of every rewire topic (BASE/DEVICE/state, …/event,
    /// …/availability).
    #[arg(long, value_name = "TOPIC", default_value = "rewire", value_parser = parse_topic)]
    pub mqtt_base_topic: String,
    /// Home Assistant's discovery prefix.
    #[arg(long, value_name = "PREFIX", default_value = "homeassistant", value_parser = parse_topic)]
    pub discovery_prefix: String,
    /// Publish no Home Assistant discovery configs.
    #[arg(long)]
    pub no_discovery: bool,
    /// The device id in the MQTT topics (default: derived from the device).
    #[arg(long, value_name = "ID", value_parser = parse_level)]
    pub device_id: Option<String>,
}

impl Default for MqttArgs {
    /// Returns the flags' defaults: no `--mqtt`, so no MQTT output.
    fn default() -> Self {
        Self {
            mqtt: None,
            mqtt_ca: None,
            mqtt_password_file: None,
            mqtt_interval: Duration::from_secs(60),
            mqtt_base_topic: "rewire".to_owned(),
            discovery_prefix: "homeassistant".to_owned(),
            no_discovery: false,
            device_id: None,
        }
    }
}

/// A parsed `--mqtt` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttUrl {
    /// Whether it is `mqtts://`.
    pub tls: bool,
    /// The user name, if any.
    pub user: Option<String>,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// The port (1883 or 8883 when not given).
    pub port: u16,
}

/// Parses `mqtt://[user@]host[:port]` or `mqtts://…` (user and port optional).
///
/// # Errors
/// Names the text: another scheme, a password in the URL, a path, an empty
/// host or a bad port.
pub fn parse_url(text: &str) -> Result<MqttUrl, String> {
    let (tls, rest) = if let Some(rest) = text.strip_prefix("mqtt://") {
        (false, rest)
    } else if let Some(rest) = text.strip_prefix("mqtts://") {
        (true, rest)
    } else {
        return Err(format!(
            "{text:?} is not an MQTT URL like mqtt://host, mqtt://user@host:1883 or mqtts://host"
        ));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('?') {
        return Err(format!(
            "{text:?}: an MQTT URL has no path; use --mqtt-base-topic"
        ));
    }
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((user, hostport)) => {
            if user.contains(':') {
                return Err(format!(
                    "{text:?}: no password in the URL; use --mqtt-password-file or {PASSWORD_ENV}"
                ));
            }
            if user.is_empty() {
                return Err(format!("{text:?}: empty user name"));
            }
            (Some(user.to_owned()), hostport)
        }
        None => (None, rest),
    };
    let default_port = if tls { 8883 } else { 1883 };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, tail) = v6
            .split_once(']')
            .ok_or_else(|| format!("{text:?}: unclosed [ in the host"))?;
        match tail.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if tail.is_empty() => (host, None),
            None => return Err(format!("{text:?}: unexpected {tail:?} after the host")),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{text:?}: no host"));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{text:?}: {p:?} is not a port (1-65535)"))?,
        None => default_port,
    };
    Ok(MqttUrl {
        tls,
        user,
        host: host.to_owned(),
        port,
    })
}

/// Parses a topic prefix: levels without wildcards, not empty, no leading
/// or trailing `/`.
///
/// # Errors
/// Names the text.
pub fn parse_topic(text: &str) -> Result<String, String> {
    if text.is_empty()
        || text.starts_with('/')
        || text.ends_with('/')
        || text.contains("//")
        || text.contains(['+', '#', '\0'])
    {
        return Err(format!(
            "{text:?} is not a topic prefix like rewire or site/rewire (no +, # or empty levels)"
        ));
    }
    Ok(text.to_owned())
}

/// Parses one topic level (a device id): no `/`, `+`, `#`, not empty.
///
/// # Errors
/// Names the text.
pub fn parse_level(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains(['/', '+', '#', '\0']) {
        return Err(format!(
            "{text:?} is not a device id (one topic level: no /, + or #)"
        ));
    }
    Ok(text.to_owned())
}

/// Turns the flags into the MQTT output's config, `None` without `--mqtt`.
/// `node` names this instance (`upsilon-monitor`); `default_device_id` is
/// the mode's own id for its device when it has one; `password` was read
/// from the file or the environment.
///
/// # Errors
/// `--mqtt-ca` with `mqtt://`, or a password without a user name.
pub fn config(
    args: &MqttArgs,
    node: &str,
    default_device_id: Option<&str>,
    password: Option<String>,
) -> Result<Option<Config>, String> {
    let Some(url) = &args.mqtt else {
        return Ok(None);
    };
    let tls = match (&args.mqtt_ca, url.tls) {
        (Some(_), false) => return Err("--mqtt-ca needs an mqtts:// URL".to_owned()),
        (Some(ca), true) => Some(Tls::CaFile(ca.clone())),
        (None, true) => Some(Tls::SystemRoots),
        (None, false) => None,
    };
    if password.is_some() && url.user.is_none() {
        return Err("an MQTT password needs a user name in the URL (mqtt://USER@host)".to_owned());
    }
    let mut config = Config::new(
        Broker {
            host: url.host.clone(),
            port: url.port,
            tls,
            username: url.user.clone(),
            password,
        },
        node,
    );
    config.interval = args.mqtt_interval;
    config.base_topic.clone_from(&args.mqtt_base_topic);
    config.discovery_prefix = (!args.no_discovery).then(|| args.discovery_prefix.clone());
    config.device_id = args
        .device_id
        .clone()
        .or_else(|| default_device_id.map(str::to_owned));
    Ok(Some(config))
}

impl MqttArgs {
    /// Reads the password (from `--mqtt-password-file`, else
    /// `REWIRE_MQTT_PASSWORD`), builds the config and connects; `None`
    /// without `--mqtt`.
    ///
    /// # Errors
    /// One line naming the flag, the file or the broker: an unreadable
    /// password file, a bad flag combination, a refused password, TLS
    /// failure or an unreachable broker.
    pub fn start(
        &self,
        node: &str,
        default_device_id: Option<&str>,
    ) -> anyhow::Result<Option<MqttSink>> {
        if self.mqtt.is_none() {
            return Ok(None);
        }
        let password = match &self.mqtt_password_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read --mqtt-password-file {}", path.display())
                })?;
                Some(text.lines().next().unwrap_or_default().to_owned())
            }
            None => std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty()),
        };
        let Some(config) =
            config(self, node, default_device_id, password).map_err(anyhow::Error::msg)?
        else {
            return Ok(None);
        };
        Ok(Some(MqttSink::start(config)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        mqtt: MqttArgs,
    }

    fn args(line: &[&str]) -> Result<MqttArgs, String> {
        Cli::try_parse_from(std::iter::once("t").chain(line.iter().copied()))
            .map(|c| c.mqtt)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn urls() {
        let u = parse_url("mqtt://broker.lan").unwrap();
        assert_eq!(
            (u.tls, u.user, u.host.as_str(), u.port),
            (false, None, "broker.lan", 1883)
        );
        let u = parse_url("mqtts://ha@10.0.0.2:8884").unwrap();
        assert_eq!(
            (u.tls, u.user.as_deref(), u.host.as_str(), u.port),
            (true, Some("ha"), "10.0.0.2", 8884)
        );
        let u = parse_url("mqtts://[::1]").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 8883));
        for bad in [
            "http://x",
            "broker:1883",
            "mqtt://u:secret@x",
            "mqtt://x/topic",
            "mqtt://",
            "mqtt://x:0",
            "mqtt://x:99999",
            "mqtt://@x",
            "mqtt://[::1",
        ] {
            let err = parse_url(bad).unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
        assert!(
            parse_url("mqtt://u:secret@x")
                .unwrap_err()
                .contains(PASSWORD_ENV)
        );
    }

    #[test]
    fn topics_and_ids() {
        assert!(parse_topic("site/rewire").is_ok());
        for bad in ["", "/a", "a/", "a//b", "a/+", "#"] {
            assert!(parse_topic(bad).is_err(), "{bad}");
        }
        assert!(parse_level("ups-1").is_ok());
        assert!(parse_level("a/b").is_err());
    }

    #[test]
    fn flags_become_the_config() {
        let a = args(&[]).unwrap();
        assert_eq!(a, MqttArgs::default());
        assert_eq!(config(&a, "node", None, None), Ok(None));
        let a = args(&[
            "--mqtt",
            "mqtts://ha@b",
            "--mqtt-interval",
            "10s",
            "--mqtt-base-topic",
            "site/r",
            "--discovery-prefix",
            "ha",
            "--device-id",
            "ups-1",
        ])
        .unwrap();
        let c = config(&a, "upsilon-monitor", Some("derived"), Some("pw".into()))
            .unwrap()
            .unwrap();
        assert_eq!(c.broker.host, "b");
        assert_eq!(c.broker.port, 8883);
        assert_eq!(c.broker.tls, Some(Tls::SystemRoots));
        assert_eq!(c.broker.username.as_deref(), Some("ha"));
        assert_eq!(c.broker.password.as_deref(), Some("pw"));
        assert_eq!(c.interval, Duration::from_secs(10));
        assert_eq!(c.base_topic, "site/r");
        assert_eq!(c.discovery_prefix.as_deref(), Some("ha"));
        assert_eq!(c.device_id.as_deref(), Some("ups-1"));
        assert_eq!(c.node, "upsilon-monitor");
        let a = args(&["--mqtt", "mqtt://b", "--no-discovery"]).unwrap();
        let c = config(&a, "n", Some("derived"), None).unwrap().unwrap();
        assert_eq!(c.discovery_prefix, None);
        assert_eq!(c.device_id.as_deref(), Some("derived"));
        assert_eq!(c.interval, Duration::from_secs(60));
        assert_eq!(c.base_topic, "rewire");
        let a = args(&["--mqtt", "mqtts://b", "--mqtt-ca", "ca.pem"]).unwrap();
        let c = config(&a, "n", None, None).unwrap().unwrap();
        assert_eq!(c.broker.tls, Some(Tls::CaFile("ca.pem".into())));
    }

    #[test]
    fn bad_combinations_are_refused() {
        let a = args(&["--mqtt", "mqtt://b", "--mqtt-ca", "ca.pem"]).unwrap();
        assert!(
            config(&a, "n", None, None)
                .unwrap_err()
                .contains("mqtts://")
        );
        let a = args(&["--mqtt", "mqtt://b"]).unwrap();
        assert!(
            config(&a, "n", None, Some("pw".into()))
                .unwrap_err()
                .contains("user name")
        );
        assert!(args(&["--mqtt-ca", "x"]).is_err(), "--mqtt-ca needs --mqtt");
        assert!(args(&["--mqtt", "mqtt://b", "--mqtt-interval", "60"]).is_err());
        assert!(args(&["--mqtt-password", "x"]).is_err(), "no password flag");
    }
}
