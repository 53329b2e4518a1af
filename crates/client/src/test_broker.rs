//! For tests: a real Sluice broker in the test process, on an ephemeral loopback port with its
//! data in a temporary directory, and the command-line parsing the binary uses.

use clap::Parser;
use sluice_broker::{BrokerConfig, ServerHandle};

/// A single-node Sluice cluster. Stop it with [`TestBroker::stop`]; a test that panics first
/// leaves it to the end of the process (its runtime goes away with the test).
pub struct TestBroker {
    handle: ServerHandle,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl TestBroker {
    pub async fn start(settings: &[(&str, &str)]) -> TestBroker {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = BrokerConfig::default();
        let log_dirs = dir.path().display().to_string();
        let own = [
            ("listeners", "PLAINTEXT://127.0.0.1:0"),
            ("log.dirs", log_dirs.as_str()),
        ];
        for (key, value) in own.iter().chain(settings) {
            config
                .set(key, value)
                .unwrap_or_else(|e| panic!("{key}={value}: {e}"));
        }
        let handle = sluice_broker::start(config).await.expect("broker starts");
        let addr = handle.local_addr.to_string();
        TestBroker {
            handle,
            addr,
            _dir: dir,
        }
    }

    pub async fn stop(self) {
        self.handle.shutdown().await;
    }
}

/// Parses a command line of one client command (without the command name) into its argument
/// struct, as the binary would.
pub fn parse<T: clap::Args + clap::FromArgMatches>(args: &[&str]) -> T {
    #[derive(Parser)]
    struct Wrapper<T: clap::Args> {
        #[command(flatten)]
        inner: T,
    }
    Wrapper::<T>::try_parse_from(std::iter::once("sluice").chain(args.iter().copied()))
        .map(|w| w.inner)
        .unwrap_or_else(|e| panic!("bad test arguments {args:?}: {e}"))
}
