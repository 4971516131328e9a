//! The load generator.
//!
//! Its core needs no network and reads no clock (callers pass
//! `Instant`s): load models and their arithmetic ([`schedule`]), splitting
//! a run between workers and generators ([`shard`]), per-worker recording
//! ([`recorder`]), the per-second series merged across workers
//! ([`series`]) and the capacity search ([`capacity`]).
//!
//! Around it, what runs load: the one worker loop for both models
//! (`worker`: lanes on a current-thread runtime per worker thread, and
//! `timer`, their sub-millisecond wait for an intended start), the phase
//! that starts, watches and joins the workers (`phase`), the workloads —
//! plain HTTP ([`http`]) and the OTP flow ([`flow`]), which reach targets
//! only through [`crate::client`] — workload files ([`mod@file`]), progress
//! output ([`progress`]) and the `load` / `capacity` commands
//! ([`command`]).

pub mod build;
pub mod capacity;
pub mod command;
pub mod file;
pub mod flow;
pub mod http;
pub(crate) mod phase;
pub mod progress;
pub(crate) mod recorder;
pub mod schedule;
pub(crate) mod series;
pub mod shard;
pub(crate) mod soak;
pub(crate) mod timer;
pub(crate) mod worker;

pub use crate::report::model::{latency_histogram, Tally, Transport};
pub use capacity::{search as capacity_search, CapacityPlan};
pub use recorder::{OpId, Operations, Recorder, RecorderError, Timing};
pub use schedule::{parse_rate, ClosedModel, Model, OpenModel, ScheduleError, Stage};
pub use series::{Progress, SeriesSink};
pub use shard::{Shard, ShardError, Slice};
