//! The client side's tolerance, dialect by dialect: answers each vendor
//! document allows are classified as the document means them, answers it
//! forbids are `unrecognized` with a reason quoting the rule they broke.
//!
//! Every answer is canned, written from the seed in `../shared/seeds/`
//! (line by line, not from the reference engine's output), and served by
//! a stub server on `127.0.0.1:0`; it is read through the real client
//! ([`otpbench::client::Target`]: request building, sessions, HTTP,
//! classification), as `otpbench run` would read a real vendor.

mod leftovers;
mod loyaltydog;
mod nomado;
mod rees46;
mod sigmasms;
mod valify;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use otpbench::client::{BaseUrl, CodeSource, Endpoint, Target, TargetSpec};
use otpbench::dialect::{Dialect, SendOp, VerifyOp};
use otpbench::server::StoreSpec;
use otpbench::{Observed, OutcomeKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Which operation the canned answer answers.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Send,
    Verify,
}

/// What the client must make of an answer.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// Accepted, and this is the reading taken.
    Is(OutcomeKind),
    /// Accepted, and this outcome is among its readings (an expectation
    /// of it holds).
    Admits(OutcomeKind),
    /// Refused: `unrecognized`, the reason containing this text.
    Refused(&'static str),
}

/// One canned answer and what it must be read as.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The seed's line (or rule) the case comes from.
    pub why: &'static str,
    pub op: Op,
    pub status: u16,
    pub content_type: &'static str,
    pub body: &'static str,
    pub want: Want,
}

pub const JSON: &str = "application/json";

/// A JSON answer.
pub const fn json(why: &'static str, op: Op, status: u16, body: &'static str, want: Want) -> Case {
    Case {
        why,
        op,
        status,
        content_type: JSON,
        body,
        want,
    }
}

/// An answer with another content type (or none, when empty).
pub const fn other(
    why: &'static str,
    op: Op,
    status: u16,
    content_type: &'static str,
    body: &'static str,
    want: Want,
) -> Case {
    Case {
        why,
        op,
        status,
        content_type,
        body,
        want,
    }
}

/// The answer the stub gives to everything but a login.
#[derive(Clone)]
struct Canned {
    status: u16,
    content_type: &'static str,
    body: &'static str,
}

/// A server answering every request with the canned answer of the
/// moment; `POST /v2/token` (LoyaltyDog's login) always with a token.
struct Stub {
    addr: SocketAddr,
    canned: Arc<Mutex<Canned>>,
    task: tokio::task::JoinHandle<()>,
}

impl Stub {
    async fn start() -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("an address");
        let canned = Arc::new(Mutex::new(Canned {
            status: 500,
            content_type: JSON,
            body: "{}",
        }));
        let shared = canned.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let canned = shared.clone();
                tokio::spawn(async move { answer(stream, canned).await });
            }
        });
        Stub { addr, canned, task }
    }

    fn set(&self, case: &Case) {
        *self.canned.lock().unwrap() = Canned {
            status: case.status,
            content_type: case.content_type,
            body: case.body,
        };
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request (head and `Content-Length` body) and answers it,
/// closing the connection.
async fn answer(mut stream: TcpStream, canned: Arc<Mutex<Canned>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
        if buffer.len() > 64 * 1024 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let login = head.starts_with("post /v2/token ");
    let Canned {
        status,
        content_type,
        body,
    } = if login {
        Canned {
            status: 200,
            content_type: JSON,
            body: r#"{"access_token": "a.b.c", "token_type": "bearer", "expires_in": 3600}"#,
        }
    } else {
        canned.lock().unwrap().clone()
    };
    let mut reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if !content_type.is_empty() {
        reply.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    reply.push_str("\r\n");
    reply.push_str(body);
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// How many cases of each kind held.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub allowed: usize,
    pub forbidden: usize,
}

/// Runs every case through the real client against the stub; panics
/// listing every case read otherwise than wanted.
pub async fn check(dialect: Dialect, to: &str, cases: &[Case]) -> Tally {
    let stub = Stub::start().await;
    let spec = TargetSpec {
        base: Endpoint::Url(BaseUrl::local(stub.addr)),
        code_source: CodeSource::Echo,
        provider: None,
        ..TargetSpec::embedded(dialect)
    };
    let target = Target::open(spec, &StoreSpec::Memory)
        .await
        .expect("the target opens");
    let mut wrong = Vec::new();
    let mut tally = Tally::default();
    for case in cases {
        stub.set(case);
        let called = match case.op {
            Op::Send => {
                let op = SendOp {
                    to: to.into(),
                    ..SendOp::default()
                };
                target.send(&op).await
            }
            Op::Verify => {
                let op = VerifyOp {
                    to: to.into(),
                    id: Some("d385ab22-0f51-4b97-9ecd-b8ff3fd4fcb6".into()),
                    code: "1234".into(),
                    ..VerifyOp::default()
                };
                target.verify(&op).await
            }
        };
        let called = called.unwrap_or_else(|e| panic!("{}: no answer: {e}", case.why));
        let observed = &called.observed;
        let held = match (case.want, observed) {
            (Want::Refused(rule), Observed::Unrecognized { reason }) => reason.contains(rule),
            (Want::Refused(_), _) => false,
            (_, Observed::Unrecognized { .. }) => false,
            (Want::Is(kind), _) => observed.kind() == kind,
            (Want::Admits(kind), _) => observed.kind() == kind || called.also.contains(&kind),
        };
        if !held {
            wrong.push(format!(
                "{} ({:?} {} {}): wanted {:?}, got {:?} (also {:?}; read: {:?})",
                case.why,
                case.op,
                case.status,
                case.body,
                case.want,
                observed,
                called.also,
                called.reading
            ));
        } else if matches!(case.want, Want::Refused(_)) {
            tally.forbidden += 1;
        } else {
            tally.allowed += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases read wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    tally
}
