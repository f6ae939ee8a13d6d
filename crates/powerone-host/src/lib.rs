//! Power-One PCU on the host: everything the `powerone` tool does, as a
//! library without a command line.
//!
//! Power-One telecom power controllers (PCUs) speak HDLC-style frames
//! `FF len dst src reply 01 func data… sum` at 9600 8N1, over a serial line
//! or a TCP serial server (the parser is `rewire-powerone`, the links and
//! framer `rewire-transport`). This crate adds what a program beside the
//! PCU needs:
//!
//! - [`message`]: the typed [`Message`](message::Message) every mode
//!   reports (frames with their typed payload, skipped bytes, link events,
//!   simulator state changes); it implements
//!   [`Observation`](rewire_host::reading::Observation).
//! - [`decode`]: capture events (pcap, hex dumps, raw bytes) into messages.
//! - [`link`]: opening a serial port or a TCP serial server.
//! - [`master`]: building a request, sending it with timeout and retries,
//!   judging the answer.
//! - [`tap`]: the passive tap and the TCP relay, as a stoppable service.
//! - [`simulator`]: a simulated PCU on a pseudo-terminal or TCP, as a
//!   stoppable service.
//! - [`stream`]: framing one live byte stream into messages.
//! - [`record`]: the NDJSON and text records built from messages, and the
//!   [`RecordSink`](record::RecordSink) that writes them.
//! - [`tally`]: counters and readings for Prometheus.
//!
//! Outputs are [`rewire_host::sink::Sink`]s behind a
//! [`Fanout`](rewire_host::sink::Fanout); diagnostics go to the [`log`]
//! facade. Nothing here prints.
//!
//! ```
//! use rewire_host::sink::Fanout;
//! use rewire_powerone_host::master::{Action, Master};
//! use rewire_powerone_host::simulator::{Pcu, SimConfig, Simulator, local_now};
//! use rewire_powerone_host::link::{LinkSpec, open_link};
//! use rewire_transport::link::{Listener, RequestPolicy};
//!
//! let listener = Listener::bind("127.0.0.1:0")?;
//! let target = listener.local_addr().to_string();
//! let sim = Simulator::serve_tcp(listener, Pcu::new(SimConfig::default(), local_now()), Fanout::new())?;
//! let spec = LinkSpec::Tcp { target };
//! let link = open_link(&spec, std::time::Duration::from_secs(1))?;
//! let mut master = Master::new(link, &spec.to_string(), 1, RequestPolicy::default());
//! let report = master.run(&Action::SetPassword("1234".into()), &mut |_| {})?;
//! assert_eq!(sim.pcu().lock().unwrap().password(), "1234");
//! sim.shutdown();
//! # let _ = report;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod decode;
pub mod link;
pub mod master;
pub mod message;
pub mod record;
pub mod simulator;
pub mod stream;
pub mod tally;
pub mod tap;
