//! Serial ports with typed settings.

use std::fmt;
use std::time::Duration;

use serialport::SerialPort;

use super::{LinkError, LinkErrorKind};

/// Bits per character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataBits {
    /// 5 bits.
    Five,
    /// 6 bits.
    Six,
    /// 7 bits.
    Seven,
    /// 8 bits.
    Eight,
}

/// Parity bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Parity {
    /// No parity bit (`N`).
    None,
    /// Odd parity (`O`).
    Odd,
    /// Even parity (`E`).
    Even,
}

/// Stop bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopBits {
    /// One stop bit.
    One,
    /// Two stop bits.
    Two,
}

/// Flow control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowControl {
    /// None.
    None,
    /// XON/XOFF.
    Software,
    /// RTS/CTS.
    Hardware,
}

/// Everything needed to open a serial port; `Display` shows `9600 8N1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SerialSettings {
    /// Baud rate.
    pub baud: u32,
    /// Bits per character.
    pub data_bits: DataBits,
    /// Parity.
    pub parity: Parity,
    /// Stop bits.
    pub stop_bits: StopBits,
    /// Flow control.
    pub flow: FlowControl,
    /// How long one read waits for bytes before timing out.
    pub read_timeout: Duration,
}

impl SerialSettings {
    /// Power-One PCU: 9600 8N1, no flow control, 100 ms read timeout.
    pub const POWERONE: Self = Self::new_8n1(9600);

    /// Megatec UPS (UPSilon): 2400 8N1, no flow control, 100 ms read timeout.
    pub const MEGATEC: Self = Self::new_8n1(2400);

    /// Returns `baud` 8N1 without flow control and a 100 ms read timeout.
    #[must_use]
    pub const fn new_8n1(baud: u32) -> Self {
        Self {
            baud,
            data_bits: DataBits::Eight,
            parity: Parity::None,
            stop_bits: StopBits::One,
            flow: FlowControl::None,
            read_timeout: Duration::from_millis(100),
        }
    }

    /// Returns these settings with another read timeout.
    #[must_use]
    pub const fn with_read_timeout(mut self, read_timeout: Duration) -> Self {
        self.read_timeout = read_timeout;
        self
    }
}

impl fmt::Display for SerialSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = match self.data_bits {
            DataBits::Five => 5,
            DataBits::Six => 6,
            DataBits::Seven => 7,
            DataBits::Eight => 8,
        };
        let parity = match self.parity {
            Parity::None => 'N',
            Parity::Odd => 'O',
            Parity::Even => 'E',
        };
        let stop = match self.stop_bits {
            StopBits::One => 1,
            StopBits::Two => 2,
        };
        write!(f, "{} {bits}{parity}{stop}", self.baud)?;
        match self.flow {
            FlowControl::None => Ok(()),
            FlowControl::Software => f.write_str(" xon/xoff"),
            FlowControl::Hardware => f.write_str(" rts/cts"),
        }
    }
}

impl From<DataBits> for serialport::DataBits {
    fn from(value: DataBits) -> Self {
        match value {
            DataBits::Five => Self::Five,
            DataBits::Six => Self::Six,
            DataBits::Seven => Self::Seven,
            DataBits::Eight => Self::Eight,
        }
    }
}

impl From<Parity> for serialport::Parity {
    fn from(value: Parity) -> Self {
        match value {
            Parity::None => Self::None,
            Parity::Odd => Self::Odd,
            Parity::Even => Self::Even,
        }
    }
}

impl From<StopBits> for serialport::StopBits {
    fn from(value: StopBits) -> Self {
        match value {
            StopBits::One => Self::One,
            StopBits::Two => Self::Two,
        }
    }
}

impl From<FlowControl> for serialport::FlowControl {
    fn from(value: FlowControl) -> Self {
        match value {
            FlowControl::None => Self::None,
            FlowControl::Software => Self::Software,
            FlowControl::Hardware => Self::Hardware,
        }
    }
}

/// Opens the serial port at `path` with `settings`.
///
/// # Errors
///
/// [`LinkErrorKind::OpenSerial`] naming the path (missing device, busy,
/// permission denied, or settings the port rejects).
pub fn open_serial(
    path: &str,
    settings: &SerialSettings,
) -> Result<Box<dyn SerialPort>, LinkError> {
    serialport::new(path, settings.baud)
        .data_bits(settings.data_bits.into())
        .parity(settings.parity.into())
        .stop_bits(settings.stop_bits.into())
        .flow_control(settings.flow.into())
        .timeout(settings.read_timeout)
        .open()
        .map_err(|e| LinkError::with_source(LinkErrorKind::OpenSerial, path, e))
}

/// Applies `settings` to a port that is already open (for example one end
/// of a pseudo-terminal pair); `name` names it in errors.
///
/// # Errors
///
/// [`LinkErrorKind::Configure`] naming the port if it rejects a setting.
pub fn apply_settings(
    port: &mut dyn SerialPort,
    settings: &SerialSettings,
    name: &str,
) -> Result<(), LinkError> {
    let configure = |port: &mut dyn SerialPort| -> serialport::Result<()> {
        port.set_baud_rate(settings.baud)?;
        port.set_data_bits(settings.data_bits.into())?;
        port.set_parity(settings.parity.into())?;
        port.set_stop_bits(settings.stop_bits.into())?;
        port.set_flow_control(settings.flow.into())?;
        port.set_timeout(settings.read_timeout)
    };
    configure(port).map_err(|e| LinkError::with_source(LinkErrorKind::Configure, name, e))
}

/// A pseudo-terminal pair standing in for a serial line (Unix only): the
/// simulators serve the master side and clients open [`Pty::path`] as if it
/// were a serial port.
#[cfg(unix)]
#[derive(Debug)]
pub struct Pty {
    master: serialport::TTYPort,
    // Kept open: a pty whose slave side is closed reports hang-ups.
    _slave: serialport::TTYPort,
    path: String,
}

#[cfg(unix)]
impl Pty {
    /// Opens a pseudo-terminal pair whose master side reads with `timeout`.
    ///
    /// # Errors
    /// [`LinkErrorKind::OpenSerial`] if the system has none to give,
    /// [`LinkErrorKind::Configure`] if the timeout cannot be set.
    pub fn open(timeout: Duration) -> Result<Self, LinkError> {
        let (mut master, slave) = serialport::TTYPort::pair()
            .map_err(|e| LinkError::with_source(LinkErrorKind::OpenSerial, "pty", e))?;
        let path = slave.name().unwrap_or_default();
        master
            .set_timeout(timeout)
            .map_err(|e| LinkError::with_source(LinkErrorKind::Configure, &path, e))?;
        Ok(Self {
            master,
            _slave: slave,
            path,
        })
    }

    /// Returns the device path clients open (`/dev/pts/N`).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Returns the master side, to read and write as the device.
    pub fn master(&mut self) -> &mut serialport::TTYPort {
        &mut self.master
    }
}
