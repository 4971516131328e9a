//! Mutants: defective variants of the reference engine, each a bug that
//! OTP services have shipped, to show that the scenario suite catches
//! them (`otpbench mutants`, DESIGN.md §7).
//!
//! The engine stays free of defect switches: every defect is built
//! *around* it, from the outside — store decorators that decide
//! non-atomically or wrongly (`decorate`, `limits`, `challenges`), layers
//! in a small proxy in front of the listener that rewrite requests or
//! answers (`layer`, `rewrites`, `raw_limits`), or a config the target's
//! documents contradict. A [`Mutant`] names its bug, the dialects it
//! applies to and how it is built; [`MutantAssembly`] serves an embedded
//! engine with it, through the server's defect-agnostic seam
//! ([`crate::server::Assembly`]). Only the mutants command ([`matrix`])
//! constructs them; nothing here may serve real traffic, and nothing
//! here may reach into the engine.

mod challenges;
mod decorate;
mod layer;
mod limits;
pub mod matrix;
mod raw_limits;
mod rewrites;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::client::TargetSpec;
use crate::config::Config;
use crate::dialect::Dialect;
use crate::engine::outcome::OutcomeKind;
use crate::engine::policy::Policy;
use crate::server::{self, Assembly, ServerConfig, Serving, Shutdown};
use crate::store::Store;

use decorate::{Decorated, Decorator};
use layer::Layer;

/// How a mutant is built around the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Built {
    /// A decorator around the store.
    Store,
    /// A layer in front of the listener.
    Layer,
    /// A layer in front, and a store that leaves the layer's job to it.
    LayerAndStore,
    /// A config that contradicts the target's documented policy.
    Config,
}

impl Built {
    /// How reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Built::Store => "store decorator",
            Built::Layer => "layer",
            Built::LayerAndStore => "layer + store decorator",
            Built::Config => "config",
        }
    }
}

/// One defective variant of the engine.
pub struct Mutant {
    /// Short, stable, kebab-case: what `--mutant` takes.
    pub name: &'static str,
    /// The bug, as a user of the service meets it.
    pub bug: &'static str,
    pub built: Built,
    /// Where it applies, in words (docs/mutants.md's list).
    pub applies_to: &'static str,
    /// Whether it applies to a target: the dialect documents what the bug
    /// breaks, and the target's policy has it.
    applies: fn(&TargetSpec) -> bool,
    /// Puts the defect around the engine's parts.
    build: fn(&mut Parts),
}

impl std::fmt::Debug for Mutant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mutant").field("name", &self.name).finish()
    }
}

impl Mutant {
    /// Whether this mutant applies to `target`.
    pub fn applies(&self, target: &TargetSpec) -> bool {
        (self.applies)(target)
    }

    /// The mutant called `name`.
    pub fn by_name(name: &str) -> Option<&'static Mutant> {
        MUTANTS.iter().find(|m| m.name == name)
    }

    /// `target`, with its embedded engine replaced by this mutant.
    pub fn target(&'static self, target: &TargetSpec) -> TargetSpec {
        TargetSpec {
            assembly: Some(Arc::new(MutantAssembly { mutant: self })),
            ..target.clone()
        }
    }
}

/// What a mutant's build puts together: the server's config, its store,
/// and what stands in front of it.
pub(crate) struct Parts {
    pub config: ServerConfig,
    pub store: Arc<dyn Store>,
    pub layer: Option<Arc<dyn Layer>>,
}

impl Parts {
    fn decorate(&mut self, decorator: impl Decorator) {
        self.store = Decorated::wrap(self.store.clone(), decorator);
    }

    fn put_in_front(&mut self, layer: impl Layer) {
        self.layer = Some(Arc::new(layer));
    }
}

/// Serves an embedded engine with a mutant's defect around it.
#[derive(Debug)]
pub struct MutantAssembly {
    mutant: &'static Mutant,
}

impl Assembly for MutantAssembly {
    fn serve(&self, listener: TcpListener, config: ServerConfig, shutdown: Shutdown) -> Serving {
        let build = self.mutant.build;
        Box::pin(async move {
            let store = server::open_store(&config)?;
            let mut parts = Parts {
                config,
                store,
                layer: None,
            };
            build(&mut parts);
            match parts.layer {
                None => server::run_with_store(listener, parts.config, parts.store, shutdown).await,
                Some(layer) => {
                    layer::serve(listener, parts.config, parts.store, layer, shutdown).await
                }
            }
        })
    }
}

fn everywhere(_: &TargetSpec) -> bool {
    true
}

fn has_limits(target: &TargetSpec) -> bool {
    !target.policy.send_limits.is_empty()
}

/// Every mutant, in the order reports list them.
pub static MUTANTS: [Mutant; 23] = [
    Mutant {
        name: "longer-window-ignored",
        bug: "only the tightest send limit is enforced: 5/1h holds, 10/1d never does",
        built: Built::Store,
        applies_to: "policies with more than one send limit (LoyaltyDog: 5/1h, 10/1d)",
        applies: |t| t.policy.send_limits.len() > 1,
        build: |p| p.decorate(limits::TightestWindowOnly),
    },
    Mutant {
        name: "send-limit-race",
        bug: "sends are counted, then recorded a round trip later: parallel sends all pass",
        built: Built::Store,
        applies_to: "policies with a send limit (all six dialects)",
        applies: has_limits,
        build: |p| p.decorate(limits::CountThenRecord::default()),
    },
    Mutant {
        name: "one-send-too-many",
        bug: "a window refuses only when it holds more than its limit (> for >=)",
        built: Built::Store,
        applies_to: "policies with a send limit (all six dialects)",
        applies: has_limits,
        build: |p| p.decorate(limits::OneTooMany),
    },
    Mutant {
        name: "refused-send-burns-code",
        bug: "a send refused by a limit still throws away the code the recipient has",
        built: Built::Store,
        applies_to: "policies with a send limit (all six dialects)",
        applies: has_limits,
        build: |p| p.decorate(limits::RefusalBurnsCode::default()),
    },
    Mutant {
        name: "failed-delivery-uncounted",
        bug: "a send whose delivery failed on every channel is taken off the count: no limit while the gateway is down",
        built: Built::Store,
        applies_to: "policies with a send limit (all six dialects)",
        applies: has_limits,
        build: |p| p.decorate(limits::FailedSendsUncounted::default()),
    },
    Mutant {
        name: "limits-keyed-on-raw-text",
        bug: "the rate limiter keys on the recipient as typed: +7999…, 7999… and +7 999 … each get a budget",
        built: Built::LayerAndStore,
        applies_to: "policies with a send limit, in dialects that accept several writings of a number (all six)",
        applies: has_limits,
        build: |p| {
            let policies = Dialect::ALL
                .into_iter()
                .map(|d| (d, policy_of(&p.config.config, d).clone()))
                .collect();
            p.decorate(limits::LimitsElsewhere);
            p.put_in_front(raw_limits::RawTextLimits::new(p.store.clone(), policies));
        },
    },
    Mutant {
        name: "rate-limit-400",
        bug: "a rate-limited send is answered 400, not the dialect's documented status",
        built: Built::Layer,
        applies_to: "policies with a send limit (all six dialects)",
        applies: has_limits,
        build: |p| p.put_in_front(rewrites::RateLimitIs400),
    },
    Mutant {
        name: "no-retry-after",
        bug: "refusals carry no Retry-After header",
        built: Built::Layer,
        applies_to: "native (the dialect that documents Retry-After)",
        applies: |t| t.dialect == Dialect::Native,
        build: |p| p.put_in_front(rewrites::NoRetryAfter),
    },
    Mutant {
        name: "resend-keeps-old-code",
        bug: "a resend adds a code instead of replacing it: the old code still verifies",
        built: Built::Store,
        applies_to: "all six dialects",
        applies: everywhere,
        build: |p| p.decorate(challenges::OldCodesStayValid::default()),
    },
    Mutant {
        name: "code-verifies-other-recipient",
        bug: "a verify finds the challenge by its code, not by the recipient it names",
        built: Built::Store,
        applies_to: "all six dialects",
        applies: everywhere,
        build: |p| p.decorate(challenges::CodeFindsChallenge::default()),
    },
    Mutant {
        name: "purposes-shared",
        bug: "challenges are keyed by recipient alone: a code for one purpose replaces and verifies the others",
        built: Built::Store,
        applies_to: "dialects with purposes: native (`purpose`), REES46 (`event`)",
        applies: |t| matches!(t.dialect, Dialect::Native | Dialect::Rees46),
        build: |p| p.decorate(challenges::OnePurpose),
    },
    Mutant {
        name: "late-expiry",
        bug: "codes are accepted for a minute past their ttl",
        built: Built::Store,
        applies_to: "all six dialects",
        applies: everywhere,
        build: |p| p.decorate(challenges::LateExpiry),
    },
    Mutant {
        name: "no-attempt-cap",
        bug: "wrong codes are never counted: a code can be guessed for as long as it lives",
        built: Built::Store,
        applies_to: "all six dialects",
        applies: everywhere,
        build: |p| p.decorate(challenges::NoAttemptCap),
    },
    Mutant {
        name: "attempt-counter-race",
        bug: "the attempt counter is read, then written back +1 a round trip later: parallel guesses pass the cap",
        built: Built::Store,
        applies_to: "all six dialects",
        applies: everywhere,
        build: |p| p.decorate(challenges::ReadThenCountAttempt::default()),
    },
    Mutant {
        name: "attempts-survive-resend",
        bug: "wrong codes count per recipient, not per code: a new send does not give the attempts back",
        built: Built::Store,
        applies_to: "all six dialects",
        applies: everywhere,
        build: |p| p.decorate(challenges::AttemptsOutliveCodes::default()),
    },
    Mutant {
        name: "reusable-code",
        bug: "a verified code is marked used but the mark is never checked: it verifies again",
        built: Built::Store,
        applies_to: "all six dialects",
        applies: everywhere,
        build: |p| p.decorate(challenges::UsedCodesStayValid::default()),
    },
    Mutant {
        name: "single-use-race",
        bug: "single use is read, compare, delete a round trip apart: parallel right codes all verify",
        built: Built::Store,
        applies_to: "all six dialects",
        applies: everywhere,
        build: |p| p.decorate(challenges::CompareThenDelete::default()),
    },
    Mutant {
        name: "wrong-code-200",
        bug: "a wrong code is answered 200 (the error only in the body)",
        built: Built::Layer,
        applies_to: "all six dialects",
        applies: everywhere,
        build: |p| p.put_in_front(rewrites::WrongCodeIs200),
    },
    Mutant {
        name: "invalid-phone-accepted",
        bug: "any text is taken as a phone number and a code is \"sent\" to it",
        built: Built::Layer,
        applies_to: "all six dialects",
        applies: everywhere,
        build: |p| p.put_in_front(rewrites::AnyPhoneAccepted),
    },
    Mutant {
        name: "no-415",
        bug: "a non-JSON content type is read as JSON: the documented 415 never comes",
        built: Built::Layer,
        applies_to: "dialects that document a 415: native, Valify",
        applies: |t| t.dialect.produces().contains(&OutcomeKind::UnsupportedMediaType),
        build: |p| p.put_in_front(rewrites::NoMediaTypeCheck),
    },
    Mutant {
        name: "framework-error-shape",
        bug: "invalid input is answered in the web framework's default error body, not the dialect's",
        built: Built::Layer,
        applies_to: "dialects whose document fixes the error body: native, REES46, SigmaSMS, Valify \
                     (Nomado's seed fixes none, LoyaltyDog's none for its 400 and no required \
                     member for its 422)",
        applies: |t| !matches!(t.dialect, Dialect::Nomado | Dialect::Loyaltydog),
        build: |p| {
            let clock = p.store.clock();
            p.put_in_front(rewrites::FrameworkErrorShape { clock })
        },
    },
    Mutant {
        name: "four-digit-codes",
        bug: "codes have 4 digits where the policy documents another length",
        built: Built::Config,
        applies_to: "dialects with a fixed code length other than 4 (all but Nomado)",
        applies: |t| t.dialect != Dialect::Nomado && t.policy.length != 4,
        build: |p| {
            for dialect in Dialect::ALL {
                dialect.policy_in(&mut p.config.config).length = 4;
            }
        },
    },
    Mutant {
        name: "requested-length-ignored",
        bug: "the code length a send asks for is ignored: every code has the default length",
        built: Built::Layer,
        applies_to: "Nomado (`length`)",
        applies: |t| t.dialect == Dialect::Nomado,
        build: |p| p.put_in_front(rewrites::LengthIgnored),
    },
];

/// The policy the config gives `dialect`.
fn policy_of(config: &Config, dialect: Dialect) -> &Policy {
    match dialect {
        Dialect::Native => &config.native.policy,
        Dialect::Rees46 => &config.rees46.policy,
        Dialect::Sigmasms => &config.sigmasms.policy,
        Dialect::Valify => &config.valify.policy,
        Dialect::Nomado => &config.nomado.policy,
        Dialect::Loyaltydog => &config.loyaltydog.policy,
    }
}
