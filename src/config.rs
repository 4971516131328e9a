//! The `otpbench.yaml` file: per-dialect credentials and policies.
//!
//! Every key is optional; what is left out keeps the test defaults of
//! DESIGN.md §3. Values are checked while the YAML is read (by the
//! `*Field` newtypes below), so an error names the file, the field path,
//! what was expected and the line and column. Unknown keys are errors too:
//! a typo must not silently fall back to a default.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::source::FileError;

use crate::delivery::Channel;
use crate::duration;
use crate::engine::code::Alphabet;
use crate::engine::policy::{Policy, SendLimit, MAX_CODE_LENGTH};

/// The bearer token every dialect accepts by default (test-only).
pub const DEFAULT_BEARER: &str = "test-token";
/// REES46's default shop credentials (test-only).
pub const DEFAULT_SHOP_ID: &str = "test-shop";
pub const DEFAULT_SHOP_SECRET: &str = "test-secret";
/// SigmaSMS's default widgets: one active, one blocked, and one that
/// belongs to another account (ForbiddenException).
pub const DEFAULT_ACTIVE_WIDGET: &str = "123634df-ddfe-4dda-b31d-f3b4e75fc5dc";
pub const DEFAULT_BLOCKED_WIDGET: &str = "00000000-0000-4000-8000-00000000b10c";
pub const DEFAULT_FOREIGN_WIDGET: &str = "00000000-0000-4000-8000-000000000403";
/// Valify's default bundle key (test-only).
pub const DEFAULT_BUNDLE_KEY: &str = "test-bundle";
/// Nomado's default Basic credentials (test-only).
pub const DEFAULT_BASIC: &str = "test:test";
/// LoyaltyDog's default API key (test-only).
pub const DEFAULT_API_KEY: &str = "test-key";

/// Everything `serve` reads from its config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Key of the code hashes (and of LoyaltyDog's tokens). Engines sharing
    /// a store must share it; `None` draws a random one at start-up.
    pub secret: Option<Vec<u8>>,
    pub native: NativeConfig,
    pub rees46: Rees46Config,
    pub sigmasms: SigmasmsConfig,
    pub valify: ValifyConfig,
    pub nomado: NomadoConfig,
    pub loyaltydog: LoyaltydogConfig,
}

/// REES46: shop credentials in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rees46Config {
    pub shop_id: String,
    pub shop_secret: String,
    /// Channels default to the seed's cascade: sms, telegram, email.
    pub policy: Policy,
}

/// SigmaSMS: a bearer token and the widgets it knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmasmsConfig {
    pub bearer: String,
    pub widgets: Vec<(uuid::Uuid, WidgetState)>,
    pub policy: Policy,
}

/// What a SigmaSMS widget may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WidgetState {
    /// Sends go through.
    Active,
    /// 403 WidgetIsBlockedException.
    Blocked,
    /// Exists, but belongs to another account: 403 ForbiddenException.
    Foreign,
}

/// Valify: a bearer token and a bundle key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValifyConfig {
    pub bearer: String,
    pub bundle_key: String,
    pub policy: Policy,
}

/// Nomado: Basic credentials. Code alphabet, length and expiry come with
/// each request; the policy gives the rest (attempts, limits, channels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NomadoConfig {
    /// `user:pass`.
    pub basic: String,
    pub policy: Policy,
}

/// LoyaltyDog: an API key exchanged for short-lived JWTs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoyaltydogConfig {
    pub api_key: String,
    /// How long an access token from `/v2/token` lives.
    pub token_ttl: Duration,
    pub policy: Policy,
}

/// The native dialect's section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeConfig {
    /// `Authorization: Bearer <this>`.
    pub bearer: String,
    pub policy: Policy,
}

impl Default for Config {
    fn default() -> Self {
        let widget = |id: &str, state| (uuid::Uuid::parse_str(id).expect("a UUID"), state);
        Config {
            secret: None,
            native: NativeConfig {
                bearer: DEFAULT_BEARER.to_string(),
                policy: Policy::default(),
            },
            rees46: Rees46Config {
                shop_id: DEFAULT_SHOP_ID.to_string(),
                shop_secret: DEFAULT_SHOP_SECRET.to_string(),
                policy: Policy {
                    channels: vec![Channel::Sms, Channel::Telegram, Channel::Email],
                    ..Policy::default()
                },
            },
            sigmasms: SigmasmsConfig {
                bearer: DEFAULT_BEARER.to_string(),
                // In id order, as a file's widget map is read.
                widgets: vec![
                    widget(DEFAULT_FOREIGN_WIDGET, WidgetState::Foreign),
                    widget(DEFAULT_BLOCKED_WIDGET, WidgetState::Blocked),
                    widget(DEFAULT_ACTIVE_WIDGET, WidgetState::Active),
                ],
                policy: Policy::default(),
            },
            valify: ValifyConfig {
                bearer: DEFAULT_BEARER.to_string(),
                bundle_key: DEFAULT_BUNDLE_KEY.to_string(),
                policy: Policy::default(),
            },
            nomado: NomadoConfig {
                basic: DEFAULT_BASIC.to_string(),
                policy: Policy {
                    alphabet: Alphabet::Alphanumeric,
                    length: 4,
                    ttl: Duration::from_secs(7200),
                    ..Policy::default()
                },
            },
            loyaltydog: LoyaltydogConfig {
                api_key: DEFAULT_API_KEY.to_string(),
                token_ttl: Duration::from_secs(3600),
                policy: Policy {
                    send_limits: vec![
                        SendLimit {
                            count: 5,
                            window: Duration::from_secs(3600),
                        },
                        SendLimit {
                            count: 10,
                            window: Duration::from_secs(86_400),
                        },
                    ],
                    ..Policy::default()
                },
            },
        }
    }
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = crate::source::read(path)?;
        Config::parse(&text, &origin)
    }

    /// Reads config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        // A check made after parsing: placed at the key's value.
        let error = |path: &str, message: String| FileError::at_key(origin, text, path, message);
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let file: FileConfig =
            serde_yaml::from_str(text).map_err(|e| FileError::from_yaml(origin, text, &e))?;
        let mut config = Config::default();
        if let Some(secret) = file.secret {
            config.secret =
                Some(parse_secret(&secret).map_err(|e| error("secret", format!("secret: {e}")))?);
        }
        if let Some(native) = file.native {
            set(&mut config.native.bearer, native.bearer);
            apply(&mut config.native.policy, native.policy);
        }
        if let Some(rees46) = file.rees46 {
            set(&mut config.rees46.shop_id, rees46.shop_id);
            set(&mut config.rees46.shop_secret, rees46.shop_secret);
            apply(&mut config.rees46.policy, rees46.policy);
        }
        if let Some(sigmasms) = file.sigmasms {
            set(&mut config.sigmasms.bearer, sigmasms.bearer);
            if let Some(widgets) = sigmasms.widgets {
                config.sigmasms.widgets = widgets.into_iter().map(|(id, s)| (id.0, s)).collect();
            }
            apply(&mut config.sigmasms.policy, sigmasms.policy);
        }
        if let Some(valify) = file.valify {
            set(&mut config.valify.bearer, valify.bearer);
            set(&mut config.valify.bundle_key, valify.bundle_key);
            apply(&mut config.valify.policy, valify.policy);
        }
        if let Some(nomado) = file.nomado {
            if let Some(basic) = nomado.basic {
                config.nomado.basic = basic.0;
            }
            apply(&mut config.nomado.policy, nomado.policy);
        }
        if let Some(loyaltydog) = file.loyaltydog {
            set(&mut config.loyaltydog.api_key, loyaltydog.api_key);
            if let Some(ttl) = loyaltydog.token_ttl {
                if ttl.0 < Duration::from_secs(1) {
                    return Err(error(
                        "loyaltydog.token_ttl",
                        "loyaltydog.token_ttl: expected at least 1s".to_string(),
                    ));
                }
                config.loyaltydog.token_ttl = ttl.0;
            }
            apply(&mut config.loyaltydog.policy, loyaltydog.policy);
        }
        Ok(config)
    }
}

/// A config file that cannot be used: the file, the field path, what was
/// expected, and where.
pub type ConfigError = FileError;

/// The key of a policy section a [`PolicyError`] is about, to place it.
pub(crate) fn policy_key(error: &crate::engine::policy::PolicyError) -> &'static str {
    use crate::engine::policy::PolicyError;
    match error {
        PolicyError::Length(_) => "length",
        PolicyError::Ttl => "ttl",
        PolicyError::MaxAttempts => "max_attempts",
        PolicyError::SendLimit { .. } => "send_limits",
        PolicyError::NoChannels => "channels",
    }
}

fn set(value: &mut String, field: Option<TokenField>) {
    if let Some(field) = field {
        *value = field.0;
    }
}

fn apply(policy: &mut Policy, section: Option<PolicySection>) {
    if let Some(section) = section {
        *policy = section.apply_to(policy.clone());
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    secret: Option<String>,
    native: Option<NativeSection>,
    rees46: Option<Rees46Section>,
    sigmasms: Option<SigmasmsSection>,
    valify: Option<ValifySection>,
    nomado: Option<NomadoSection>,
    loyaltydog: Option<LoyaltydogSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeSection {
    bearer: Option<TokenField>,
    policy: Option<PolicySection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rees46Section {
    shop_id: Option<TokenField>,
    shop_secret: Option<TokenField>,
    policy: Option<PolicySection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SigmasmsSection {
    bearer: Option<TokenField>,
    widgets: Option<std::collections::BTreeMap<WidgetIdField, WidgetState>>,
    policy: Option<PolicySection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValifySection {
    bearer: Option<TokenField>,
    bundle_key: Option<TokenField>,
    policy: Option<PolicySection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NomadoSection {
    basic: Option<BasicField>,
    policy: Option<PolicySection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoyaltydogSection {
    api_key: Option<TokenField>,
    token_ttl: Option<DurationField>,
    policy: Option<PolicySection>,
}

#[derive(Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(try_from = "String")]
struct WidgetIdField(uuid::Uuid);

impl TryFrom<String> for WidgetIdField {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        uuid::Uuid::parse_str(&text)
            .map(WidgetIdField)
            .map_err(|_| format!("expected a widget UUID, got {text:?}"))
    }
}

#[derive(Deserialize)]
#[serde(try_from = "String")]
struct BasicField(String);

impl TryFrom<String> for BasicField {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        match text.split_once(':') {
            Some((user, _)) if !user.is_empty() && !text.chars().any(char::is_control) => {
                Ok(BasicField(text))
            }
            _ => Err("expected `user:password`".into()),
        }
    }
}

/// A policy with every field optional, laid over a dialect's default (the
/// config file's `policy` sections and a target file's `policy`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicySection {
    code: Option<Alphabet>,
    length: Option<LengthField>,
    ttl: Option<DurationField>,
    max_attempts: Option<AttemptsField>,
    send_limits: Option<Vec<SendLimitField>>,
    cooldown: Option<DurationField>,
    channels: Option<ChannelsField>,
}

impl PolicySection {
    pub(crate) fn apply_to(self, mut policy: Policy) -> Policy {
        if let Some(code) = self.code {
            policy.alphabet = code;
        }
        if let Some(length) = self.length {
            policy.length = length.0;
        }
        if let Some(ttl) = self.ttl {
            policy.ttl = ttl.0;
        }
        if let Some(max_attempts) = self.max_attempts {
            policy.max_attempts = max_attempts.0;
        }
        if let Some(limits) = self.send_limits {
            policy.send_limits = limits.into_iter().map(|l| l.0).collect();
        }
        if let Some(cooldown) = self.cooldown {
            policy.cooldown = (!cooldown.0.is_zero()).then_some(cooldown.0);
        }
        if let Some(channels) = self.channels {
            policy.channels = channels.0;
        }
        policy
    }
}

fn parse_secret(text: &str) -> Result<Vec<u8>, String> {
    let expected =
        "expected at least 32 hex digits (16 bytes), like the output of `openssl rand -hex 32`";
    if text.len() < 32 || text.len() % 2 != 0 || !text.is_ascii() {
        return Err(expected.to_string());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| expected.to_string()))
        .collect()
}

#[derive(Deserialize)]
#[serde(try_from = "String")]
struct TokenField(String);

impl TryFrom<String> for TokenField {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        if text.is_empty() || !text.chars().all(|c| c.is_ascii_graphic()) {
            return Err("expected a non-empty token of printable ASCII without spaces".into());
        }
        Ok(TokenField(text))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "u64")]
struct LengthField(u8);

impl TryFrom<u64> for LengthField {
    type Error = String;
    fn try_from(n: u64) -> Result<Self, String> {
        if (1..=MAX_CODE_LENGTH as u64).contains(&n) {
            Ok(LengthField(n as u8))
        } else {
            Err(format!(
                "expected a code length of 1..={MAX_CODE_LENGTH}, got `{n}`"
            ))
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "u64")]
struct AttemptsField(u32);

impl TryFrom<u64> for AttemptsField {
    type Error = String;
    fn try_from(n: u64) -> Result<Self, String> {
        match u32::try_from(n) {
            Ok(n) if n >= 1 => Ok(AttemptsField(n)),
            _ => Err(format!(
                "expected at least 1 attempt (and at most {}), got `{n}`",
                u32::MAX
            )),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct DurationField(Duration);

impl TryFrom<String> for DurationField {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        duration::parse(&text)
            .map(DurationField)
            .map_err(|e| format!("`{text}`: {e}"))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct SendLimitField(SendLimit);

impl TryFrom<String> for SendLimitField {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
            .map(SendLimitField)
            .map_err(|e: crate::engine::policy::PolicyError| e.to_string())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Vec<Channel>")]
struct ChannelsField(Vec<Channel>);

impl TryFrom<Vec<Channel>> for ChannelsField {
    type Error = String;
    fn try_from(channels: Vec<Channel>) -> Result<Self, String> {
        if channels.is_empty() {
            return Err("expected at least one channel in `channels`".into());
        }
        Ok(ChannelsField(channels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_keeps_every_default() {
        assert_eq!(Config::parse("", "x.yaml"), Ok(Config::default()));
        assert_eq!(
            Config::parse("# nothing\n", "x.yaml"),
            Ok(Config::default())
        );
    }

    #[test]
    fn a_full_file_overrides_every_field() {
        let text = "\
secret: 000102030405060708090a0b0c0d0e0f
native:
  bearer: prod-token
  policy:
    code: alphanumeric
    length: 8
    ttl: 10m
    max_attempts: 5
    send_limits: [3/1m, 10/1d]
    cooldown: 30s
    channels: [sms, telegram]
";
        let config = Config::parse(text, "x.yaml").unwrap();
        assert_eq!(
            config.secret.as_deref(),
            Some(&(0u8..16).collect::<Vec<_>>()[..])
        );
        assert_eq!(config.native.bearer, "prod-token");
        let policy = &config.native.policy;
        assert_eq!(policy.alphabet, Alphabet::Alphanumeric);
        assert_eq!(policy.length, 8);
        assert_eq!(policy.ttl, Duration::from_secs(600));
        assert_eq!(policy.max_attempts, 5);
        assert_eq!(policy.send_limits.len(), 2);
        assert_eq!(policy.cooldown, Some(Duration::from_secs(30)));
        assert_eq!(policy.channels, vec![Channel::Sms, Channel::Telegram]);
        assert_eq!(policy.validate(), Ok(()));
    }

    #[test]
    fn a_bad_value_after_a_good_one_is_named_and_placed_as_itself() {
        // serde_yaml places value errors at the start of their mapping
        // (here `length`); the error must still name and point at `ttl`.
        let text = "native:\n  policy:\n    length: 6\n    ttl: forever\n";
        let error = Config::parse(text, "c.yaml").unwrap_err();
        assert_eq!(error.place(), "c.yaml:4:10");
        assert!(
            error.message().starts_with("native.policy.ttl: `forever`"),
            "{error}"
        );
    }

    #[test]
    fn errors_name_the_file_the_field_what_was_expected_and_where() {
        let cases = [
            (
                "native:\n  policy:\n    length: 25\n",
                "native.policy.length",
                "1..=20, got `25`",
                ":3:",
            ),
            (
                "native:\n  policy:\n    ttl: 5 minutes\n",
                "native.policy.ttl",
                "invalid duration",
                ":3:",
            ),
            (
                "native:\n  policy:\n    send_limits: [5/1w]\n",
                "native.policy.send_limits",
                "5/1w",
                ":3:",
            ),
            (
                "native:\n  policy:\n    code: hex\n",
                "native.policy.code",
                "numeric",
                ":3:",
            ),
            (
                "native:\n  policy:\n    channels: [fax]\n",
                "native.policy.channels",
                "sms",
                ":3:",
            ),
            (
                "native:\n  policy:\n    max_attempts: 0\n",
                "native.policy.max_attempts",
                "at least 1",
                ":3:",
            ),
            (
                "native:\n  bearr: x\n",
                "native",
                "unknown field `bearr`",
                ":2:",
            ),
            (
                "secret: abc\n",
                "secret",
                "32 hex digits",
                "secret: expected",
            ),
        ];
        for (text, field, expected, position) in cases {
            let error = Config::parse(text, "conf/otpbench.yaml")
                .unwrap_err()
                .to_string();
            for part in ["conf/otpbench.yaml", field, expected, position] {
                assert!(error.contains(part), "{text:?}: {error:?} lacks {part:?}");
            }
        }
    }

    #[test]
    fn dialect_sections_override_their_dialect_only() {
        let text = "\
rees46: {shop_id: shop-1, shop_secret: s3cret, policy: {channels: [email]}}
sigmasms:
  bearer: sigma
  widgets: {d385ab22-0f51-4b97-9ecd-b8ff3fd4fcb6: blocked}
valify: {bearer: v, bundle_key: b}
nomado: {basic: 'me:pass:word', policy: {max_attempts: 5}}
loyaltydog: {api_key: k, token_ttl: 10m, policy: {send_limits: []}}
";
        let config = Config::parse(text, "x.yaml").unwrap();
        assert_eq!(config.native, Config::default().native);
        assert_eq!(config.rees46.shop_id, "shop-1");
        assert_eq!(config.rees46.policy.channels, vec![Channel::Email]);
        assert_eq!(config.sigmasms.bearer, "sigma");
        assert_eq!(config.sigmasms.widgets.len(), 1);
        assert_eq!(config.sigmasms.widgets[0].1, WidgetState::Blocked);
        assert_eq!(config.valify.bundle_key, "b");
        assert_eq!(config.nomado.basic, "me:pass:word");
        assert_eq!(config.nomado.policy.max_attempts, 5);
        assert_eq!(config.nomado.policy.length, 4);
        assert_eq!(config.loyaltydog.token_ttl, Duration::from_secs(600));
        assert!(config.loyaltydog.policy.send_limits.is_empty());
    }

    #[test]
    fn bad_dialect_sections_are_named() {
        let cases = [
            (
                "sigmasms:\n  widgets: {nope: active}\n",
                "sigmasms.widgets",
                "widget UUID",
            ),
            (
                "sigmasms:\n  widgets: {d385ab22-0f51-4b97-9ecd-b8ff3fd4fcb6: paused}\n",
                "sigmasms.widgets",
                "active",
            ),
            (
                "nomado:\n  basic: nocolon\n",
                "nomado.basic",
                "user:password",
            ),
            (
                "loyaltydog:\n  token_ttl: 0s\n",
                "loyaltydog.token_ttl",
                "at least 1s",
            ),
            ("valify:\n  bundle: x\n", "valify", "unknown field `bundle`"),
        ];
        for (text, field, expected) in cases {
            let error = Config::parse(text, "c.yaml").unwrap_err().to_string();
            for part in ["c.yaml", field, expected] {
                assert!(error.contains(part), "{text:?}: {error:?} lacks {part:?}");
            }
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = Config::load(Path::new("/nonexistent/otpbench.yaml")).unwrap_err();
        assert!(error
            .to_string()
            .starts_with("/nonexistent/otpbench.yaml: cannot read"));
    }
}
