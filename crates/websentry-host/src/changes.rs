//! `websentry decode --changes`: only the property changes, the original
//! exporter's change log made readable.
//!
//! The rule is the original's (bradfitz/websentry-mitm-prometheus-exporter,
//! `wmpe.go`, `notePropertyValue`): every value of a unit's query answer is
//! noted by property id, across sessions; a value whose bytes (type byte
//! and body) differ from the last ones noted for its id — or the first one
//! seen — is a change. One line per change:
//!
//! ```text
//! 2024-01-20 18:39:54.264483Z 0x0600 humidity changed - => 53.4 %
//! 2024-01-20 18:40:58.120004Z 0x0600 humidity changed 53.4 % => 53.2 %
//! 2024-01-20 18:40:58.120004Z 0x2503 - changed 32 (4-32 by 1) => 90 (40-90 by 1)
//! ```
//!
//! time of the frame (a raw log's session start), the id, the registry
//! name (`-` when unnamed), the value before (`-` for the first one seen)
//! and after, each as the `text` of a decoded record plus its unit.
//!
//! Values are compared as bytes through the lazy walk
//! ([`rewire_websentry::Items`]); text is made only for the changes, which
//! is what makes this faster than decoding every record.

use std::io::{self, Write};
use std::time::SystemTime;

use rewire_host::FastHashMap as HashMap;
use rewire_websentry::{Frame, FunctionCode, registry};

use crate::frame::Sender;
use crate::record::value_text_into;

/// The change log's state: the last bytes and text of every property id.
#[derive(Debug, Default)]
pub struct ChangeLog {
    /// Per id: the value's bytes (type and body) and its text, as last seen.
    last: HashMap<u16, (Vec<u8>, String)>,
    /// The line being written, reused.
    line: String,
    /// The last time formatted, and its text (a raw log's frames share
    /// their session's time).
    time: Option<(SystemTime, String)>,
}

impl ChangeLog {
    /// Creates a change log that has seen nothing.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns how many property ids have a value noted (at most 65 536,
    /// whatever the size of the input).
    #[must_use]
    pub fn properties(&self) -> usize {
        self.last.len()
    }

    /// Notes the values of one frame sent by `sender` at `ts` (only a
    /// unit's query answers carry them), writing a line per change to `out`.
    ///
    /// # Errors
    /// Returns `out`'s I/O error.
    pub fn frame<W: Write>(
        &mut self,
        ts: Option<SystemTime>,
        sender: Option<Sender>,
        bytes: &[u8],
        out: &mut W,
    ) -> io::Result<()> {
        if sender != Some(Sender::Client) {
            return Ok(());
        }
        let Ok(frame) = Frame::new_checked(bytes) else {
            return Ok(());
        };
        if frame.function() != FunctionCode::QUERY {
            return Ok(());
        }
        // The values before a bad item count, as the original notes each
        // value as it parses it.
        for item in frame.items().map_while(Result::ok) {
            let body = item.body();
            let id = item.id();
            let same = self
                .last
                .get(&id)
                .is_some_and(|(was, _)| was.split_first() == Some((&item.type_code(), body)));
            if same {
                continue;
            }
            let entry = registry::property(id);
            let mut now = String::new();
            value_text_into(&mut now, id, &item.value());
            if let Some(unit) = entry.and_then(|p| p.unit) {
                now.push(' ');
                now.push_str(unit);
            }
            let slot = self.last.entry(id).or_default();
            self.line.clear();
            if let Some(ts) = ts {
                if self.time.as_ref().is_none_or(|(t, _)| *t != ts) {
                    use std::fmt::Write as _;
                    let mut text = String::new();
                    let secs = rewire_host::epoch_seconds(ts);
                    let _ = write!(text, "{} ", rewire_host::output::Timestamp(secs));
                    self.time = Some((ts, text));
                }
                if let Some((_, text)) = &self.time {
                    self.line.push_str(text);
                }
            }
            self.line.push_str("0x");
            for shift in [12, 8, 4, 0] {
                let digit = u32::from((id >> shift) & 0xf);
                self.line.push(char::from_digit(digit, 16).unwrap_or('0'));
            }
            self.line.push(' ');
            self.line.push_str(entry.map_or("-", |p| p.name));
            self.line.push_str(" changed ");
            self.line
                .push_str(if slot.0.is_empty() { "-" } else { &slot.1 });
            self.line.push_str(" => ");
            self.line.push_str(&now);
            self.line.push('\n');
            out.write_all(self.line.as_bytes())?;
            slot.0.clear();
            slot.0.push(item.type_code());
            slot.0.extend_from_slice(body);
            slot.1 = now;
        }
        Ok(())
    }
}
