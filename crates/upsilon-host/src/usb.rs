//! The USB "MEC0003" bridge (VID 0x0001, PID 0x0000) as a [`Channel`]:
//! each Megatec command becomes a read of the string descriptor that
//! [`rewire_upsilon::usb::string_index`] names, and the string is the answer.
//!
//! **Untested on hardware.** What is tested is everything up to the USB
//! transfer: the mapping, [`UsbChannel`] over a [`DescriptorSource`] that
//! answers like the bridge ([`SimBridge`], in front of the simulated UPS),
//! and the whole `upsilon ups` flow over it. The real source,
//! `Libusb`, exists only with the cargo feature `usb` (libusb through the
//! `rusb` crate).
//!
//! What the bridge does, as NUT's `nutdrv_qx` "fabula" subdriver drives it
//! (see `docs/protocols/upsilon.md`): a standard GET_DESCRIPTOR request for
//! a string descriptor, in the device's first language, carries the command;
//! the descriptor's UTF-16 text is the reply, read as ASCII (other
//! characters become `?`). Accepted commands answer `UPS No Ack`, which is
//! "no answer"; commands with no index are never sent, and the command
//! itself stands for the answer ("not understood").

use anyhow::Result;
use rewire_upsilon::usb::{self as mapping, string_index};
use rewire_upsilon::{Command, RestoreMinutes, ShutdownDelay};
use std::time::Instant;

use crate::sim::SimUps;
use crate::ups::{Channel, Wait, encode};

/// Where [`UsbChannel`] reads string descriptors: the device through libusb
/// (`Libusb`, feature `usb`), or a stand-in ([`SimBridge`]).
pub trait DescriptorSource {
    /// Reads string descriptor `index`, as text. `Ok(None)` means the device
    /// gave no string (the transfer timed out or was stalled, or the
    /// descriptor was malformed): no answer, try again later.
    ///
    /// # Errors
    /// When the device is gone or the transfer failed otherwise.
    fn read_string(&mut self, index: u8) -> Result<Option<String>>;
}

impl<S: DescriptorSource + ?Sized> DescriptorSource for &mut S {
    fn read_string(&mut self, index: u8) -> Result<Option<String>> {
        (**self).read_string(index)
    }
}

/// Turns descriptor text into bytes as libusb's ASCII reader does: each
/// character outside ASCII becomes `?`.
pub fn ascii_bytes(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
        .collect()
}

/// Cuts the Megatec answer out of a descriptor's bytes: up to the first CR
/// (or NUL). `None` for `UPS No Ack` and for an empty string.
pub fn answer_line(descriptor: &[u8]) -> Option<&[u8]> {
    let line = mapping::reply(descriptor)?;
    let end = line
        .iter()
        .position(|&b| b == b'\r' || b == 0)
        .unwrap_or(line.len());
    line.get(..end).filter(|l| !l.is_empty())
}

/// Megatec over the MEC0003 bridge: a [`Channel`] on a [`DescriptorSource`].
#[derive(Debug)]
pub struct UsbChannel<S> {
    source: S,
    attempts: u32,
}

impl<S: DescriptorSource> UsbChannel<S> {
    /// Reads from `source`; a query is read up to `attempts` times (at least
    /// once) until it gets its answer. Each read waits as long as the source
    /// lets it (the USB transfer timeout).
    pub fn new(source: S, attempts: u32) -> Self {
        UsbChannel {
            source,
            attempts: attempts.max(1),
        }
    }

    /// Returns the source.
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    /// Returns the source, dropping the channel.
    pub fn into_source(self) -> S {
        self.source
    }
}

impl<S: DescriptorSource> Channel for UsbChannel<S> {
    fn link_name(&self) -> &'static str {
        "usb"
    }

    /// Reads the command's string descriptor ([`Wait::Retried`]: up to the
    /// configured attempts; [`Wait::Once`]: once, the grace being the
    /// transfer's own timeout). A command without an index is not sent: it
    /// is handed back as its own answer, which the conversation reads as
    /// "refused".
    fn ask(
        &mut self,
        cmd: &Command,
        wait: Wait,
        is_reply: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<Option<Vec<u8>>> {
        let Some(index) = string_index(cmd) else {
            let mut echo = encode(cmd);
            if echo.last() == Some(&b'\r') {
                echo.pop();
            }
            return Ok(is_reply(&echo).then_some(echo));
        };
        let attempts = match wait {
            Wait::Retried => self.attempts,
            Wait::Once(_) => 1,
        };
        for _ in 0..attempts {
            let Some(text) = self.source.read_string(index)? else {
                continue;
            };
            let bytes = ascii_bytes(&text);
            if let Some(line) = answer_line(&bytes)
                && is_reply(line)
            {
                return Ok(Some(line.to_vec()));
            }
        }
        Ok(None)
    }
}

/// Returns the command the bridge carries at string descriptor `index`: the
/// inverse of [`string_index`], found by asking it (so the two cannot
/// disagree). Shutdown indexes give the shortest delay of their step (`.5`
/// for 0x1_) and no `R` part for "power returns" (low nibble 8), `R0000`
/// for "stay off" (0).
pub fn command_at(index: u8) -> Option<Command> {
    let fixed = [
        Command::Status,
        Command::Ratings,
        Command::Info,
        Command::ToggleBeeper,
        Command::CancelShutdown,
    ];
    let delays = (5..=9)
        .filter_map(|t| ShutdownDelay::from_tenths(t).ok())
        .chain((1..=10).filter_map(|m| ShutdownDelay::from_minutes(m).ok()));
    let shutdowns = delays.flat_map(|delay| {
        [None, RestoreMinutes::new(0).ok()]
            .into_iter()
            .map(move |restore| Command::Shutdown { delay, restore })
    });
    fixed
        .into_iter()
        .chain(shutdowns)
        .find(|c| string_index(c) == Some(index))
}

/// A MEC0003 bridge in front of a [`SimUps`], answering descriptor reads as
/// the bridge does according to NUT's driver: the reply line (without CR)
/// for `Q1`, `F` and `I`, `UPS No Ack` for commands, no string for an index
/// that carries nothing. For tests and demonstrations without hardware.
#[derive(Debug, Clone, Default)]
pub struct SimBridge {
    /// The UPS behind the bridge.
    pub ups: SimUps,
    /// Every index read so far, in order.
    pub reads: Vec<u8>,
}

impl SimBridge {
    /// A bridge in front of a fresh [`SimUps`].
    pub fn new() -> Self {
        SimBridge::default()
    }
}

impl DescriptorSource for SimBridge {
    fn read_string(&mut self, index: u8) -> Result<Option<String>> {
        self.reads.push(index);
        let Some(cmd) = command_at(index) else {
            return Ok(None);
        };
        Ok(Some(match self.ups.handle(&encode(&cmd), Instant::now()) {
            Some(reply) => {
                let line = reply.strip_suffix(b"\r").unwrap_or(&reply);
                String::from_utf8_lossy(line).into_owned()
            }
            None => String::from_utf8_lossy(mapping::NO_ACK).into_owned(),
        }))
    }
}

/// USB standard request GET_DESCRIPTOR (USB 2.0, table 9-4).
pub const GET_DESCRIPTOR: u8 = 0x06;
/// Descriptor type STRING (USB 2.0, table 9-5).
pub const STRING_DESCRIPTOR: u8 = 0x03;
/// Language id used when the device lists none: US English.
pub const FALLBACK_LANGID: u16 = 0x0409;

/// Decodes a raw string descriptor (`bLength`, `bDescriptorType` = 3, then
/// UTF-16LE code units) into ASCII text, as libusb's ASCII reader does:
/// units outside ASCII become `?`. `None` when the bytes are not a string
/// descriptor (too short, wrong type, `bLength` beyond what arrived).
pub fn decode_string_descriptor(raw: &[u8]) -> Option<String> {
    let (&[len, kind], body) = raw.split_first_chunk::<2>()?;
    let len = usize::from(len);
    if kind != STRING_DESCRIPTOR || len < 2 || len > raw.len() {
        return None;
    }
    let units = body.get(..len - 2)?;
    Some(
        units
            .chunks_exact(2)
            .map(|u| match u {
                [lo, 0] if lo.is_ascii() => char::from(*lo),
                _ => '?',
            })
            .collect(),
    )
}

/// Returns the first language id that string descriptor 0 lists, or `None`
/// when it lists none or is malformed.
pub fn first_langid(raw: &[u8]) -> Option<u16> {
    let (&[len, kind, lo, hi], _) = raw.split_first_chunk::<4>()?;
    (kind == STRING_DESCRIPTOR && usize::from(len) >= 4 && usize::from(len) <= raw.len())
        .then(|| u16::from_le_bytes([lo, hi]))
}

#[cfg(feature = "usb")]
pub use libusb::Libusb;

#[cfg(feature = "usb")]
mod libusb {
    use std::time::Duration;

    use anyhow::{Context, Result, anyhow, bail};
    use rusb::{DeviceHandle, Direction, GlobalContext, Recipient, RequestType, UsbContext};

    use super::{
        DescriptorSource, FALLBACK_LANGID, GET_DESCRIPTOR, STRING_DESCRIPTOR,
        decode_string_descriptor, first_langid,
    };

    /// The MEC0003 bridge through libusb (`rusb`): string descriptors are
    /// read with control transfers on endpoint 0, so no interface is
    /// claimed. **Untested on hardware.**
    pub struct Libusb {
        handle: DeviceHandle<GlobalContext>,
        langid: u16,
        timeout: Duration,
        name: String,
    }

    impl std::fmt::Debug for Libusb {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Libusb")
                .field("name", &self.name)
                .field("langid", &self.langid)
                .field("timeout", &self.timeout)
                .finish_non_exhaustive()
        }
    }

    impl Libusb {
        /// Opens the first device with `vid`:`pid`; every transfer waits up
        /// to `timeout`. Reads the device's first language id (US English
        /// when it lists none).
        ///
        /// # Errors
        /// When libusb cannot list devices, none matches, or opening it is
        /// refused (permissions: see the udev rule in `docs/cli/upsilon.md`).
        pub fn open(vid: u16, pid: u16, timeout: Duration) -> Result<Self> {
            let id = format!("USB device {vid:04x}:{pid:04x}");
            let devices = GlobalContext::default()
                .devices()
                .with_context(|| format!("looking for {id}: listing USB devices"))?;
            let device = devices
                .iter()
                .find(|d| {
                    d.device_descriptor()
                        .is_ok_and(|desc| desc.vendor_id() == vid && desc.product_id() == pid)
                })
                .ok_or_else(|| anyhow!("no {id} found (does lsusb list it?)"))?;
            let name = format!(
                "{id} (bus {:03} device {:03})",
                device.bus_number(),
                device.address()
            );
            let handle = match device.open() {
                Ok(h) => h,
                Err(rusb::Error::Access) => bail!(
                    "permission denied opening {name}: add the udev rule from \
                     docs/cli/upsilon.md, or run as root"
                ),
                Err(e) => return Err(anyhow!(e).context(format!("opening {name}"))),
            };
            let mut source = Libusb {
                handle,
                langid: FALLBACK_LANGID,
                timeout,
                name,
            };
            let mut buf = [0u8; 255];
            if let Some(n) = source.control(0, 0, &mut buf)? {
                source.langid = buf
                    .get(..n)
                    .and_then(first_langid)
                    .unwrap_or(FALLBACK_LANGID);
            }
            Ok(source)
        }

        /// Names the device in messages: `USB device 0001:0000 (bus …)`.
        pub fn name(&self) -> &str {
            &self.name
        }

        /// Reads string descriptor `index` in `langid` into `buf`; `None` on
        /// a timeout or a stall.
        fn control(&self, index: u8, langid: u16, buf: &mut [u8]) -> Result<Option<usize>> {
            let request_type =
                rusb::request_type(Direction::In, RequestType::Standard, Recipient::Device);
            let value = u16::from(STRING_DESCRIPTOR) << 8 | u16::from(index);
            match self.handle.read_control(
                request_type,
                GET_DESCRIPTOR,
                value,
                langid,
                buf,
                self.timeout,
            ) {
                Ok(n) => Ok(Some(n)),
                Err(rusb::Error::Timeout | rusb::Error::Pipe) => Ok(None),
                Err(e) => Err(anyhow!(e).context(format!(
                    "reading string descriptor {index:#04x} from {}",
                    self.name
                ))),
            }
        }
    }

    impl DescriptorSource for Libusb {
        fn read_string(&mut self, index: u8) -> Result<Option<String>> {
            let mut buf = [0u8; 255];
            let Some(n) = self.control(index, self.langid, &mut buf)? else {
                return Ok(None);
            };
            Ok(buf.get(..n).and_then(decode_string_descriptor))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ups::{CommandOutcome, Confirm, Sent, Ups, command};
    use rewire_upsilon::TestMinutes;
    use std::time::Duration;

    /// A source that plays back scripted strings and records the indexes.
    #[derive(Default)]
    struct Script {
        answers: Vec<Option<&'static str>>,
        reads: Vec<u8>,
    }

    impl DescriptorSource for Script {
        fn read_string(&mut self, index: u8) -> Result<Option<String>> {
            self.reads.push(index);
            Ok(if self.answers.is_empty() {
                None
            } else {
                self.answers.remove(0).map(str::to_owned)
            })
        }
    }

    fn script(answers: &[Option<&'static str>]) -> UsbChannel<Script> {
        UsbChannel::new(
            Script {
                answers: answers.to_vec(),
                reads: Vec::new(),
            },
            3,
        )
    }

    const Q1: &str = "(230.0 230.0 230.0 012 50.0 27.2 25.1 00001000";

    #[test]
    fn descriptor_text_becomes_ascii_with_question_marks() {
        assert_eq!(ascii_bytes("#MEC0003 ä €"), b"#MEC0003 ? ?");
        assert_eq!(ascii_bytes(""), b"");
    }

    #[test]
    fn answer_lines_stop_at_cr_or_nul_and_no_ack_is_none() {
        assert_eq!(answer_line(b"(230.0 x\r"), Some(&b"(230.0 x"[..]));
        assert_eq!(answer_line(b"#F\0\0\0"), Some(&b"#F"[..]));
        assert_eq!(answer_line(b"(no cr"), Some(&b"(no cr"[..]));
        assert_eq!(answer_line(b"UPS No Ack"), None);
        assert_eq!(answer_line(b"ups no ack\r"), None);
        assert_eq!(answer_line(b""), None);
        assert_eq!(answer_line(b"\r"), None);
        assert_eq!(answer_line(b"UPS No Ack!"), Some(&b"UPS No Ack!"[..]));
    }

    #[test]
    fn command_at_inverts_the_mapping_for_every_index() {
        let mut carried = 0;
        for index in 0..=u8::MAX {
            if let Some(cmd) = command_at(index) {
                assert_eq!(string_index(&cmd), Some(index), "{cmd}");
                carried += 1;
            }
        }
        // Q1, F, I, Q, C and 15 delay steps × (returns, stays off).
        assert_eq!(carried, 5 + 15 * 2);
        assert_eq!(command_at(0x03), Some(Command::Status));
        assert_eq!(command_at(0x0D), Some(Command::Ratings));
        assert_eq!(command_at(0x0C), Some(Command::Info));
        assert_eq!(command_at(0x07), Some(Command::ToggleBeeper));
        assert_eq!(command_at(0x0A), Some(Command::CancelShutdown));
        assert_eq!(command_at(0x18).map(|c| c.to_string()), Some("S.5".into()));
        assert_eq!(
            command_at(0xF0).map(|c| c.to_string()),
            Some("S10R0000".into())
        );
        assert_eq!(command_at(0x04), None);
        assert_eq!(command_at(0x00), None);
    }

    #[test]
    fn a_query_reads_its_index_and_returns_the_line_without_cr() {
        let mut ch = script(&[Some("(230.0 230.0 230.0 012 50.0 27.2 25.1 00001000\r")]);
        let line = ch
            .ask(&Command::Status, Wait::Retried, &mut |l| {
                l.starts_with(b"(")
            })
            .unwrap();
        assert_eq!(line.as_deref(), Some(Q1.as_bytes()));
        assert_eq!(ch.source_mut().reads, vec![0x03]);
    }

    #[test]
    fn no_ack_silence_and_wrong_lines_are_retried_up_to_the_attempts() {
        let mut ch = script(&[Some("UPS No Ack"), None, Some("#wrong shape"), Some(Q1)]);
        let mut is_status = |l: &[u8]| l.starts_with(b"(");
        let got = ch
            .ask(&Command::Status, Wait::Retried, &mut is_status)
            .unwrap();
        assert_eq!(got, None, "three attempts, none answered");
        assert_eq!(ch.source_mut().reads, vec![0x03; 3]);
        let got = ch
            .ask(&Command::Status, Wait::Retried, &mut is_status)
            .unwrap();
        assert_eq!(got.as_deref(), Some(Q1.as_bytes()));
    }

    #[test]
    fn a_command_is_read_once_and_no_ack_means_silence() {
        let mut ch = script(&[Some("UPS No Ack"), Some("UPS No Ack")]);
        let once = Wait::Once(Duration::from_millis(1));
        let got = ch.ask(&Command::ToggleBeeper, once, &mut |_| true).unwrap();
        assert_eq!(got, None);
        assert_eq!(ch.source_mut().reads, vec![0x07]);
    }

    #[test]
    fn a_command_without_an_index_is_not_sent_and_reads_as_its_echo() {
        let mut ups = Ups::with_channel(script(&[Some(Q1)]));
        let sent = ups.send(&Command::TestUntilLow, Duration::ZERO).unwrap();
        assert_eq!(sent, Sent::Refused);
        let reads = &ups.channel_mut().source_mut().reads;
        assert!(reads.is_empty(), "no transfer for TL: {reads:?}");
    }

    #[test]
    fn a_source_error_is_a_link_error() {
        struct Gone;
        impl DescriptorSource for Gone {
            fn read_string(&mut self, _: u8) -> Result<Option<String>> {
                anyhow::bail!("device unplugged")
            }
        }
        let mut ups = Ups::with_channel(UsbChannel::new(Gone, 3));
        let err = ups.status().unwrap_err();
        assert_eq!(err.to_string(), "device unplugged");
    }

    #[test]
    fn the_conversation_over_the_simulated_bridge_reads_identity_and_status() {
        let mut ups = Ups::with_channel(UsbChannel::new(SimBridge::new(), 3));
        let id = ups.identity().unwrap();
        assert_eq!(id.company.as_deref(), Some("REWIRE SIM"));
        assert_eq!(id.model.as_deref(), Some("MEC0003"));
        assert_eq!(id.firmware.as_deref(), Some("VSIM-1.0"));
        assert!(id.rated_voltage.is_some());
        let status = ups.status().unwrap().unwrap();
        assert_eq!(status.kind(), "status");
        assert_eq!(ups.link_name(), "usb");
        assert_eq!(ups.channel_mut().source_mut().reads, vec![0x0C, 0x0D, 0x03]);
    }

    fn quick() -> Confirm {
        Confirm {
            grace: Duration::from_millis(1),
            polls: 3,
            pause: Duration::from_millis(1),
        }
    }

    #[test]
    fn commands_over_the_simulated_bridge_are_confirmed_by_q1() {
        let mut ups = Ups::with_channel(UsbChannel::new(SimBridge::new(), 3));
        let cases = [
            (Command::ToggleBeeper, 0x07),
            (Command::ToggleBeeper, 0x07),
            (
                Command::Shutdown {
                    delay: ShutdownDelay::from_tenths(5).unwrap(),
                    restore: Some(RestoreMinutes::new(0).unwrap()),
                },
                0x10,
            ),
            (Command::CancelShutdown, 0x0A),
            (
                Command::Shutdown {
                    delay: ShutdownDelay::from_minutes(3).unwrap(),
                    restore: Some(RestoreMinutes::new(2).unwrap()),
                },
                0x88,
            ),
            (Command::CancelShutdown, 0x0A),
        ];
        for (cmd, index) in cases {
            ups.channel_mut().source_mut().reads.clear();
            let outcome = command(&mut ups, &cmd, &quick()).unwrap();
            assert!(
                matches!(outcome, CommandOutcome::Confirmed(_)),
                "{cmd}: {outcome:?}"
            );
            let reads = &ups.channel_mut().source_mut().reads;
            assert_eq!(reads.first(), Some(&0x03), "{cmd}: Q1 first");
            assert_eq!(reads.get(1), Some(&index), "{cmd}: then its index");
        }
        let log = &ups.channel_mut().source_mut().ups.log;
        assert_eq!(log.iter().filter(|c| c.starts_with('S')).count(), 2);
        // 0x88 is S03 with power returning; the bridge cannot say after how
        // long, so the simulated UPS got S03 (the R part is lost).
        assert!(log.contains(&"S03".to_owned()), "{log:?}");
    }

    #[test]
    fn tests_cannot_go_over_the_bridge_and_nothing_is_sent() {
        let mut ups = Ups::with_channel(UsbChannel::new(SimBridge::new(), 3));
        for cmd in [
            Command::Test,
            Command::TestUntilLow,
            Command::TestFor(TestMinutes::new(5).unwrap()),
            Command::CancelTest,
        ] {
            let outcome = command(&mut ups, &cmd, &quick()).unwrap();
            assert_eq!(outcome, CommandOutcome::Refused, "{cmd}");
        }
        let bridge = ups.channel_mut().source_mut();
        assert!(
            bridge.reads.iter().all(|&i| i == 0x03),
            "{:?}",
            bridge.reads
        );
        assert!(
            bridge.ups.log.iter().all(|c| c == "Q1"),
            "{:?}",
            bridge.ups.log
        );
    }

    #[test]
    fn a_silent_bridge_is_no_answer() {
        let mut ups = Ups::with_channel(script(&[]));
        let outcome = command(&mut ups, &Command::ToggleBeeper, &quick()).unwrap();
        assert_eq!(outcome, CommandOutcome::NoAnswer);
        assert_eq!(ups.channel_mut().source_mut().reads, vec![0x03; 3]);
    }

    /// The simulated bridge, silent for reads number `from..until`.
    struct Flaky {
        bridge: SimBridge,
        n: usize,
        silent: std::ops::Range<usize>,
    }

    impl DescriptorSource for Flaky {
        fn read_string(&mut self, index: u8) -> Result<Option<String>> {
            let n = self.n;
            self.n += 1;
            if self.silent.contains(&n) {
                return Ok(None);
            }
            self.bridge.read_string(index)
        }
    }

    #[test]
    fn polling_over_the_bridge_publishes_status_and_usb_link_changes() {
        use crate::hub::Hub;
        use crate::message::Message;
        use rewire_host::sink::Sink;
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Mutex};

        struct Collect(Arc<Mutex<Vec<Message>>>);
        impl Sink<Message> for Collect {
            fn name(&self) -> &str {
                "collect"
            }
            fn observe(&mut self, m: &Message) {
                self.0.lock().unwrap().push(m.clone());
            }
        }

        // Reads: I, F, Q1 (answered), Q1 ×3 (silent), Q1 (answered).
        let source = Flaky {
            bridge: SimBridge::new(),
            n: 0,
            silent: 3..6,
        };
        let mut ups = Ups::with_channel(UsbChannel::new(source, 3));
        let hub = Hub::new("ups");
        let seen = Arc::new(Mutex::new(Vec::new()));
        hub.add_sink(Collect(Arc::clone(&seen)), 64);
        let stop = AtomicBool::new(false);
        let summary = crate::ups::poll(
            &mut ups,
            "usb 0001:0000",
            Duration::from_millis(1),
            Some(3),
            &hub,
            &stop,
        )
        .unwrap();
        assert_eq!((summary.polls, summary.answered), (3, 2));
        hub.close();
        let id = hub.shared().lock().identity.clone();
        assert_eq!(id.model.as_deref(), Some("MEC0003"));
        let messages = seen.lock().unwrap();
        let kinds: Vec<&str> = messages.iter().map(|m| m.body.kind()).collect();
        assert_eq!(
            kinds,
            ["status", "connection_lost", "connection_restored", "status"]
        );
        let crate::message::Body::Link(lost) = &messages[1].body else {
            panic!()
        };
        assert_eq!(lost.link, "usb");
        assert_eq!(lost.peer.as_deref(), Some("usb 0001:0000"));
        let reads = &ups.channel_mut().source_mut().bridge.reads;
        assert_eq!(
            reads,
            &[0x0C, 0x0D, 0x03, 0x03],
            "silent reads never reach the bridge"
        );
    }

    #[test]
    fn string_descriptors_decode_like_libusb_ascii() {
        // bLength 10, STRING, "(2" "3" "\r" in UTF-16LE.
        let raw = [10, 3, b'(', 0, b'2', 0, b'3', 0, b'\r', 0];
        assert_eq!(decode_string_descriptor(&raw).as_deref(), Some("(23\r"));
        // A unit outside ASCII becomes '?'; bytes past bLength are ignored.
        let raw = [8, 3, b'#', 0, 0xE4, 0, 0xAC, 0x20, 0xFF, 0xFF];
        assert_eq!(decode_string_descriptor(&raw).as_deref(), Some("#??"));
        assert_eq!(decode_string_descriptor(&[2, 3]).as_deref(), Some(""));
        // An odd trailing byte is dropped.
        assert_eq!(decode_string_descriptor(&[3, 3, b'x']).as_deref(), Some(""));
        assert_eq!(decode_string_descriptor(&[]), None, "too short");
        assert_eq!(
            decode_string_descriptor(&[4, 2, b'x', 0]),
            None,
            "not STRING"
        );
        assert_eq!(
            decode_string_descriptor(&[6, 3, b'x', 0]),
            None,
            "bLength too big"
        );
        assert_eq!(decode_string_descriptor(&[1, 3]), None, "bLength too small");
    }

    #[test]
    fn the_first_langid_comes_from_descriptor_zero() {
        assert_eq!(first_langid(&[4, 3, 0x09, 0x04]), Some(0x0409));
        assert_eq!(first_langid(&[6, 3, 0x07, 0x04, 0x09, 0x04]), Some(0x0407));
        assert_eq!(first_langid(&[2, 3]), None, "no language listed");
        assert_eq!(first_langid(&[4, 1, 0x09, 0x04]), None, "not STRING");
        assert_eq!(first_langid(&[6, 3, 0x09, 0x04]), None, "truncated");
    }
}
