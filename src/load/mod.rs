//! The load generator's core that needs no network: load models and their
//! arithmetic ([`schedule`]), splitting a run between workers and
//! generators ([`shard`]), per-worker recording ([`recorder`]), the
//! per-second series merged across workers ([`series`]) and the capacity
//! search ([`capacity`]).
//!
//! The worker loop, the HTTP executor and the CLI build on these; nothing
//! here opens a socket, sleeps or reads the clock (callers pass `Instant`s).

pub mod capacity;
pub mod recorder;
pub mod schedule;
pub mod series;
pub mod shard;

pub use capacity::{search as capacity_search, CapacityPlan};
pub use recorder::{
    latency_histogram, OpId, Operations, Recorder, RecorderError, Tally, Timing, Transport,
};
pub use schedule::{parse_rate, ClosedModel, Model, OpenModel, ScheduleError, Stage};
pub use series::{Progress, SecondRow, SeriesSink};
pub use shard::{Shard, ShardError, Slice};
