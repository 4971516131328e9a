//! A Redis for one test: its own `redis-server` on a free loopback port
//! when one is installed (clean state, stopped on drop), else the server at
//! `OTPBENCH_REDIS_URL` (each store then gets its own key namespace).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use otpbench::store::redis::{RedisClock, RedisOptions, RedisStore};
use otpbench::store::Store;

pub struct RedisServer {
    pub url: String,
    port: Option<u16>,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A redis-server on `port` that keeps nothing on disk, answering PING.
fn redis_server(port: u16, extra: &[&str], dir: &std::path::Path) -> Child {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !answers_ping(port) {
        assert!(
            Instant::now() < deadline,
            "redis-server did not start on {port}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let installed = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            let url = std::env::var("OTPBENCH_REDIS_URL")
                .expect("these tests need redis-server installed or OTPBENCH_REDIS_URL set");
            return RedisServer {
                url,
                port: None,
                child: None,
            };
        }
        let port = free_port();
        let mut server = RedisServer {
            url: format!("redis://127.0.0.1:{port}"),
            port: Some(port),
            child: None,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let port = self.port.expect("own server");
        self.child = Some(redis_server(port, &[], &std::env::temp_dir()));
    }

    fn signal(&self, signal: &str) {
        let child = self
            .child
            .as_ref()
            .expect("fault tests need their own redis-server");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Whether this test controls its server (fault tests need that).
    pub fn is_own(&self) -> bool {
        self.child.is_some()
    }

    /// SIGSTOP: the server stops answering but keeps its connections.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    /// Kills the server (its data is gone: it keeps nothing on disk).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a fresh server on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// A store on this server with a namespace of its own, on a manual
    /// clock kept in Redis.
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.open())
    }

    pub fn open(&self) -> RedisStore {
        self.open_in(&unique_namespace())
    }

    /// A store (its own connection) in the given namespace, on the manual
    /// clock kept there: two of them are two engines' views of one truth.
    pub fn open_in(&self, namespace: &str) -> RedisStore {
        RedisStore::open(&self.options(namespace, MANUAL)).unwrap()
    }

    /// The options the tests use: a 300 ms timeout.
    pub fn options(&self, namespace: &str, clock: RedisClock) -> RedisOptions {
        let mut options = RedisOptions::new(&self.url);
        options.namespace = namespace.to_string();
        options.timeout = Duration::from_millis(300);
        options.clock = clock;
        options
    }
}

/// The tests' manual clock: it starts where `ManualClock::default` does.
pub const MANUAL: RedisClock = RedisClock::Manual {
    start_ms: 1_700_000_000_000,
};

/// A namespace no other store of this test process uses.
pub fn unique_namespace() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "otpbench-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A frozen server ignores SIGKILL's cleanup until continued.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.kill();
    }
}

impl RedisServer {
    /// A handle on a server someone else runs (stores only; no faults).
    pub fn at(url: String) -> RedisServer {
        RedisServer {
            url,
            port: None,
            child: None,
        }
    }
}

impl RedisServer {
    /// `CLIENT PAUSE ms WRITE` from a connection of its own: Redis keeps
    /// answering reads but holds every write (scripts included) until the
    /// pause is over, then runs them.
    pub fn pause_writes(&self, ms: u64) {
        let port = self.port.expect("own server");
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let ms = ms.to_string();
        let reply = resp_simple(&mut stream, &[b"CLIENT", b"PAUSE", ms.as_bytes(), b"WRITE"]);
        assert_eq!(reply, "OK");
    }

    /// Every key, as `SCAN` (and so `redis-cli --scan`) lists them.
    pub fn scan(&self) -> Vec<Vec<u8>> {
        let port = self.port.expect("own server");
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut cursor = b"0".to_vec();
        let mut keys = Vec::new();
        loop {
            send_command(&mut stream, &[b"SCAN", &cursor, b"COUNT", b"1000"]);
            assert_eq!(read_line(&mut stream), "*2");
            cursor = read_bulk(&mut stream);
            let count: usize = read_line(&mut stream)[1..].parse().unwrap();
            keys.extend((0..count).map(|_| read_bulk(&mut stream)));
            if cursor == b"0" {
                return keys;
            }
        }
    }

    /// Every key and its value (strings, or hash fields and values joined),
    /// read over plain RESP so the check does not trust the store's client.
    pub fn dump(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let port = self.port.expect("own server");
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut out = Vec::new();
        for key in resp_array(&mut stream, &[b"KEYS", b"*"]) {
            let kind = resp_simple(&mut stream, &[b"TYPE", &key]);
            let value = match kind.as_str() {
                "string" => resp_bulk(&mut stream, &[b"GET", &key]),
                "hash" => resp_array(&mut stream, &[b"HGETALL", &key]).concat(),
                other => panic!("unexpected key type {other}"),
            };
            out.push((key, value));
        }
        out
    }
}

fn send_command(stream: &mut TcpStream, parts: &[&[u8]]) {
    let mut command = format!("*{}\r\n", parts.len()).into_bytes();
    for part in parts {
        command.extend(format!("${}\r\n", part.len()).as_bytes());
        command.extend(*part);
        command.extend(b"\r\n");
    }
    stream.write_all(&command).unwrap();
}

fn read_line(stream: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        stream.read_exact(&mut byte).unwrap();
        line.push(byte[0]);
    }
    String::from_utf8(line[..line.len() - 2].to_vec()).unwrap()
}

fn read_bulk(stream: &mut TcpStream) -> Vec<u8> {
    let header = read_line(stream);
    let len: usize = header[1..].parse().unwrap();
    let mut data = vec![0u8; len + 2];
    stream.read_exact(&mut data).unwrap();
    data.truncate(len);
    data
}

fn resp_simple(stream: &mut TcpStream, parts: &[&[u8]]) -> String {
    send_command(stream, parts);
    read_line(stream)[1..].to_string()
}

fn resp_bulk(stream: &mut TcpStream, parts: &[&[u8]]) -> Vec<u8> {
    send_command(stream, parts);
    read_bulk(stream)
}

fn resp_array(stream: &mut TcpStream, parts: &[&[u8]]) -> Vec<Vec<u8>> {
    send_command(stream, parts);
    let count: usize = read_line(stream)[1..].parse().unwrap();
    (0..count).map(|_| read_bulk(stream)).collect()
}

/// A three-primary Redis Cluster on loopback for one test, in a temporary
/// folder of its own; stopped and removed on drop.
pub struct RedisCluster {
    pub url: String,
    nodes: Vec<Child>,
    dir: std::path::PathBuf,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        let dir = std::env::temp_dir().join(format!("otpbench-cluster-{}", unique_namespace()));
        std::fs::create_dir_all(&dir).unwrap();
        let ports: Vec<u16> = (0..3).map(|_| free_cluster_port()).collect();
        let mut cluster = RedisCluster {
            url: String::new(),
            nodes: Vec::new(),
            dir,
        };
        for port in &ports {
            let config_file = format!("nodes-{port}.conf");
            let cluster_args = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &config_file,
            ];
            cluster
                .nodes
                .push(redis_server(*port, &cluster_args, &cluster.dir));
        }
        let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli");
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ports.iter().all(|&p| cluster_ok(p)) {
            assert!(Instant::now() < deadline, "cluster did not become ok");
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster.url = format!("redis+cluster://{}", addresses.join(","));
        cluster
    }

    /// A store on the cluster with a namespace of its own, on a manual
    /// clock kept in the cluster.
    pub fn store(&self) -> Arc<dyn Store> {
        let mut options = RedisOptions::new(&self.url);
        options.namespace = unique_namespace();
        options.timeout = Duration::from_secs(2);
        options.clock = MANUAL;
        Arc::new(RedisStore::open(&options).unwrap())
    }
}

/// A free port whose cluster bus port (`port + 10000`) exists and is free
/// too; ephemeral ports above 55535 would put the bus past 65535.
fn free_cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port <= 55_535 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn cluster_ok(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    send_command(&mut stream, &[b"CLUSTER", b"INFO"]);
    String::from_utf8_lossy(&read_bulk(&mut stream)).contains("cluster_state:ok")
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
