//! Workload files (`scenarios/load/*.yaml`): a load run written down —
//! what to load, the model and its stages, the OTP flow's pool, mix and
//! wrong-code ratio, the reference workload and the gates — so a run is
//! repeatable and reviewable. Every key is optional; a flag given on the
//! command line wins over the file's key. Values are read into typed
//! values here — rates, durations, stages, the mix, gates — so an unknown
//! key or a misspelt value is a [`FileError`] at `file:line:col`. The
//! format is documented in docs/load.md ("Workload files"); this module
//! only reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::client::CodeSource;
use crate::dialect::Dialect;
use crate::load::flow::Mix;
use crate::load::schedule::{parse_concurrency_stage, parse_rate_stage, Stage};
use crate::report::gate::Gate;
use crate::source::FileError;
use crate::vars::{Strings, Vars};

/// A workload file as written (values checked for form where read).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadFile {
    /// What reports call the run.
    pub name: Option<String>,
    /// Plain HTTP on this URL.
    pub url: Option<String>,
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    /// An OTP flow against the embedded engine in this dialect…
    pub dialect: Option<Dialect>,
    /// …or against the target this file names (relative to the workload
    /// file).
    pub target: Option<PathBuf>,
    /// Open model: `500`, `500/s`, `30000/m`.
    pub rate: Option<RateField>,
    /// Closed model: connections.
    pub concurrency: Option<u32>,
    pub duration: Option<DurationField>,
    /// `DURATION:TARGET`, ramping from `rate` / `concurrency`.
    #[serde(default)]
    pub stages: Vec<StageField>,
    /// Open model: requests (or flows) in flight at most.
    pub connections: Option<u32>,
    pub pool: Option<u64>,
    pub wrong_code_ratio: Option<f64>,
    pub purpose: Option<String>,
    pub mix: Option<MixField>,
    pub code_source: Option<CodeSource>,
    pub reference_url: Option<String>,
    #[serde(default)]
    pub thresholds: Vec<ThresholdField>,
    /// Why `stages` cannot ramp a closed model (a target that is not a
    /// whole number of connections), placed in the file; `None` when
    /// they can.
    #[serde(skip)]
    closed_stages: Option<FileError>,
}

/// One stage, `DURATION:TARGET`, checked when read: the target is a rate
/// (`500/s`, `500`), and when it is a whole number it can also be a
/// closed model's connections.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct StageField {
    /// As written, for the report.
    pub text: String,
    /// The stage of an open model.
    pub rate: Stage<f64>,
    /// The stage of a closed model, when the target is a whole number.
    pub connections: Option<Stage<u32>>,
}

impl TryFrom<String> for StageField {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let rate = parse_rate_stage(&text).map_err(|e| e.to_string())?;
        let connections = parse_concurrency_stage(&text).ok();
        Ok(StageField {
            text,
            rate,
            connections,
        })
    }
}

/// A closed-model stage, read only to place the first that is not one.
#[derive(Deserialize)]
#[serde(try_from = "String")]
struct ConnectionsStage;

impl TryFrom<String> for ConnectionsStage {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        parse_concurrency_stage(&text)
            .map(|_| ConnectionsStage)
            .map_err(|e| e.to_string())
    }
}

/// The file's stages as a closed model reads them.
#[derive(Deserialize)]
struct ClosedStages {
    #[serde(default)]
    #[allow(dead_code)] // read to be checked
    stages: Vec<ConnectionsStage>,
}

/// A gate (`send.p99<50ms`), checked when read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct ThresholdField(pub Gate);

impl TryFrom<String> for ThresholdField {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Gate::parse(&text).map(ThresholdField).map_err(|e| {
            format!(
                "invalid gate {:?} at column {}: {}",
                e.expression, e.column, e.reason
            )
        })
    }
}

/// A rate, checked when read.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "RateText")]
pub struct RateField(pub f64);

#[derive(Deserialize)]
#[serde(untagged)]
enum RateText {
    Number(f64),
    Text(String),
}

impl TryFrom<RateText> for RateField {
    type Error = String;
    fn try_from(value: RateText) -> Result<Self, String> {
        match value {
            RateText::Number(n) if n.is_finite() && n >= 0.0 => Ok(RateField(n)),
            RateText::Number(n) => Err(format!("`{n}`: a rate must be a number of 0 or more")),
            RateText::Text(text) => crate::load::schedule::parse_rate(&text)
                .map(RateField)
                .map_err(|e| e.to_string()),
        }
    }
}

/// A duration, checked when read.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct DurationField(pub std::time::Duration);

impl TryFrom<String> for DurationField {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        crate::duration::parse(&text)
            .map(DurationField)
            .map_err(|e| format!("`{text}`: {e}"))
    }
}

/// The mix of iteration kinds: weights of `flow` and `send`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, try_from = "MixWeights")]
pub struct MixField(pub Mix);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MixWeights {
    #[serde(default)]
    flow: u32,
    #[serde(default)]
    send: u32,
}

impl TryFrom<MixWeights> for MixField {
    type Error = String;
    fn try_from(w: MixWeights) -> Result<Self, String> {
        if w.flow == 0 && w.send == 0 {
            return Err("mix: give `flow` or `send` a weight above 0".into());
        }
        Ok(MixField(Mix {
            flow: w.flow,
            send: w.send,
        }))
    }
}

impl WorkloadFile {
    /// Reads a workload file, its `${env.…}` and `${var.…}` from `vars`;
    /// a `target:` is made relative to it.
    pub fn load(path: &Path, vars: &Vars) -> Result<WorkloadFile, FileError> {
        let origin = path.display().to_string();
        let text = crate::source::read(path)?;
        let text = vars.expand(&text, &origin, Strings::Literal)?;
        let mut file = WorkloadFile::parse(&text, &origin).map_err(|e| text.restore(e))?;
        file.closed_stages = file.closed_stages.map(|e| text.restore(e));
        if let (Some(target), Some(dir)) = (&file.target, path.parent()) {
            if target.is_relative() {
                file.target = Some(dir.join(target));
            }
        }
        Ok(file)
    }

    /// Reads workload text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<WorkloadFile, FileError> {
        let mut file: WorkloadFile = if text.trim().is_empty() {
            WorkloadFile::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| FileError::from_yaml(origin, text, &e))?
        };
        let what = [
            file.url.is_some(),
            file.dialect.is_some(),
            file.target.is_some(),
        ];
        if what.iter().filter(|&&given| given).count() > 1 {
            return Err(FileError::at(
                origin,
                text,
                None,
                "give one of `url`, `dialect` and `target`",
            ));
        }
        if file.rate.is_some() && file.concurrency.is_some() {
            return Err(FileError::at(
                origin,
                text,
                None,
                "give `rate` (open model) or `concurrency` (closed model), not both",
            ));
        }
        if let Some(ratio) = file.wrong_code_ratio {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(FileError::at(
                    origin,
                    text,
                    None,
                    format!("wrong_code_ratio: {ratio} is not between 0 and 1"),
                ));
            }
        }
        if file.duration.is_some() && !file.stages.is_empty() {
            return Err(FileError::at(
                origin,
                text,
                None,
                "give `duration` or `stages`, not both: the stages say how long the run lasts",
            ));
        }
        if file.stages.iter().any(|s| s.connections.is_none()) {
            let placed = match serde_yaml::from_str::<ClosedStages>(text) {
                Err(e) => FileError::from_yaml(origin, text, &e),
                Ok(_) => FileError::at(
                    origin,
                    text,
                    None,
                    "stages: a target is not a whole number of connections",
                ),
            };
            if file.concurrency.is_some() {
                return Err(placed);
            }
            file.closed_stages = Some(placed);
        }
        Ok(file)
    }

    /// The stages of an open model.
    pub fn rate_stages(&self) -> Vec<Stage<f64>> {
        self.stages.iter().map(|s| s.rate).collect()
    }

    /// The stages of a closed model; an error placed at the first stage
    /// whose target is not a whole number of connections.
    pub fn concurrency_stages(&self) -> Result<Vec<Stage<u32>>, FileError> {
        if let Some(error) = &self.closed_stages {
            return Err(error.clone());
        }
        Ok(self.stages.iter().filter_map(|s| s.connections).collect())
    }

    /// The stages as written.
    pub fn stage_texts(&self) -> Vec<String> {
        self.stages.iter().map(|s| s.text.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_reads_and_none_is_required() {
        let file = WorkloadFile::parse(
            "dialect: loyaltydog\nrate: 30000/m\nstages: [10s:500/s, '20s:500/s']\n\
             pool: 100\nmix: {flow: 9, send: 1}\ncode_source: echo\nthresholds: ['send.p99<5ms']\n",
            "w.yaml",
        )
        .unwrap();
        assert_eq!(file.dialect, Some(Dialect::Loyaltydog));
        assert_eq!(file.rate, Some(RateField(500.0)));
        assert_eq!(file.stage_texts(), ["10s:500/s", "20s:500/s"]);
        assert_eq!(file.rate_stages()[1].target, 500.0);
        assert!(file.concurrency_stages().is_err());
        assert_eq!(file.mix.unwrap().0, Mix { flow: 9, send: 1 });
        assert_eq!(file.code_source, Some(CodeSource::Echo));
        assert_eq!(
            WorkloadFile::parse("", "w.yaml").unwrap(),
            WorkloadFile::default()
        );
    }

    #[test]
    fn mistakes_are_placed() {
        for (text, place, message) in [
            ("rate: fast\n", "w.yaml:1:7", "invalid rate"),
            (
                "dialect: native\nduraton: 5s\n",
                "w.yaml:2:1",
                "unknown field `duraton`",
            ),
            ("mix: {flow: 0}\n", "w.yaml:1:1", "mix: give"),
            ("url: http://x\ndialect: native\n", "w.yaml", "one of `url`"),
            ("rate: 5\nconcurrency: 5\n", "w.yaml", "not both"),
            ("wrong_code_ratio: 2\n", "w.yaml", "between 0 and 1"),
        ] {
            let error = WorkloadFile::parse(text, "w.yaml").unwrap_err();
            assert_eq!(error.place(), place, "{text:?}: {error}");
            assert!(error.message().contains(message), "{text:?}: {error}");
        }
    }
}
