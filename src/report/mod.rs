//! Reports of load runs: the model behind `report.json` ([`model`]), how
//! histograms are encoded in it ([`codec`]), building one from recorders
//! ([`build`]), reading and writing it ([`json`]), gates ([`gate`]), and
//! the other renderings and tools of `otpbench report`.
//!
//! Nothing here runs load or touches the network; everything works on
//! [`Report`] values, so reports from several machines are handled the
//! same as one run's.

pub mod build;
pub mod codec;
pub mod commands;
pub mod compare;
pub mod dir;
pub mod gate;
pub mod hgrm;
pub mod html;
pub mod json;
pub mod markdown;
pub mod merge;
pub mod model;
pub(crate) mod plots;
pub(crate) mod text;

pub use gate::{Gate, GateError, GateResult};
pub use json::ReportError;
pub use model::{
    CapacityReport, CapacityStep, GeneratorReport, OperationReport, Percentiles, Reference, Report,
    RunInfo, SeriesRow, VERSION,
};
