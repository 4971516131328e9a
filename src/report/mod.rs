//! Reports of load runs: the model behind `report.json` and the vocabulary
//! it counts in ([`model`]), how histograms are encoded in it ([`codec`]),
//! reading and writing it ([`json`]), gates ([`gate`]), and the other
//! renderings and tools of `otpbench report`.
//!
//! Nothing here runs load or touches the network; everything works on
//! [`Report`] values, so reports from several machines are handled the
//! same as one run's. This is the bottom layer: the load generator
//! (`src/load/`) writes reports and nothing here imports it.

pub(crate) mod codec;
pub mod commands;
pub mod compare;
pub mod dir;
pub mod gate;
pub(crate) mod hgrm;
pub mod html;
pub mod json;
pub mod markdown;
pub mod merge;
pub(crate) mod model;
pub(crate) mod plots;
pub(crate) mod table;
pub(crate) mod text;

pub use gate::{Gate, GateError};
pub use json::ReportError;
pub use model::{
    CapacityReport, CapacityStep, GateResult, GeneratorReport, OperationReport, Percentiles,
    Reference, Report, RunInfo, SeriesRow, Tally, Transport, VERSION,
};
