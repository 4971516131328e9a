//! The plain-HTTP workload of `otpbench load --url` and of the
//! `--reference-url` workload: one request per iteration, tallied by its
//! status (any status outside 2xx/3xx is an error), recorded as operation
//! `http`.
//!
//! The request is built once (`client::HttpRequest`) and sent through
//! the `client::Executor`: its raw path for `http://` (one connection per
//! lane — what makes `--url` comparable with wrk), hyper's pool for
//! `https://` (one pool per worker). The executor applies the timeout.
//! This module builds no bytes and parses no answers itself; `transport`
//! is the one map from an executor's error to a tally.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::client::{probe, Executor, HttpOptions, HttpRequest, Lane, TransportError};
use crate::load::recorder::{OpId, Operations, Recorder, Tally, Transport};
use crate::load::worker::{Iteration, WorkerPlace, Workload, WorkloadSpec};

/// The operation every request of this workload is recorded as.
pub(crate) const OPERATION: &str = "http";

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
    pub(crate) fn label(&self) -> String {
        format!("{} {}", self.method.to_ascii_uppercase(), self.url)
    }
}

/// The workload, ready to be opened by each worker.
pub(crate) struct HttpSpec {
    operations: Operations,
    request: HttpRequest,
    executor: Executor,
    label: String,
}

impl HttpSpec {
    /// Prepares `template`: builds the request once and the executor for
    /// it (the raw path, its host resolved, for `http://`; hyper's pool
    /// for `https://`), each answer awaited up to `timeout`.
    pub(crate) async fn new(
        template: &HttpTemplate,
        timeout: Duration,
    ) -> Result<HttpSpec, String> {
        let operations = Operations::new([OPERATION]).map_err(|e| e.to_string())?;
        let request = HttpRequest::new(
            &template.method,
            &template.url,
            &template.headers,
            Bytes::from(template.body.clone()),
        )?;
        let executor = if request.uri().scheme_str() == Some("http") {
            Executor::raw(request.uri(), timeout).await?
        } else {
            Executor::pooled(HttpOptions {
                timeout,
                insecure: template.insecure,
                ..HttpOptions::default()
            })?
        };
        Ok(HttpSpec {
            operations,
            request,
            executor,
            label: template.label(),
        })
    }

    /// Whether anything answers: one request, its status or why not
    /// ([`crate::client::probe`]).
    pub(crate) async fn probe(&self) -> Result<u16, String> {
        probe(&self.executor, &self.request)
            .await
            .map_err(|e| e.to_string())
    }
}

impl WorkloadSpec for HttpSpec {
    type Workload = HttpWorkload;

    fn operations(&self) -> Operations {
        self.operations.clone()
    }

    async fn open(&self, _place: WorkerPlace) -> Result<HttpWorkload, String> {
        Ok(HttpWorkload {
            op: self.operations.id(OPERATION).expect("declared"),
            executor: self.executor.for_worker()?,
            request: self.request.clone(),
            label: self.label.clone(),
            first_error: RefCell::new(None),
        })
    }
}

/// One worker's side of the workload.
pub(crate) struct HttpWorkload {
    op: OpId,
    executor: Executor,
    request: HttpRequest,
    /// `GET http://…`, for errors.
    label: String,
    first_error: RefCell<Option<String>>,
}

impl HttpWorkload {
    fn note(&self, error: impl FnOnce() -> String) {
        let mut first = self.first_error.borrow_mut();
        if first.is_none() {
            *first = Some(error());
        }
    }

    async fn once(&self, lane: &mut Lane) -> Tally {
        match self.executor.status(lane, &self.request).await {
            Ok(status) => Tally::Status(status),
            Err(error) => {
                let tally = Tally::Transport(transport(&error));
                self.note(|| error.to_string());
                tally
            }
        }
    }
}

/// The transport failure a report counts an executor error as: the one
/// map from [`TransportError`] to a tally, for every workload.
pub(crate) fn transport(error: &TransportError) -> Transport {
    match error {
        TransportError::Connect(_) => Transport::Connect,
        TransportError::Timeout(_) => Transport::Timeout,
        TransportError::Io(_) | TransportError::TooLarge => Transport::Io,
    }
}

impl Workload for HttpWorkload {
    /// Raw path: the lane's connection; pooled path: nothing.
    type Lane = Lane;

    fn first(&self) -> OpId {
        self.op
    }

    async fn lane(&self) -> Result<Lane, String> {
        let mut lane = self.executor.lane();
        lane.connect()
            .await
            .map_err(|e| format!("{}: {e}", self.label))?;
        Ok(lane)
    }

    async fn iterate(&self, lane: &mut Lane, iteration: Iteration, recorder: &RefCell<Recorder>) {
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
        lane: &mut Lane,
        iteration: Iteration,
        started: Instant,
        recorder: &RefCell<Recorder>,
    ) {
        // The answer may still come: the connection is of no more use.
        lane.close();
        recorder.borrow_mut().record(
            self.op,
            Tally::Transport(Transport::Timeout),
            iteration.timing(started, Instant::now()),
        );
    }
}
