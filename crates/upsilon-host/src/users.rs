//! NUT users in `upsd.users` form: who may send instant commands, set
//! variables, and log in as `upsmon` primary or secondary.
//!
//! ```text
//! [admin]
//!     password = secret
//!     instcmds = all          # or a list: test.battery.start.quick, beeper.toggle
//!     actions = SET FSD
//! [monuser]
//!     password = pass
//!     upsmon primary          # or secondary (master/slave are the old names)
//! ```
//!
//! The format is NUT's `conf/upsd.users.sample` and `docs/man/upsd.users.txt`
//! (networkupstools/nut). Passwords are compared and never printed: the
//! `Debug` form of a [`User`] hides them.

use std::fmt;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// The `upsmon` role a user may claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsmonRole {
    /// `upsmon primary` (or `master`): may claim the primary role and set FSD.
    Primary,
    /// `upsmon secondary` (or `slave`): may log in and watch.
    Secondary,
}

/// One user of the users file.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The name (`[name]`).
    pub name: String,
    password: String,
    /// Instant commands allowed (`instcmds`), lower case; `all` allows every one.
    pub instcmds: Vec<String>,
    /// May `SET` variables (`actions = SET`).
    pub set: bool,
    /// May force a shutdown (`actions = FSD`, or `upsmon primary`).
    pub fsd: bool,
    /// The `upsmon` role, if any.
    pub upsmon: Option<UpsmonRole>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password", &"<hidden>")
            .field("instcmds", &self.instcmds)
            .field("set", &self.set)
            .field("fsd", &self.fsd)
            .field("upsmon", &self.upsmon)
            .finish()
    }
}

impl User {
    /// Reports whether `password` is this user's.
    #[must_use]
    pub fn password_is(&self, password: &str) -> bool {
        // Same work whatever the first difference: no early exit to time.
        let (a, b) = (self.password.as_bytes(), password.as_bytes());
        let mut diff = a.len() ^ b.len();
        for (i, x) in a.iter().enumerate() {
            diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
        }
        diff == 0
    }

    /// Reports whether the user may run the instant command `cmd`.
    #[must_use]
    pub fn may_run(&self, cmd: &str) -> bool {
        self.instcmds
            .iter()
            .any(|c| c == "all" || c.eq_ignore_ascii_case(cmd))
    }
}

/// The users of a users file; empty when none is given (then every write
/// is refused).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users(Vec<User>);

impl Users {
    /// Reads and parses the users file at `path`.
    ///
    /// # Errors
    /// When it cannot be read, or a line is not understood (the error names
    /// the file and the line number, never a password).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the NUT users file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("NUT users file {}", path.display()))
    }

    /// Parses users-file text.
    ///
    /// # Errors
    /// When a line is not understood (naming its number).
    pub fn parse(text: &str) -> Result<Self> {
        let mut users: Vec<User> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = strip_comment(raw).trim();
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[') {
                let Some(name) = name.strip_suffix(']') else {
                    bail!("line {n}: a section starts with [ and ends with ]");
                };
                let name = name.trim();
                if name.is_empty() {
                    bail!("line {n}: empty user name");
                }
                users.push(User {
                    name: name.to_owned(),
                    password: String::new(),
                    instcmds: Vec::new(),
                    set: false,
                    fsd: false,
                    upsmon: None,
                });
                continue;
            }
            let Some(user) = users.last_mut() else {
                bail!("line {n}: a setting before the first [user] section");
            };
            let (key, value) = match line.split_once('=') {
                Some((k, v)) => (k.trim(), unquote(v.trim())),
                None => match line.split_once(char::is_whitespace) {
                    Some((k, v)) => (k.trim(), unquote(v.trim())),
                    None => (line, String::new()),
                },
            };
            match key.to_ascii_lowercase().as_str() {
                "password" => user.password = value,
                "instcmds" => user.instcmds.extend(
                    value
                        .split([',', ' ', '\t'])
                        .filter(|c| !c.is_empty())
                        .map(str::to_ascii_lowercase),
                ),
                "actions" => {
                    for a in value.split([',', ' ', '\t']).filter(|a| !a.is_empty()) {
                        match a.to_ascii_uppercase().as_str() {
                            "SET" => user.set = true,
                            "FSD" => user.fsd = true,
                            other => bail!("line {n}: unknown action {other:?} (SET, FSD)"),
                        }
                    }
                }
                "upsmon" => {
                    let role = match value.to_ascii_lowercase().as_str() {
                        "primary" | "master" => UpsmonRole::Primary,
                        "secondary" | "slave" => UpsmonRole::Secondary,
                        other => bail!(
                            "line {n}: upsmon {other:?}: use primary or secondary (master/slave)"
                        ),
                    };
                    if role == UpsmonRole::Primary {
                        user.fsd = true;
                    }
                    user.upsmon = Some(role);
                }
                other => bail!("line {n}: unknown setting {other:?}"),
            }
        }
        Ok(Users(users))
    }

    /// Returns the user `name` when `password` is theirs.
    #[must_use]
    pub fn check(&self, name: &str, password: &str) -> Option<&User> {
        self.0
            .iter()
            .find(|u| u.name == name)
            .filter(|u| !u.password.is_empty() && u.password_is(password))
    }

    /// Reports whether no user is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return line.get(..i).unwrap_or(line),
            _ => {}
        }
    }
    line
}

fn unquote(v: &str) -> String {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# users\n[admin]\n  password = \"se#cret\"\n  instcmds = all\n  actions = SET\n\
        [mon]\n password=pass # comment\n upsmon master\n[tester]\n password = t\n instcmds = test.battery.start.quick\n instcmds = beeper.toggle\n";

    #[test]
    fn parses_upsd_users() {
        let u = Users::parse(FILE).unwrap();
        let admin = u.check("admin", "se#cret").unwrap();
        assert!(admin.set && !admin.fsd && admin.may_run("load.off"));
        assert!(u.check("admin", "se#cre").is_none());
        assert!(u.check("admin", "").is_none());
        let mon = u.check("mon", "pass").unwrap();
        assert_eq!(mon.upsmon, Some(UpsmonRole::Primary));
        assert!(mon.fsd && !mon.set && !mon.may_run("beeper.toggle"));
        let t = u.check("tester", "t").unwrap();
        assert!(t.may_run("Beeper.Toggle") && !t.may_run("load.off"));
        assert!(!format!("{admin:?}").contains("se#cret"));
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        for (bad, says) in [
            ("password = x\n", "line 1"),
            ("[a\n", "line 1"),
            ("[a]\nfoo = 1\n", "line 2: unknown setting"),
            ("[a]\nupsmon boss\n", "line 2"),
            ("[a]\nactions = REBOOT\n", "line 2"),
        ] {
            let e = Users::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        let e = Users::parse("[a]\npassword = hunter2\nfoo\n").unwrap_err();
        assert!(!format!("{e:#}").contains("hunter2"));
    }
}
