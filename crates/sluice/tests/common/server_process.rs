//! One `sluice server` run by a test as the binary, for the tests that need a broker
//! configured as an operator would (an authorizer, SASL listeners): its config written to a
//! properties file in a temporary directory, its listeners on ephemeral loopback ports, their
//! addresses read from its log, and the process killed however the test ends.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a single node may take to elect itself, create its internal topics and listen.
pub const SERVER_STARTUP_DEADLINE: Duration = Duration::from_secs(60);
/// Lines of the server's log shown to explain a failure.
const LOG_TAIL_LINES: usize = 100;

/// A running `sluice server`. Dropping it kills the process.
pub struct ServerProcess {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// Listener name -> `host:port` it listens on.
    listeners: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts a server with `settings` (Kafka's broker config keys) plus a fresh `log.dirs`,
    /// and waits, within [`SERVER_STARTUP_DEADLINE`], until it says it serves.
    pub fn start(settings: &[(&str, &str)]) -> ServerProcess {
        let dir = tempfile::tempdir().expect("temporary directory");
        // The admin listener on an ephemeral port: tests run several servers at once.
        let mut properties = format!(
            "log.dirs={}\nadmin.listeners=http://127.0.0.1:0\nschema.registry.listeners=http://127.0.0.1:0\nrest.proxy.listeners=http://127.0.0.1:0\n",
            dir.path().join("data").display()
        );
        for (key, value) in settings {
            properties.push_str(&format!("{key}={value}\n"));
        }
        let config = dir.path().join("server.properties");
        std::fs::write(&config, properties).expect("write server.properties");
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["server", "--config"])
            .arg(&config)
            .env("SLUICE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sluice server");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let lines = Arc::clone(&log);
        // Reads the log to the end, so that the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("SLUICE_TEST_VERBOSE").is_some() {
                    eprintln!("{line}");
                }
                lines.lock().expect("log lock").push(line.clone());
                let _ = tx.send(line);
            }
        });
        let mut server = ServerProcess {
            child,
            log,
            listeners: Vec::new(),
            _dir: dir,
        };
        let deadline = Instant::now() + SERVER_STARTUP_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(listener) = listener_of(&line) {
                        server.listeners.push(listener);
                    }
                    if line.contains(" serving, data in ") {
                        return server;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "sluice server did not serve in time; log:\n{}",
                        server.log_tail()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "sluice server exited at startup; log:\n{}",
                        server.log_tail()
                    )
                }
            }
        }
    }

    /// The `host:port` of listener `name` (as named in `listeners`, upper case).
    pub fn addr(&self, name: &str) -> String {
        self.listeners
            .iter()
            .find(|(listener, _)| listener == name)
            .map(|(_, addr)| addr.clone())
            .unwrap_or_else(|| panic!("no listener {name}: {:?}", self.listeners))
    }

    /// The last lines of its log so far.
    pub fn log_tail(&self) -> String {
        let lines = self.log.lock().expect("log lock");
        let from = lines.len().saturating_sub(LOG_TAIL_LINES);
        lines[from..].join("\n")
    }

    /// Whether any line of its log so far contains `needle`.
    pub fn log_contains(&self, needle: &str) -> bool {
        let lines = self.log.lock().expect("log lock");
        lines.iter().any(|line| line.contains(needle))
    }
}

/// `(name, host:port)` of a line `... listener NAME listening on HOST:PORT (advertised ...)`.
fn listener_of(line: &str) -> Option<(String, String)> {
    let rest = line.split(" listener ").nth(1)?;
    let (name, rest) = rest.split_once(" listening on ")?;
    let addr = rest.split_whitespace().next()?;
    Some((name.to_string(), addr.to_string()))
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return; // reaped: its pid may belong to another process by now
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
