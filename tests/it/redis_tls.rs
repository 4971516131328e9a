//! `rediss://`: the Redis store over TLS, against a `redis-server` with a
//! TLS port and a certificate this test makes (issue 19, item 5). The
//! server runs as a child process with `SSL_CERT_FILE` naming the test's
//! CA, so the certificate is verified, not waved through.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use serde_json::json;

use crate::support::http::{get, post};
use crate::support::process::ServeProcess;

/// A CA and a server certificate for 127.0.0.1 signed by it, as PEM files
/// in `dir`: (ca, cert, key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("redis.pem"),
        dir.join("redis.key"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// `redis-server` with only a TLS port; killed when dropped.
struct TlsRedis {
    child: Child,
    port: u16,
}

impl TlsRedis {
    fn start(cert: &Path, key: &Path, ca: &Path) -> TlsRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--tls-auth-clients", "no"])
            .arg("--tls-port")
            .arg(port.to_string())
            .arg("--tls-cert-file")
            .arg(cert)
            .arg("--tls-key-file")
            .arg(key)
            .arg("--tls-ca-cert-file")
            .arg(ca)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        TlsRedis { child, port }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("otpbench-rediss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_rediss_urls_reach_a_tls_redis_and_verify_its_certificate() {
    let dir = scratch();
    let (ca, cert, key) = certificates(&dir);
    let redis = TlsRedis::start(&cert, &key, &ca);
    let url = format!("rediss://127.0.0.1:{}", redis.port);
    let ca = ca.to_str().unwrap();
    let config = dir.join("otpbench.yaml");
    std::fs::write(&config, format!("secret: {}\n", "ab".repeat(32))).unwrap();
    let config = config.to_str().unwrap();
    let server = ServeProcess::start_with_env(
        &[
            "--store",
            &url,
            "--config",
            config,
            "--test-mode",
            "--echo-codes",
        ],
        &[("SSL_CERT_FILE", ca)],
    );
    let addr = server.addr;
    let reply = post(addr, "/v1/otp/send", json!({"to": "+14155550100"})).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    let verify = json!({"id": body["id"], "code": body["code"]});
    let reply = post(addr, "/v1/otp/verify", verify).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(get(addr, "/healthz").await.status, 200);

    // A server that does not trust the CA cannot use that Redis: the
    // certificate really is checked.
    let other = dir.join("other-ca.pem");
    let (other_ca, _, _) = certificates(&dir.join("other").tap_create());
    std::fs::copy(other_ca, &other).unwrap();
    let untrusting = ServeProcess::start_with_env(
        &["--store", &url, "--config", config, "--test-mode"],
        &[("SSL_CERT_FILE", other.to_str().unwrap())],
    );
    let reply = post(
        untrusting.addr,
        "/v1/otp/send",
        json!({"to": "+14155550100"}),
    )
    .await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(get(untrusting.addr, "/healthz").await.status, 503);
}

trait TapCreate {
    fn tap_create(self) -> Self;
}

impl TapCreate for PathBuf {
    fn tap_create(self) -> PathBuf {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}
