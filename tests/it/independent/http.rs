//! The independent service's HTTP edge: one listener for all six
//! dialects and the test-mode admin routes, requests read whole (at most
//! 64 KiB) into a [`Call`], answers built as a [`Reply`], and the route
//! table that picks a dialect by path prefix. Holds no OTP logic and no
//! dialect wording.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::{admin, loyaltydog, native, nomado, rees46, sigmasms, valify, Service};

/// The largest request body read.
const MAX_BODY: usize = 64 * 1024;

/// One request, read whole.
pub(super) struct Call {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What a body turned out to be.
pub(super) enum Body {
    Object(Map<String, Value>),
    /// Valid JSON, but not an object.
    Other(Value),
    /// Not JSON; the parser's complaint.
    Broken(serde_json::Error),
}

impl Call {
    pub(super) fn is_post(&self) -> bool {
        self.method == Method::POST
    }

    /// The media type without parameters, lower-cased.
    pub(super) fn media_type(&self) -> Option<String> {
        let value = self.headers.get(CONTENT_TYPE)?.to_str().ok()?;
        Some(
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase(),
        )
    }

    /// `application/json` or any `+json` type.
    pub(super) fn says_json(&self) -> bool {
        self.media_type().is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
    }

    fn authorization(&self, scheme: &str) -> Option<&str> {
        let value = self.headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (given, rest) = value.trim().split_once(' ')?;
        given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
    }

    /// The token of `Authorization: Bearer …`.
    pub(super) fn bearer(&self) -> Option<&str> {
        self.authorization("Bearer")
    }

    /// `user:password` of `Authorization: Basic …`.
    pub(super) fn basic(&self) -> Option<String> {
        let encoded = self.authorization("Basic")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        String::from_utf8(decoded).ok()
    }

    pub(super) fn json(&self) -> Body {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Body::Object(map),
            Ok(other) => Body::Other(other),
            Err(e) => Body::Broken(e),
        }
    }
}

/// An answer.
pub(super) struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Reply {
    pub(super) fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    /// A status with no body.
    pub(super) fn bare(status: u16) -> Reply {
        Reply {
            status,
            content_type: "text/plain",
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub(super) fn content_type(mut self, content_type: &'static str) -> Reply {
        self.content_type = content_type;
        self
    }

    pub(super) fn header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
}

/// A string field: `Ok(None)` when absent, `Err(())` when of another type.
pub(super) fn text<'a>(body: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, ()> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(()),
    }
}

/// The running service; dropping it stops the listener.
pub(super) struct Running {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

/// Serves `service` on a fresh loopback port.
pub(super) async fn start(service: Service) -> std::io::Result<Running> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = oneshot::channel::<()>();
    let service = Arc::new(service);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = &mut stopped => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, _)) = accepted else {
                continue;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let handler = service_fn(move |request| {
                    let service = service.clone();
                    async move { Ok::<_, Infallible>(handle(&service, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), handler)
                    .await;
            });
        }
    });
    Ok(Running { addr, _stop: stop })
}

async fn handle(
    service: &Service,
    request: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let (head, body) = request.into_parts();
    let reply = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => {
            let call = Call {
                method: head.method,
                path: head.uri.path().to_string(),
                headers: head.headers,
                body: collected.to_bytes(),
            };
            route(service, call).await
        }
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Reply::json(
            413,
            json!({"error": format!("the body is over {MAX_BODY} bytes")}),
        ),
        Err(_) => Reply::json(400, json!({"error": "the body could not be read"})),
    };
    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

/// Picks the dialect by path prefix; anything else is a bare 404.
async fn route(service: &Service, call: Call) -> Reply {
    let path = call.path.as_str();
    if path.starts_with("/v1/otp/") {
        native::answer(service, call).await
    } else if path.starts_with("/loyalty/otp/") {
        rees46::answer(service, call).await
    } else if path.starts_with("/api/n/otp-handler") {
        sigmasms::answer(service, call).await
    } else if path.starts_with("/api/v1/otp/") {
        valify::answer(service, call).await
    } else if path.starts_with("/2fa/") {
        nomado::answer(service, call).await
    } else if path.starts_with("/v2/") {
        loyaltydog::answer(service, call).await
    } else if path.starts_with("/_admin/") {
        admin::answer(service, call).await
    } else {
        Reply::bare(404)
    }
}
