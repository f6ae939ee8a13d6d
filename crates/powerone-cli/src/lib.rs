//! The library behind the `powerone` command: the record model shared by
//! every mode, the live PCU master, the passive tap and the PCU simulator.
#![forbid(unsafe_code)]

pub mod record;
pub mod stream;
