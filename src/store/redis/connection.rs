//! How the Redis store reaches Redis: one connection handle over a single
//! Redis (a connection manager that reconnects) or a Redis Cluster (a
//! cluster connection that follows slot moves). Knows nothing of keys,
//! scripts or time.

use ::redis::aio::{ConnectionLike, ConnectionManager};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Cmd, Pipeline, RedisFuture, Value};
use tokio::sync::OnceCell;

/// A single Redis or a cluster.
pub(super) enum Connection {
    /// Reconnects by itself once a call (or the store's background clock
    /// reading) finds its connection dead.
    Single(ConnectionManager),
    /// Created on first use (so a cluster that is down at start-up does
    /// not stop the server); then it follows slot moves and reconnects by
    /// itself.
    Cluster(Box<ClusterState>),
}

pub(super) struct ClusterState {
    pub(super) client: ClusterClient,
    pub(super) connection: OnceCell<ClusterConnection>,
}

/// One connection handle, whichever kind.
#[derive(Clone)]
pub(super) enum Handle {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Handle {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Handle::Single(c) => c.req_packed_command(cmd),
            Handle::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Handle::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Handle::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Handle::Single(c) => c.get_db(),
            Handle::Cluster(c) => c.get_db(),
        }
    }
}
