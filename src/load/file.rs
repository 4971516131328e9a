//! Workload files (`scenarios/load/*.yaml`): a load run written down —
//! what to load, the model and its stages, the OTP flow's pool, mix and
//! wrong-code ratio, the reference workload and the gates — so a run is
//! repeatable and reviewable. Every key is optional; a flag given on the
//! command line wins over the file's key. Unknown keys are errors with
//! `file:line:col`. The format is documented in docs/load.md ("Workload
//! files"); this module only reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::client::CodeSource;
use crate::dialect::Dialect;
use crate::load::flow::Mix;
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
    pub stages: Vec<String>,
    /// Open model: requests (or flows) in flight at most.
    pub connections: Option<u32>,
    pub pool: Option<u64>,
    pub wrong_code_ratio: Option<f64>,
    pub purpose: Option<String>,
    pub mix: Option<MixField>,
    pub code_source: Option<CodeSource>,
    pub reference_url: Option<String>,
    #[serde(default)]
    pub thresholds: Vec<String>,
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
        if let (Some(target), Some(dir)) = (&file.target, path.parent()) {
            if target.is_relative() {
                file.target = Some(dir.join(target));
            }
        }
        Ok(file)
    }

    /// Reads workload text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<WorkloadFile, FileError> {
        let file: WorkloadFile = if text.trim().is_empty() {
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
        Ok(file)
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
        assert_eq!(file.stages, ["10s:500/s", "20s:500/s"]);
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
