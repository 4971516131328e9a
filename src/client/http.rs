//! The pooled path of the [`crate::client::Executor`]: hyper's HTTP/1.1
//! client with keep-alive pooling, `https://` through rustls with the
//! system's roots (or, for self-signed test certificates, no verification
//! at all), and response bodies read whole within a limit. The timeout is
//! the executor's. It knows nothing of dialects.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::exchange::{Exchange, HttpOptions, TransportError, MAX_RESPONSE_BYTES};

/// Hyper's pooled client. Cheap to clone (shares the pool).
#[derive(Clone)]
pub(crate) struct Pooled {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Pooled {
    /// A pool with these options (the timeout bounds connecting).
    pub(crate) fn new(options: HttpOptions) -> Result<Pooled, String> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(options.timeout));
        let builder = HttpsConnectorBuilder::new();
        let builder = if options.insecure {
            builder.with_tls_config(insecure_tls()?)
        } else {
            match builder.with_native_roots() {
                Ok(builder) => builder,
                // No system roots: plain HTTP still works, and an https://
                // target fails its handshake with a clear error.
                Err(_) => HttpsConnectorBuilder::new().with_tls_config(no_roots_tls()?),
            }
        };
        let connector = builder.https_or_http().enable_http1().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(options.max_idle_per_host)
            .build(connector);
        Ok(Pooled { client })
    }

    /// Sends `request` and reads the whole answer (no timeout here: the
    /// executor applies its own). `started` is when the exchange began.
    pub(crate) async fn execute(
        &self,
        request: Request<Full<Bytes>>,
        started: Instant,
    ) -> Result<Exchange, TransportError> {
        let response = self.client.request(request).await.map_err(|error| {
            if error.is_connect() {
                TransportError::Connect(source_chain(&error))
            } else {
                TransportError::Io(source_chain(&error))
            }
        })?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|error| {
                if error.is::<http_body_util::LengthLimitError>() {
                    TransportError::TooLarge
                } else {
                    TransportError::Io(error.to_string())
                }
            })?
            .to_bytes();
        Ok(Exchange {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            elapsed: started.elapsed(),
        })
    }
}

/// An error and its causes, `: `-joined (hyper's own text is terse).
fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

/// A TLS config that trusts nothing (a machine without system roots).
fn no_roots_tls() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth())
}

/// A TLS config that accepts any certificate (`insecure: true`).
fn insecure_tls() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyCertificate(provider.clone()));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(config)
}

/// Accepts every server certificate; still checks that handshake
/// signatures are well formed.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
