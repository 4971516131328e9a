//! A server on `127.0.0.1:0` for one test, stopped when dropped.

use std::net::SocketAddr;

use otpbench::config::Config;
use otpbench::server::{run, ServerConfig, StoreSpec};
use otpbench::store::redis::RedisOptions;

use crate::support::redis::{unique_namespace, RedisServer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// With `OTPBENCH_TEST_STORE=redis`, every `TestServer` keeps its state
/// in a Redis of its own, so the black-box suites prove themselves on both
/// stores unchanged (`.ci/run` runs them both ways).
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// The Redis behind the server, when there is one; dropped last.
    pub redis: Option<RedisServer>,
}

impl TestServer {
    /// Test mode with echoed codes: the usual black-box setup.
    pub async fn start() -> TestServer {
        TestServer::with(ServerConfig {
            config: Config::default(),
            test_mode: true,
            echo_codes: true,
            ..ServerConfig::default()
        })
        .await
    }

    pub async fn with(mut config: ServerConfig) -> TestServer {
        let mut redis = None;
        if config.store == StoreSpec::Memory
            && std::env::var("OTPBENCH_TEST_STORE").as_deref() == Ok("redis")
        {
            let server = RedisServer::start();
            config = on_redis(config, &server);
            redis = Some(server);
        }
        TestServer::with_redis(config, redis).await
    }

    /// A server on `redis` (which the returned server keeps alive).
    pub async fn on(config: ServerConfig, redis: RedisServer) -> TestServer {
        let config = on_redis(config, &redis);
        TestServer::with_redis(config, Some(redis)).await
    }

    async fn with_redis(config: ServerConfig, redis: Option<RedisServer>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            run(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            addr,
            stop: Some(stop),
            task: Some(task),
            redis,
        }
    }

    /// Starts shutdown and returns the server task, which ends once
    /// in-flight requests are done.
    pub fn begin_shutdown(&mut self) -> JoinHandle<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take().expect("shut down once")
    }
}

fn on_redis(mut config: ServerConfig, redis: &RedisServer) -> ServerConfig {
    let mut options = RedisOptions::new(&redis.url);
    options.namespace = unique_namespace();
    options.timeout = std::time::Duration::from_millis(300);
    config.store = StoreSpec::Redis(options);
    config
        .config
        .secret
        .get_or_insert_with(|| b"test secret shared by replicas".to_vec());
    config
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
