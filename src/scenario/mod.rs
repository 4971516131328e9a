//! Scenarios (DESIGN.md §5): YAML files that say, in abstract OTP steps,
//! what an implementation must do — written once, run against any target
//! in any dialect through the dialect's client side.
//!
//! The file format is separate from running it: [`model`] is what a file
//! says, [`load`] reads files (positions, whole-file checks),
//! [`template`] the `${…}` values (and `calc` the arithmetic they may
//! hold), [`matcher`] expected values with
//! matchers, [`variables`] what is built in. Running: [`run`] carries out
//! one case, [`expect`] judges answers, [`runner`] plans and schedules
//! cases (the clock rule, skips), [`render`] writes the results (human,
//! JUnit, JSON), [`summary`] as Markdown for a CI page and [`html`] as a
//! self-contained page. This module reaches targets only through
//! [`crate::client`].

mod calc;
mod check;
pub mod expect;
pub mod html;
pub mod load;
pub mod matcher;
pub mod model;
pub mod render;
mod request;
pub mod run;
pub mod runner;
pub mod summary;
pub mod template;
pub mod variables;

pub use model::{Action, Scenario, Step};
pub use runner::{run, CaseReport, CaseStatus, RunError, RunOptions, RunReport};
