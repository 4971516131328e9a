//! The plain-HTTP workload of `otpbench load --url` and of the
//! `--reference-url` workload: one request per iteration, tallied by its
//! status (any status outside 2xx/3xx is an error), recorded as operation
//! `http`.
//!
//! `http://` goes through the executor's raw path
//! ([`crate::client::RawConnection`]: one connection per lane, the
//! request's bytes built once) — what makes `--url` comparable with wrk;
//! `https://` through the pooled [`crate::client::HttpClient`] (one pool
//! per worker). This module builds no bytes and parses no answers itself.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

use crate::client::{HttpClient, HttpOptions, RawConnection, RawError, RawRequest, TransportError};
use crate::load::recorder::{OpId, Operations, Recorder, Tally, Transport};
use crate::load::worker::{Iteration, WorkerPlace, Workload, WorkloadSpec};

/// The operation every request of this workload is recorded as.
pub const OPERATION: &str = "http";

/// A request to repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTemplate {
    pub method: String,
    pub url: String,
    /// Extra headers, `(name, value)`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Accept any TLS certificate (self-signed test servers).
    pub insecure: bool,
}

impl HttpTemplate {
    /// `GET url`.
    pub fn get(url: &str) -> HttpTemplate {
        HttpTemplate {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            insecure: false,
        }
    }

    /// `GET http://…/healthz`, as reports name it.
    pub fn label(&self) -> String {
        format!("{} {}", self.method.to_ascii_uppercase(), self.url)
    }
}

/// The workload, ready to be opened by each worker.
pub(crate) struct HttpSpec {
    operations: Operations,
    how: How,
    timeout: Duration,
}

enum How {
    Raw(RawRequest),
    Pooled {
        template: HttpTemplate,
        options: HttpOptions,
    },
}

impl HttpSpec {
    /// Prepares `template`: resolves the host and builds the request bytes
    /// (`http://`), or checks that hyper can build it (`https://`).
    pub(crate) async fn new(
        template: &HttpTemplate,
        timeout: Duration,
    ) -> Result<HttpSpec, String> {
        let operations = Operations::new([OPERATION]).map_err(|e| e.to_string())?;
        let how = if template.url.starts_with("http://") {
            How::Raw(
                RawRequest::new(
                    &template.method,
                    &template.url,
                    &template.headers,
                    &template.body,
                )
                .await?,
            )
        } else if template.url.starts_with("https://") {
            build(template)?;
            How::Pooled {
                template: template.clone(),
                options: HttpOptions {
                    timeout,
                    insecure: template.insecure,
                    ..HttpOptions::default()
                },
            }
        } else {
            return Err(format!(
                "{:?}: expected an http:// or https:// URL",
                template.url
            ));
        };
        Ok(HttpSpec {
            operations,
            how,
            timeout,
        })
    }

    /// Whether anything answers: one request, its status or why not.
    pub(crate) async fn probe(&self) -> Result<u16, String> {
        match &self.how {
            How::Raw(request) => {
                let mut connection = RawConnection::new(request.addr());
                match tokio::time::timeout(self.timeout, connection.exchange(request)).await {
                    Ok(result) => result.map_err(|e| e.to_string()),
                    Err(_) => Err(format!(
                        "no answer within {}",
                        crate::duration::format(self.timeout)
                    )),
                }
            }
            How::Pooled { template, options } => {
                let client = HttpClient::new(*options)?;
                let request = build(template)?;
                client
                    .execute(request)
                    .await
                    .map(|e| e.status)
                    .map_err(|e| e.to_string())
            }
        }
    }
}

fn build(template: &HttpTemplate) -> Result<Request<Full<Bytes>>, String> {
    let mut request = Request::builder()
        .method(template.method.to_ascii_uppercase().as_str())
        .uri(template.url.as_str());
    for (name, value) in &template.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    request
        .body(Full::new(Bytes::from(template.body.clone())))
        .map_err(|e| format!("cannot build {}: {e}", template.label()))
}

impl WorkloadSpec for HttpSpec {
    type Workload = HttpWorkload;

    fn operations(&self) -> Operations {
        self.operations.clone()
    }

    async fn open(&self, _place: WorkerPlace) -> Result<HttpWorkload, String> {
        let executor = match &self.how {
            How::Raw(request) => Executor::Raw(request.clone()),
            How::Pooled { template, options } => Executor::Pooled {
                client: HttpClient::new(*options)?,
                template: template.clone(),
            },
        };
        Ok(HttpWorkload {
            op: self.operations.id(OPERATION).expect("declared"),
            executor,
            timeout: self.timeout,
            first_error: RefCell::new(None),
        })
    }
}

/// One worker's side of the workload.
pub(crate) struct HttpWorkload {
    op: OpId,
    executor: Executor,
    timeout: Duration,
    first_error: RefCell<Option<String>>,
}

enum Executor {
    Raw(RawRequest),
    Pooled {
        client: HttpClient,
        template: HttpTemplate,
    },
}

impl HttpWorkload {
    fn note(&self, error: impl FnOnce() -> String) {
        let mut first = self.first_error.borrow_mut();
        if first.is_none() {
            *first = Some(error());
        }
    }

    async fn once(&self, lane: &mut Option<RawConnection>) -> Tally {
        match &self.executor {
            Executor::Raw(request) => {
                let connection = lane.as_mut().expect("raw lanes hold a connection");
                match tokio::time::timeout(self.timeout, connection.exchange(request)).await {
                    Ok(Ok(status)) => Tally::Status(status),
                    Ok(Err(error)) => {
                        self.note(|| error.to_string());
                        Tally::Transport(match error {
                            RawError::Connect(_) => Transport::Connect,
                            RawError::Io(_) => Transport::Io,
                        })
                    }
                    Err(_) => {
                        connection.close();
                        self.note(|| {
                            format!("no answer within {}", crate::duration::format(self.timeout))
                        });
                        Tally::Transport(Transport::Timeout)
                    }
                }
            }
            Executor::Pooled { client, template } => {
                let request = match build(template) {
                    Ok(request) => request,
                    Err(why) => {
                        self.note(|| why);
                        return Tally::Transport(Transport::Io);
                    }
                };
                match client.execute(request).await {
                    Ok(exchange) => Tally::Status(exchange.status),
                    Err(error) => {
                        self.note(|| error.to_string());
                        Tally::Transport(transport(&error))
                    }
                }
            }
        }
    }
}

/// The transport failure a report counts an executor error as.
pub(crate) fn transport(error: &TransportError) -> Transport {
    match error {
        TransportError::Connect(_) => Transport::Connect,
        TransportError::Timeout(_) => Transport::Timeout,
        TransportError::Io(_) | TransportError::TooLarge => Transport::Io,
    }
}

impl Workload for HttpWorkload {
    /// Raw path: the lane's connection; pooled path: nothing.
    type Lane = Option<RawConnection>;

    fn first(&self) -> OpId {
        self.op
    }

    async fn lane(&self) -> Result<Option<RawConnection>, String> {
        match &self.executor {
            Executor::Raw(request) => {
                let mut connection = RawConnection::new(request.addr());
                connection
                    .connect()
                    .await
                    .map_err(|e| format!("{}: {e}", request.label()))?;
                Ok(Some(connection))
            }
            Executor::Pooled { .. } => Ok(None),
        }
    }

    async fn iterate(
        &self,
        lane: &mut Option<RawConnection>,
        iteration: Iteration,
        recorder: &RefCell<Recorder>,
    ) {
        let started = Instant::now();
        let tally = self.once(lane).await;
        let finished = Instant::now();
        recorder
            .borrow_mut()
            .record(self.op, tally, iteration.timing(started, finished));
    }

    fn first_error(&self) -> Option<String> {
        self.first_error.borrow().clone()
    }

    fn cut(
        &self,
        lane: &mut Option<RawConnection>,
        iteration: Iteration,
        started: Instant,
        recorder: &RefCell<Recorder>,
    ) {
        // The answer may still come: the connection is of no more use.
        if let Some(connection) = lane {
            connection.close();
        }
        recorder.borrow_mut().record(
            self.op,
            Tally::Transport(Transport::Timeout),
            iteration.timing(started, Instant::now()),
        );
    }
}
