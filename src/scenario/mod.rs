//! Scenarios (DESIGN.md §5): YAML files that say, in abstract OTP steps,
//! what an implementation must do — written once, run against any target
//! in any dialect through the dialect's client side.
//!
//! The file format is separate from running it: `model` is what a file
//! says, `load` reads files (positions through the file's
//! [`crate::source::SourceMap`], whole-file checks), `template` the
//! `${…}` values (and `calc` the arithmetic they may hold), `matcher`
//! expected values with matchers, `variables` what is built in.
//! Running: `case` holds one case's state and carries it out, one step
//! kind per file of `step` (`request`, `inbox`, `wait`, `faults`),
//! `expect` judges answers (one function per expectation kind),
//! [`runner`] plans and schedules cases (the clock rule, skips),
//! [`render`] writes the results (human, JUnit, JSON), [`summary`] as
//! Markdown for a CI page and [`html`] as a self-contained page. The
//! file-format and running modules are private; what others use is
//! re-exported here. This module reaches targets only through
//! [`crate::client`], and speaks a dialect's rules (wrong codes,
//! recipients, code shapes, masking) through [`crate::dialect`].

mod calc;
mod case;
mod check;
mod expect;
pub mod html;
mod load;
mod matcher;
mod model;
pub mod render;
mod request;
pub mod runner;
mod step;
pub mod summary;
mod template;
// `check` draws recipients and wrong codes as scenarios do.
pub(crate) mod variables;

pub use case::{Failure, Limits};
pub use expect::Problem;
pub use load::{discover, load_file, parse};
pub use model::{Action, Scenario, Step};
pub use runner::{run, CaseReport, CaseStatus, RunError, RunOptions, RunReport};
pub use template::Template;
