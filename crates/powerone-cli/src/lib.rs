//! The library behind the `powerone` command: the record model shared by
//! every mode, the live PCU master, the passive tap and the PCU simulator.
#![forbid(unsafe_code)]

pub mod decode;
pub mod link;
pub mod master;
pub mod record;
pub mod simulator;
pub mod stream;
pub mod tap;
