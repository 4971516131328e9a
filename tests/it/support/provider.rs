//! A mock provider on `127.0.0.1:0` for one test, and a server that
//! delivers to it.

use std::net::SocketAddr;
use std::time::Duration;

use otpbench::config::Config;
use otpbench::delivery::http::RetryPolicy;
use otpbench::provider::{run, ProviderConfig};
use otpbench::server::ServerConfig;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::support::http::request;
use crate::support::server::TestServer;

pub struct TestProvider {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl TestProvider {
    pub async fn start() -> TestProvider {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = run(listener, ProviderConfig::default(), async {
                let _ = stopped.await;
            })
            .await;
        });
        TestProvider { addr, _stop: stop }
    }

    /// Replaces the fault rules.
    pub async fn faults(&self, rules: Value) {
        let body = rules.to_string();
        let reply = request(
            self.addr,
            "PUT",
            "/_admin/faults",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await;
        assert_eq!(reply.status, 204, "{}", reply.text());
    }

    /// A test-mode server delivering here, giving up fast.
    pub async fn server(&self) -> TestServer {
        TestServer::with(ServerConfig {
            config: Config::default(),
            provider: Some(format!("http://{}", self.addr)),
            retry: RetryPolicy {
                attempts: 1,
                timeout: Duration::from_millis(500),
                ..RetryPolicy::default()
            },
            test_mode: true,
            ..ServerConfig::default()
        })
        .await
    }
}
