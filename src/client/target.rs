//! Target files (DESIGN.md §5): how to reach an implementation, in which
//! dialect, with which credentials, where its codes can be read, whether
//! its clock can be moved, what policy it promises and what it lacks.
//!
//! Every key but `dialect` is optional; unknown keys are errors with
//! `file:line:col` ([`crate::source::FileError`]). Values are checked while
//! the YAML is read, so a bad URL or an unknown capability is reported
//! where it stands.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::Uri;
use regex::Regex;
use serde::Deserialize;

use crate::client::exchange::HttpOptions;
use crate::config::{Config, PolicySection};
use crate::dialect::{Credentials, Dialect};
use crate::engine::code::Alphabet;
use crate::engine::policy::Policy;
use crate::server::Assembly;
use crate::source::{FileError, SourceMap};
use crate::vars::{Strings, Vars};

/// A target as a file describes it, defaults filled in.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// What reports call it (`name:`, else the file's stem, else the
    /// dialect).
    pub name: String,
    pub dialect: Dialect,
    pub base: Endpoint,
    pub credentials: Credentials,
    pub code_source: CodeSource,
    /// Where codes are found in a message text; by default the last run of
    /// the policy's alphabet and length.
    pub code_pattern: Option<Regex>,
    /// The mock provider the implementation delivers to, if any.
    pub provider: Option<Endpoint>,
    pub clock: ClockMode,
    /// What the implementation promises: code shape, ttl, attempts, limits.
    pub policy: Policy,
    /// Capabilities it lacks (besides what follows from the rest).
    pub lacks: Vec<Capability>,
    pub http: HttpOptions,
    /// How an embedded engine is served when not as `otpbench serve`
    /// serves it ([`crate::server::run`]): set only by callers that build
    /// the engine differently (`otpbench mutants`), never by a file.
    pub assembly: Option<Arc<dyn Assembly>>,
}

/// Where something listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Started in-process on an ephemeral port (test mode).
    Embedded,
    /// `http://` or `https://` host, port and path prefix.
    Url(BaseUrl),
}

/// A base URL: scheme, authority and a path prefix without a trailing
/// slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub(crate) scheme: String,
    pub(crate) authority: String,
    pub(crate) prefix: String,
}

impl BaseUrl {
    /// Reads `http(s)://host[:port][/prefix]`.
    pub(crate) fn parse(text: &str) -> Result<BaseUrl, String> {
        let uri: Uri = text
            .parse()
            .map_err(|e| format!("{text:?} is not a URL: {e}"))?;
        let scheme = match uri.scheme_str() {
            Some(scheme @ ("http" | "https")) => scheme.to_string(),
            _ => return Err(format!("{text:?}: expected an http:// or https:// URL")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{text:?}: no host"))?
            .to_string();
        if uri.query().is_some() {
            return Err(format!("{text:?}: a base URL takes no query"));
        }
        let prefix = uri.path().trim_end_matches('/').to_string();
        Ok(BaseUrl {
            scheme,
            authority,
            prefix,
        })
    }

    /// `http://127.0.0.1:port`.
    pub fn local(addr: std::net::SocketAddr) -> BaseUrl {
        BaseUrl {
            scheme: "http".into(),
            authority: addr.to_string(),
            prefix: String::new(),
        }
    }

    /// The URL of `path_and_query` (which starts with `/`) under this base.
    pub(crate) fn join(&self, path_and_query: &str) -> String {
        format!(
            "{}://{}{}{}",
            self.scheme, self.authority, self.prefix, path_and_query
        )
    }
}

impl std::fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.prefix)
    }
}

/// Where the client reads the code of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeSource {
    /// From the send's response (native `code`, Nomado `token`,
    /// LoyaltyDog `mockCode`), through the dialect's client side.
    Echo,
    /// From the newest message to the identifier in the provider's journal.
    Inbox,
}

/// How scenarios move the target's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// `POST /_admin/clock {"advance_ms"}`.
    Admin,
    /// Sleep.
    Real,
}

/// What a scenario may need of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// A clock that can be moved (`clock: admin`).
    Clock,
    /// Codes readable from the provider's journal.
    Inbox,
    /// Provider fault injection (`PUT /_admin/faults`).
    Faults,
    /// Codes in send responses.
    Echo,
}

impl Capability {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Capability::Clock => "clock",
            Capability::Inbox => "inbox",
            Capability::Faults => "faults",
            Capability::Echo => "echo",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetFile {
    dialect: Dialect,
    name: Option<String>,
    base_url: Option<EndpointField>,
    auth: Option<Credentials>,
    code_source: Option<CodeSource>,
    code_pattern: Option<PatternField>,
    provider: Option<EndpointField>,
    clock: Option<ClockMode>,
    policy: Option<PolicySection>,
    lacks: Option<Vec<Capability>>,
    insecure: Option<bool>,
    timeout: Option<TimeoutField>,
}

#[derive(Deserialize)]
#[serde(try_from = "String")]
struct EndpointField(Endpoint);

impl TryFrom<String> for EndpointField {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        if text == "embedded" {
            return Ok(EndpointField(Endpoint::Embedded));
        }
        BaseUrl::parse(&text)
            .map(|url| EndpointField(Endpoint::Url(url)))
            .map_err(|e| format!("{e} (or `embedded`)"))
    }
}

#[derive(Deserialize)]
#[serde(try_from = "String")]
struct PatternField(Regex);

impl TryFrom<String> for PatternField {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Regex::new(&text)
            .map(PatternField)
            .map_err(|e| format!("`{text}` is not a regular expression: {e}"))
    }
}

#[derive(Deserialize)]
#[serde(try_from = "String")]
struct TimeoutField(Duration);

impl TryFrom<String> for TimeoutField {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        match crate::duration::parse(&text) {
            Ok(d) if !d.is_zero() => Ok(TimeoutField(d)),
            Ok(_) => Err(format!("`{text}`: expected a timeout longer than 0")),
            Err(e) => Err(format!("`{text}`: {e}")),
        }
    }
}

impl TargetSpec {
    /// The embedded engine in `dialect`, with every default.
    pub fn embedded(dialect: Dialect) -> TargetSpec {
        TargetSpec {
            name: dialect.name().to_string(),
            dialect,
            base: Endpoint::Embedded,
            credentials: Credentials::default(),
            code_source: natural_code_source(dialect, true),
            code_pattern: None,
            provider: Some(Endpoint::Embedded),
            clock: ClockMode::Admin,
            policy: documented_policy(dialect),
            lacks: Vec::new(),
            http: HttpOptions::default(),
            assembly: None,
        }
    }

    /// Reads a target file, its `${env.…}` and `${var.…}` from `vars`.
    pub fn load(path: &Path, vars: &Vars) -> Result<TargetSpec, FileError> {
        let origin = path.display().to_string();
        let text = crate::source::read(path)?;
        let text = vars.expand(&text, &origin, Strings::Literal)?;
        let mut spec = TargetSpec::parse(&text, &origin).map_err(|e| text.restore(e))?;
        if spec.name == spec.dialect.name() {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                spec.name = stem.to_string();
            }
        }
        Ok(spec)
    }

    /// Reads target text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<TargetSpec, FileError> {
        let map = SourceMap::of(text);
        let file: TargetFile = serde_yaml::from_str(text)
            .map_err(|e| FileError::from_yaml_mapped(origin, text, &map, &e))?;
        let dialect = file.dialect;
        let base = file.base_url.map_or(Endpoint::Embedded, |e| e.0);
        let embedded = base == Endpoint::Embedded;
        let provider = match file.provider.map(|e| e.0) {
            Some(Endpoint::Embedded) if !embedded => {
                return Err(FileError::at(
                    origin,
                    text,
                    map.value(0, "provider"),
                    "provider: an embedded provider listens on a port your implementation \
                     cannot know; run `otpbench provider --listen ADDR` and give its URL",
                ))
            }
            Some(provider) => Some(provider),
            None if embedded => Some(Endpoint::Embedded),
            None => None,
        };
        let code_source = file
            .code_source
            .unwrap_or_else(|| natural_code_source(dialect, provider.is_some()));
        if code_source == CodeSource::Echo && !can_echo(dialect) && file.code_source.is_some() {
            return Err(FileError::at(
                origin,
                text,
                map.value(0, "code_source"),
                format!(
                    "code_source: echo: {dialect} answers carry no code; read them from the \
                     inbox (`code_source: inbox` with `provider:`)"
                ),
            ));
        }
        if code_source == CodeSource::Inbox && provider.is_none() {
            return Err(FileError::at(
                origin,
                text,
                map.value(0, "code_source"),
                "code_source: inbox needs `provider:` (the mock provider's URL your \
                 implementation delivers to)",
            ));
        }
        let clock = file.clock.unwrap_or(if embedded {
            ClockMode::Admin
        } else {
            ClockMode::Real
        });
        let mut policy = documented_policy(dialect);
        if let Some(section) = file.policy {
            policy = section.apply_to(policy);
            policy.validate().map_err(|e| {
                let at = map
                    .value(0, &format!("policy.{}", crate::config::policy_key(&e)))
                    .or_else(|| map.key(0, "policy"));
                FileError::at(origin, text, at, format!("policy: {e}"))
            })?;
        }
        let mut http = HttpOptions::default();
        if let Some(timeout) = file.timeout {
            http.timeout = timeout.0;
        }
        http.insecure = file.insecure.unwrap_or(false);
        Ok(TargetSpec {
            name: file.name.unwrap_or_else(|| dialect.name().to_string()),
            dialect,
            base,
            credentials: file.auth.unwrap_or_default(),
            code_source,
            code_pattern: file.code_pattern.map(|p| p.0),
            provider,
            clock,
            policy,
            lacks: file.lacks.unwrap_or_default(),
            http,
            assembly: None,
        })
    }

    /// Whether the target has `capability`: not listed as lacking, and
    /// possible with the rest of the file.
    pub(crate) fn has(&self, capability: Capability) -> bool {
        if self.lacks.contains(&capability) {
            return false;
        }
        match capability {
            Capability::Clock => self.clock == ClockMode::Admin,
            Capability::Inbox | Capability::Faults => self.provider.is_some(),
            Capability::Echo => self.code_source == CodeSource::Echo && can_echo(self.dialect),
        }
    }

    /// Why the target lacks `capability`, for a skip message.
    pub(crate) fn lack_reason(&self, capability: Capability) -> String {
        if self.lacks.contains(&capability) {
            return format!("target `{}` lacks `{}`", self.name, capability.name());
        }
        match capability {
            Capability::Clock => {
                format!("target `{}` has no movable clock (clock: real)", self.name)
            }
            Capability::Inbox | Capability::Faults => {
                format!("target `{}` names no provider", self.name)
            }
            Capability::Echo if !can_echo(self.dialect) => format!(
                "{} answers carry no code, and target `{}` names no provider",
                self.dialect, self.name
            ),
            Capability::Echo => format!("target `{}` reads codes from the inbox", self.name),
        }
    }

    /// The pattern codes are found by in a message text.
    pub(crate) fn code_regex(&self, alphabet: Alphabet, length: u8) -> Regex {
        if let Some(pattern) = &self.code_pattern {
            return pattern.clone();
        }
        let class = match alphabet {
            Alphabet::Numeric => "0-9",
            Alphabet::Alpha => "A-Za-z",
            Alphabet::Alphanumeric => "0-9A-Za-z",
        };
        Regex::new(&format!(
            r"(?:^|[^{class}])([{class}]{{{length}}})(?:$|[^{class}])"
        ))
        .expect("a well-formed pattern")
    }
}

/// Whether a dialect's send answer has a field for the code: Nomado's
/// `token` by design, native's `code` and LoyaltyDog's `mockCode` in a
/// dev mode. REES46, SigmaSMS and Valify never show it.
pub(crate) fn can_echo(dialect: Dialect) -> bool {
    matches!(
        dialect,
        Dialect::Nomado | Dialect::Native | Dialect::Loyaltydog
    )
}

/// Where a dialect's codes naturally come from: Nomado returns its token
/// by design; the others only in a dev mode, so the inbox when there is a
/// provider.
fn natural_code_source(dialect: Dialect, has_provider: bool) -> CodeSource {
    if dialect == Dialect::Nomado || !has_provider {
        CodeSource::Echo
    } else {
        CodeSource::Inbox
    }
}

/// The policy a dialect documents (DESIGN.md §3): the reference engine's
/// defaults for it.
pub(crate) fn documented_policy(dialect: Dialect) -> Policy {
    let config = Config::default();
    match dialect {
        Dialect::Native => config.native.policy,
        Dialect::Rees46 => config.rees46.policy,
        Dialect::Sigmasms => config.sigmasms.policy,
        Dialect::Valify => config.valify.policy,
        Dialect::Nomado => config.nomado.policy,
        Dialect::Loyaltydog => config.loyaltydog.policy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_but_the_dialect_has_a_default() {
        let spec = TargetSpec::parse("dialect: valify\n", "t.yaml").unwrap();
        assert_eq!(spec.base, Endpoint::Embedded);
        assert_eq!(spec.provider, Some(Endpoint::Embedded));
        assert_eq!(spec.code_source, CodeSource::Inbox);
        assert_eq!(spec.clock, ClockMode::Admin);
        assert_eq!(spec.policy, documented_policy(Dialect::Valify));
        let capabilities = [Capability::Clock, Capability::Inbox, Capability::Faults];
        assert!(capabilities.into_iter().all(|c| spec.has(c)));
        let external = TargetSpec::parse(
            "dialect: nomado\nbase_url: https://api.example.com/x/\n",
            "t.yaml",
        )
        .unwrap();
        assert_eq!(external.clock, ClockMode::Real);
        assert_eq!(external.code_source, CodeSource::Echo);
        assert!(!external.has(Capability::Inbox) && !external.has(Capability::Clock));
        let Endpoint::Url(url) = external.base else {
            panic!()
        };
        assert_eq!(
            url.join("/2fa/create"),
            "https://api.example.com/x/2fa/create"
        );
    }

    #[test]
    fn mistakes_are_placed() {
        let cases = [
            ("dialect: valfy\n", "t.yaml:1:10", "unknown dialect `valfy`"),
            (
                "dialect: native\nbase_ur: x\n",
                "t.yaml:2:1",
                "unknown field `base_ur`",
            ),
            (
                "dialect: native\nbase_url: ftp://x\n",
                "t.yaml:2:11",
                "http:// or https://",
            ),
            (
                "dialect: native\nlacks: [time]\n",
                "t.yaml:2:9",
                "unknown variant `time`",
            ),
            (
                "dialect: native\npolicy: {ttl: soon}\n",
                "t.yaml:2:15",
                "invalid duration",
            ),
        ];
        for (text, place, message) in cases {
            let error = TargetSpec::parse(text, "t.yaml").unwrap_err();
            assert_eq!(error.place(), place, "{text:?}: {error}");
            assert!(error.message().contains(message), "{text:?}: {error}");
        }
    }

    #[test]
    fn default_code_patterns_take_a_code_of_the_policys_shape() {
        let spec = TargetSpec::embedded(Dialect::Native);
        let numeric = spec.code_regex(Alphabet::Numeric, 6);
        let text = "Your otpbench code is 123456";
        assert_eq!(&numeric.captures(text).unwrap()[1], "123456");
        assert!(numeric.captures("call 1234567").is_none());
    }
}
