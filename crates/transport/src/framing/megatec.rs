//! Megatec reply lines: any CR-terminated line, whatever its first byte.

use super::{Framing, Step};

/// Frames the CR-terminated replies a Megatec UPS sends on its serial line,
/// whatever their shape: `(…` status, `#…` ratings and info, an echoed
/// command, `(ACK`/`(NAK`.
///
/// [`super::Upsilon`] only knows `(`-started status records; a conversation
/// with the UPS itself needs every line. Each message is the line **without**
/// its CR. CR, LF and NUL bytes before a line (a CR LF pair, NUL padding) are
/// passed over as skipped bytes, and an empty line is no message.
///
/// A line longer than the bound is discarded up to and including its CR, as
/// garbage: the framing remembers that it is inside such a line, so the tail
/// of an overlong line is never mistaken for a reply, however the stream is
/// split. The discard also ends when the line goes quiet
/// ([`crate::framing::Framer::idle`]: a UPS sends each reply in one burst)
/// or at end of stream. While discarding, the framing keeps the last byte
/// buffered so that those two hooks are reached.
///
/// ```
/// use rewire_transport::framing::{Event, Framer, Megatec};
///
/// let mut framer = Framer::new(Megatec::default());
/// framer.push(b"#REWIRE SIM      MEC0003    VSIM-1.0  \r(230.0 ")?;
/// match framer.next() {
///     Some(Event::Message(m)) => assert!(m.bytes.starts_with(b"#REWIRE")),
///     other => panic!("{other:?}"),
/// }
/// assert!(framer.next().is_none()); // the status line is not complete yet
/// # Ok::<(), rewire_transport::framing::FramingError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Megatec {
    max_line_len: usize,
    /// Inside a line that outgrew `max_line_len`: everything up to its CR is
    /// garbage.
    discarding: bool,
}

impl Megatec {
    /// Longest line kept by [`Megatec::default`], CR excluded: 128 bytes,
    /// well above the longest Megatec reply (the 47-byte status line, the
    /// 38-byte info line).
    pub const DEFAULT_MAX_LINE_LEN: usize = 128;

    /// Creates the framing with a bound on a line's length (CR excluded); a
    /// bound of 0 is taken as 1.
    #[must_use]
    pub const fn new(max_line_len: usize) -> Self {
        Self {
            max_line_len: if max_line_len == 0 { 1 } else { max_line_len },
            discarding: false,
        }
    }

    /// Returns the bound on a line's length (CR excluded).
    #[must_use]
    pub const fn max_line_len(&self) -> usize {
        self.max_line_len
    }

    /// Takes one step over `buf`: a line, a run of garbage that ends at a
    /// CR (so scanning may go on after it), or "wait for more bytes".
    fn inner(&mut self, buf: &[u8]) -> Inner {
        if self.discarding {
            return match buf.iter().position(|&b| b == b'\r') {
                Some(end) => {
                    self.discarding = false;
                    Inner::Drop(end.saturating_add(1))
                }
                None => Inner::Wait(buf.len().saturating_sub(1)),
            };
        }
        let lead = buf
            .iter()
            .take_while(|&&b| matches!(b, b'\r' | b'\n' | 0))
            .count();
        let rest = buf.get(lead..).unwrap_or_default();
        match rest.iter().position(|&b| b == b'\r') {
            Some(end) if end <= self.max_line_len => Inner::Line { lead, end },
            // Too long, but its end is here: drop it with its CR.
            Some(end) => Inner::Drop(lead.saturating_add(end).saturating_add(1)),
            None if rest.len() > self.max_line_len => {
                self.discarding = true;
                Inner::Wait(buf.len().saturating_sub(1))
            }
            None => Inner::Wait(lead),
        }
    }

    /// Steps over `buf` from `at` until a line is found or more bytes are
    /// needed; garbage dropped on the way is part of `skipped`.
    fn run(&mut self, buf: &[u8], mut at: usize) -> Step {
        loop {
            let rest = buf.get(at..).unwrap_or_default();
            match self.inner(rest) {
                Inner::Line { lead, end } => {
                    let start = at.saturating_add(lead);
                    return Step::Found {
                        skipped: start,
                        len: end.saturating_add(1),
                        message: start..start.saturating_add(end),
                    };
                }
                // Each drop takes at least one byte, so the loop ends.
                Inner::Drop(n) => at = at.saturating_add(n.max(1)),
                Inner::Wait(n) => {
                    return Step::Partial {
                        skipped: at.saturating_add(n).min(buf.len()),
                    };
                }
            }
        }
    }
}

/// One step of [`Megatec`]'s scan.
enum Inner {
    /// A line of `end` bytes after `lead` skipped bytes; its CR follows.
    Line { lead: usize, end: usize },
    /// This many bytes are garbage, ending with a CR: go on after them.
    Drop(usize),
    /// This many bytes are garbage; the rest may be the start of a line.
    Wait(usize),
}

impl Default for Megatec {
    /// Uses [`Megatec::DEFAULT_MAX_LINE_LEN`].
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_LINE_LEN)
    }
}

impl Framing for Megatec {
    fn scan(&mut self, buf: &[u8]) -> Step {
        self.run(buf, 0)
    }

    /// A silence ends an overlong line: what is buffered of it, up to a CR
    /// if one is there, is garbage. Outside one, the same as
    /// [`Framing::scan`].
    fn idle(&mut self, buf: &[u8]) -> Step {
        if !self.discarding {
            return self.run(buf, 0);
        }
        self.discarding = false;
        match buf.iter().position(|&b| b == b'\r') {
            Some(end) => self.run(buf, end.saturating_add(1)),
            None => Step::Partial { skipped: buf.len() },
        }
    }

    /// An unterminated last line is no reply; the stream's end also ends an
    /// overlong line, so the next stream starts afresh.
    fn finish(&mut self, buf: &[u8]) -> Step {
        let _ = buf;
        self.discarding = false;
        Step::Partial { skipped: 0 }
    }
}
