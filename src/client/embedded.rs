//! `base_url: embedded` and `provider: embedded`: the reference engine (in
//! test mode) and the mock provider started in-process on ephemeral
//! loopback ports, so `otpbench run` needs no setup. The engine gets the
//! target's credentials and policy, delivers to the embedded provider,
//! and echoes codes when the target reads them from responses. Both stop
//! when the [`Embedded`] is dropped. A target with an `assembly` has its
//! engine served by it instead of [`crate::server::run`].

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::client::target::{BaseUrl, CodeSource, Endpoint, TargetSpec};
use crate::config::Config;
use crate::dialect::{Credentials, Dialect};
use crate::server::{ServerConfig, Shutdown, StoreSpec};

/// Servers running for one target; stopped on drop.
pub(crate) struct Embedded {
    pub(crate) engine: Option<SocketAddr>,
    pub(crate) provider: Option<SocketAddr>,
    stops: Vec<oneshot::Sender<()>>,
}

impl Drop for Embedded {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
    }
}

impl Embedded {
    /// Starts what `spec` asks to be embedded, keeping state in `store`.
    pub(crate) async fn start(spec: &TargetSpec, store: &StoreSpec) -> Result<Embedded, String> {
        let mut embedded = Embedded {
            engine: None,
            provider: None,
            stops: Vec::new(),
        };
        if spec.provider == Some(Endpoint::Embedded) {
            let (listener, addr) = bind().await?;
            let (stop, stopped) = oneshot::channel::<()>();
            let config = crate::provider::ProviderConfig::default();
            tokio::spawn(async move {
                let _ = crate::provider::run(listener, config, async {
                    let _ = stopped.await;
                })
                .await;
            });
            embedded.stops.push(stop);
            embedded.provider = Some(addr);
        }
        if spec.base == Endpoint::Embedded {
            let (listener, addr) = bind().await?;
            let provider = match (&spec.provider, embedded.provider) {
                (Some(Endpoint::Embedded), Some(addr)) => Some(BaseUrl::local(addr).to_string()),
                (Some(Endpoint::Url(url)), _) => Some(url.to_string()),
                _ => None,
            };
            let mut config = Config {
                // Fixed, so embedded engines on one shared store agree.
                secret: Some(b"otpbench embedded engine secret".to_vec()),
                ..Config::default()
            };
            apply(&mut config, spec);
            let server = ServerConfig {
                config,
                store: store.clone(),
                provider,
                test_mode: true,
                echo_codes: spec.code_source == CodeSource::Echo,
                ..ServerConfig::default()
            };
            let (stop, stopped) = oneshot::channel::<()>();
            let shutdown: Shutdown = Box::pin(async {
                let _ = stopped.await;
            });
            let served = match &spec.assembly {
                Some(assembly) => assembly.serve(listener, server, shutdown),
                None => Box::pin(crate::server::run(listener, server, shutdown)),
            };
            tokio::spawn(async move {
                let _ = served.await;
            });
            embedded.stops.push(stop);
            embedded.engine = Some(addr);
        }
        Ok(embedded)
    }
}

async fn bind() -> Result<(TcpListener, SocketAddr), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listener's address: {e}"))?;
    Ok((listener, addr))
}

/// The target's credentials and policy, as the engine's config.
fn apply(config: &mut Config, spec: &TargetSpec) {
    let Credentials {
        bearer,
        shop_id,
        shop_secret,
        widget_id,
        bundle_key,
        basic,
        api_key,
    } = spec.credentials.clone();
    *spec.dialect.policy_in(config) = spec.policy.clone();
    match spec.dialect {
        Dialect::Native => config.native.bearer = bearer,
        Dialect::Rees46 => {
            config.rees46.shop_id = shop_id;
            config.rees46.shop_secret = shop_secret;
        }
        Dialect::Sigmasms => {
            config.sigmasms.bearer = bearer;
            if let Ok(widget) = uuid::Uuid::parse_str(&widget_id) {
                let widgets = &mut config.sigmasms.widgets;
                widgets.retain(|(id, _)| *id != widget);
                widgets.push((widget, crate::config::WidgetState::Active));
            }
        }
        Dialect::Valify => {
            config.valify.bearer = bearer;
            config.valify.bundle_key = bundle_key;
        }
        Dialect::Nomado => config.nomado.basic = basic,
        Dialect::Loyaltydog => config.loyaltydog.api_key = api_key,
    }
}
