//! The live PCU master: build a request, send it, wait for the matching
//! reply with the transport's [`Requester`] (timeout, retries), and judge
//! the answer.

use std::fmt;
use std::io::Write as _;
use std::time::SystemTime;

use rewire_powerone::{
    DateTime, Frame, FunctionCode, MAX_DATA_LEN, PC_ADDRESS, Password, PasswordCheck, Repr,
};
use rewire_transport::framing::{Framer, Message as Framed, PowerOne};
use rewire_transport::link::{LinkError, LinkErrorKind, Outcome, RequestPolicy, Requester};

use rewire_host::reading::DeviceId;

use crate::link::Link;
use crate::message::{Body, Codes, FrameSeen, Message, Seen, Way, device};

/// What to ask the PCU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Set its clock (function 0x07).
    SetTime(DateTime),
    /// Set its password (function 0x08); ASCII digits.
    SetPassword(String),
    /// Check a password with the given function code (the evidence does
    /// not name it); the PCU answers 0x01 right or 0x00 wrong.
    VerifyPassword {
        /// The verify-password function code.
        function: u8,
        /// ASCII digits.
        password: String,
    },
    /// Send any function with raw data.
    Send {
        /// Function code.
        function: u8,
        /// Data bytes (at most 247).
        data: Vec<u8>,
        /// Whether to set the reply flag and wait for the answer.
        reply: bool,
    },
}

/// Why an action cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionError(pub String);

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ActionError {}

impl Action {
    /// Returns the function code the request carries.
    #[must_use]
    pub fn function(&self) -> FunctionCode {
        match self {
            Self::SetTime(_) => FunctionCode::SET_DATE_TIME,
            Self::SetPassword(_) => FunctionCode::SET_PASSWORD,
            Self::VerifyPassword { function, .. } | Self::Send { function, .. } => {
                FunctionCode(*function)
            }
        }
    }

    /// Returns whether this action may change the PCU, so needs a
    /// confirmation: set-time, set-password, and `send` with the reply flag
    /// (a frame the PCU acts on; what an unnamed function does is unknown).
    #[must_use]
    pub fn changes_pcu(&self) -> bool {
        match self {
            Self::SetTime(_) | Self::SetPassword(_) => true,
            Self::VerifyPassword { .. } => false,
            Self::Send { reply, .. } => *reply,
        }
    }

    /// Returns whether the PCU is expected to answer.
    #[must_use]
    pub fn wants_reply(&self) -> bool {
        !matches!(self, Self::Send { reply: false, .. })
    }

    /// Describes the action for a confirmation prompt.
    #[must_use]
    pub fn describe(&self, addr: u8) -> String {
        match self {
            Self::SetTime(t) => format!("set the clock of PCU {addr:#04x} to {t}"),
            Self::SetPassword(p) => format!("set the password of PCU {addr:#04x} to {p}"),
            Self::VerifyPassword { function, .. } => {
                format!("verify a password with PCU {addr:#04x} (function {function:#04x})")
            }
            Self::Send { function, data, .. } => format!(
                "send function {function:#04x} with {} data bytes to PCU {addr:#04x}",
                data.len()
            ),
        }
    }

    /// Returns the request frame's bytes for module `addr`.
    ///
    /// # Errors
    /// [`ActionError`] when a password is not 1..=247 ASCII digits or the
    /// data is longer than 247 bytes.
    pub fn request(&self, addr: u8) -> Result<Vec<u8>, ActionError> {
        let mut data = Vec::new();
        let mut reply = true;
        match self {
            Self::SetTime(t) => {
                let mut buf = [0u8; DateTime::LEN];
                let n = t.emit(&mut buf).map_err(|e| ActionError(e.to_string()))?;
                data.extend_from_slice(buf.get(..n).unwrap_or_default());
            }
            Self::SetPassword(p) | Self::VerifyPassword { password: p, .. } => {
                let password = Password::new(p.as_bytes())
                    .map_err(|e| ActionError(format!("password {p:?}: {e}")))?;
                data.extend_from_slice(password.as_bytes());
            }
            Self::Send {
                data: d, reply: r, ..
            } => {
                if d.len() > MAX_DATA_LEN {
                    return Err(ActionError(format!(
                        "{} data bytes: a frame carries at most {MAX_DATA_LEN}",
                        d.len()
                    )));
                }
                data.extend_from_slice(d);
                reply = *r;
            }
        }
        let mut repr = Repr::request(addr, self.function(), &data);
        if !reply {
            repr.reply_flag = rewire_powerone::NO_REPLY;
        }
        let mut out = vec![0u8; repr.buffer_len()];
        let n = repr
            .emit(&mut out)
            .map_err(|e| ActionError(e.to_string()))?;
        out.truncate(n);
        Ok(out)
    }

    /// Returns the codes records should use to decode this action's frames.
    #[must_use]
    pub fn codes(&self) -> Codes {
        Codes {
            verify_password: match self {
                Self::VerifyPassword { function, .. } => Some(*function),
                _ => None,
            },
        }
    }
}

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The PCU answered as expected (or nothing was expected).
    Done {
        /// Attempts it took (0 when no answer was expected).
        attempts: u32,
    },
    /// The PCU answered negatively (a wrong password).
    Negative(String),
    /// A reply came whose data this action cannot read.
    BadAnswer(String),
    /// No matching reply after every attempt.
    NoAnswer {
        /// Attempts made.
        attempts: u32,
    },
}

/// Returns `N thing` with the plural `s` when N is not 1 (`1 attempt`,
/// `3 attempts`).
#[must_use]
pub fn count(n: u32, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// Why an action could not be run.
#[derive(Debug)]
pub enum MasterError {
    /// The request cannot be built.
    Action(ActionError),
    /// The link failed.
    Link(LinkError),
}

impl fmt::Display for MasterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Action(e) => e.fmt(f),
            Self::Link(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for MasterError {
    // Each variant shows its own text; the link error's cause is its source.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Action(_) => None,
            Self::Link(e) => e.source(),
        }
    }
}

impl From<ActionError> for MasterError {
    fn from(e: ActionError) -> Self {
        Self::Action(e)
    }
}

impl From<LinkError> for MasterError {
    fn from(e: LinkError) -> Self {
        Self::Link(e)
    }
}

/// What a finished action produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// How it ended.
    pub verdict: Verdict,
    /// Bytes skipped as garbage (noise, bad checksums) while waiting.
    pub garbage_bytes: u64,
}

/// Returns whether `message` answers `request`: same function, from the
/// module the request went to, to the PC.
#[must_use]
pub fn is_reply_to(request: &[u8], message: &[u8]) -> bool {
    let req = Frame::new_unchecked(request);
    let msg = Frame::new_unchecked(message);
    msg.check_len().is_ok()
        && msg.function() == req.function()
        && msg.source() == req.destination()
        && msg.destination() == PC_ADDRESS
}

/// Talks to one PCU over a link: one action at a time, each bounded by the
/// request policy (timeout × attempts), so it needs no stop flag.
///
/// ```no_run
/// use rewire_powerone_host::link::{LinkSpec, open_link};
/// use rewire_powerone_host::master::{Action, Master};
/// use rewire_transport::link::RequestPolicy;
///
/// let spec = LinkSpec::Tcp { target: "127.0.0.1:4001".into() };
/// let link = open_link(&spec, std::time::Duration::from_secs(1))?;
/// let mut master = Master::new(link, &spec.to_string(), 1, RequestPolicy::default());
/// let t = rewire_powerone::DateTime::new(2011, 3, 15, 15, 13)?;
/// let report = master.run(&Action::SetTime(t), &mut |m| println!("{m:?}"))?;
/// println!("{:?}", report.verdict);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Master {
    requester: Requester<Box<dyn Link>, PowerOne>,
    addr: u8,
    device: DeviceId,
}

impl fmt::Debug for Master {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Master").field("addr", &self.addr).finish()
    }
}

impl Master {
    /// Wraps an open link to module `addr`; `endpoint` names it in errors
    /// and in the messages' device id.
    pub fn new(link: Box<dyn Link>, endpoint: &str, addr: u8, policy: RequestPolicy) -> Self {
        Self {
            requester: Requester::new(link, Framer::new(PowerOne), endpoint).with_policy(policy),
            addr,
            device: device(format!("{endpoint}#{addr}")),
        }
    }

    fn emit(&self, frame: FrameSeen, direction: Way, out: &mut dyn FnMut(Message)) {
        out(Message {
            device: self.device.clone(),
            seen: Seen {
                ts: Some(SystemTime::now()),
                direction: Some(direction),
                ..Seen::default()
            },
            body: Body::Frame(frame),
        });
    }

    /// Runs `action`: reports the request (`tx`), then every frame
    /// received while waiting (`rx`; frames that are not the reply carry the
    /// note `unexpected`, or `echo` for our own request heard back), and
    /// judges the reply.
    ///
    /// # Errors
    /// [`MasterError::Action`] when the request cannot be built;
    /// [`MasterError::Link`] when the link fails.
    pub fn run(
        &mut self,
        action: &Action,
        out: &mut dyn FnMut(Message),
    ) -> Result<Report, MasterError> {
        let request = action.request(self.addr)?;
        let codes = action.codes();
        self.emit(FrameSeen::new(request.clone(), None, codes), Way::Tx, out);
        if !action.wants_reply() {
            let endpoint = format!("{:#04x}", self.addr);
            let link = self.requester.link_mut();
            link.write_all(&request)
                .and_then(|()| link.flush())
                .map_err(|e| LinkError::with_source(LinkErrorKind::Write, endpoint, e))?;
            return Ok(Report {
                verdict: Verdict::Done { attempts: 0 },
                garbage_bytes: 0,
            });
        }
        let exchange = self
            .requester
            .request(&request, |m: &Framed| is_reply_to(&request, &m.bytes))?;
        for other in exchange.unexpected {
            let note = if other.bytes == request {
                "echo"
            } else {
                "unexpected"
            };
            let frame = FrameSeen::new(other.bytes, None, codes).with_note(note);
            self.emit(frame, Way::Rx, out);
        }
        let verdict = match exchange.outcome {
            Outcome::NoReply { attempts } => Verdict::NoAnswer { attempts },
            Outcome::Reply { message, attempts } => {
                let verdict = judge(action, &message.bytes, attempts);
                self.emit(FrameSeen::new(message.bytes, None, codes), Way::Rx, out);
                verdict
            }
        };
        Ok(Report {
            verdict,
            garbage_bytes: exchange.garbage_bytes,
        })
    }
}

/// Judges a reply's data: a verify-password answer is right or wrong; the
/// other actions only need the reply to arrive.
fn judge(action: &Action, reply: &[u8], attempts: u32) -> Verdict {
    let Action::VerifyPassword { .. } = action else {
        return Verdict::Done { attempts };
    };
    let data = Frame::new_unchecked(reply).into_data();
    match PasswordCheck::parse(data) {
        Ok(PasswordCheck::Right) => Verdict::Done { attempts },
        Ok(PasswordCheck::Wrong) => Verdict::Negative("the PCU says the password is wrong".into()),
        Err(e) => Verdict::BadAnswer(format!(
            "the answer's data {} is not a password check: {e}",
            hex::encode(data)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_match_the_article() {
        let t = DateTime::new(2011, 3, 15, 15, 13).unwrap();
        assert_eq!(
            Action::SetTime(t).request(1).unwrap(),
            [
                0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F
            ]
        );
        assert_eq!(
            Action::SetPassword("8888".into()).request(1).unwrap(),
            [
                0xFF, 0x0C, 0x01, 0x00, 0x01, 0x01, 0x08, 0x38, 0x38, 0x38, 0x38, 0xF6
            ]
        );
        let no_reply = Action::Send {
            function: 0x30,
            data: vec![],
            reply: false,
        }
        .request(2)
        .unwrap();
        assert_eq!(no_reply[4], 0x00);
        assert_eq!(no_reply[2], 0x02);
        assert!(Action::SetPassword("88a8".into()).request(1).is_err());
        assert!(
            Action::Send {
                function: 1,
                data: vec![0; 248],
                reply: true
            }
            .request(1)
            .is_err()
        );
    }

    #[test]
    fn reply_matching_needs_function_and_both_addresses() {
        let req = Action::SetTime(DateTime::new(2011, 3, 15, 15, 13).unwrap())
            .request(1)
            .unwrap();
        let reply = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];
        assert!(is_reply_to(&req, &reply));
        // Another function, another module, or not to the PC: no match.
        assert!(!is_reply_to(
            &req,
            &[0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x08, 0x11]
        ));
        assert!(!is_reply_to(
            &req,
            &[0xFF, 0x08, 0x00, 0x02, 0x00, 0x01, 0x07, 0x11]
        ));
        assert!(!is_reply_to(&req, &req));
    }

    #[test]
    fn confirmation_is_needed_only_for_changes() {
        let t = DateTime::new(2011, 3, 15, 15, 13).unwrap();
        assert!(Action::SetTime(t).changes_pcu());
        assert!(Action::SetPassword("1".into()).changes_pcu());
        let verify = Action::VerifyPassword {
            function: 0x20,
            password: "1".into(),
        };
        assert!(!verify.changes_pcu());
        let send = |reply| Action::Send {
            function: 0x20,
            data: vec![],
            reply,
        };
        assert!(send(true).changes_pcu());
        assert!(!send(false).changes_pcu());
    }

    #[test]
    fn counts_are_pluralised() {
        assert_eq!(count(1, "attempt"), "1 attempt");
        assert_eq!(count(3, "attempt"), "3 attempts");
        assert_eq!(count(0, "attempt"), "0 attempts");
    }

    #[test]
    fn verify_answers_are_judged() {
        let action = Action::VerifyPassword {
            function: 0x20,
            password: "8888".into(),
        };
        let frame = |d: u8| {
            let mut f = vec![0xFF, 0x09, 0x00, 0x01, 0x00, 0x01, 0x20, d, 0];
            f[8] = rewire_powerone::checksum(&f[..8]);
            f
        };
        assert_eq!(judge(&action, &frame(1), 2), Verdict::Done { attempts: 2 });
        assert!(matches!(judge(&action, &frame(0), 1), Verdict::Negative(_)));
        assert!(matches!(
            judge(&action, &frame(7), 1),
            Verdict::BadAnswer(_)
        ));
    }
}
