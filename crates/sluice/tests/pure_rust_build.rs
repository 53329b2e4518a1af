//! The `sluice` binary builds with the Rust toolchain alone: its dependency tree holds no C
//! Kafka client (`rdkafka`, `rdkafka-sys`) and nothing that needs cmake. librdkafka is used only
//! by `sluice-bench` and by tests (dev-dependencies), which `cargo tree -e normal` leaves out.
//! Build dependencies are included (`-e normal,build`): cmake is one (of `rdkafka-sys`), and
//! `-e normal` alone would not show it. (The C codecs kafka-protocol uses, lz4 and zstd, are
//! built by the `cc` crate with the C compiler the Rust toolchain links with; no cmake.)

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Packages the binary must not depend on.
const FORBIDDEN: &[&str] = &["rdkafka", "rdkafka-sys", "cmake"];

#[test]
fn the_sluice_package_depends_on_no_c_kafka_client_and_no_cmake() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The cargo running this test; plain `cargo` when the test binary is run by hand.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut child = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "sluice",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--offline",
            "--locked",
        ])
        .current_dir(&workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo tree starts");
    let mut stdout = child.stdout.take().expect("stdout piped");
    let mut stderr = child.stderr.take().expect("stderr piped");
    // Read on threads so a full pipe cannot stall cargo while the deadline is polled.
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("cargo tree runs") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cargo tree did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let tree = out_reader.join().expect("stdout reader");
    let errors = err_reader.join().expect("stderr reader");
    assert!(status.success(), "cargo tree failed: {errors}");
    // Each line is "name vX.Y.Z[ (path)][ (*)]".
    let packages: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(
        packages.contains(&"sluice-protocol") && packages.contains(&"kafka-protocol"),
        "not a dependency tree of sluice:\n{tree}"
    );
    let found: Vec<&&str> = FORBIDDEN
        .iter()
        .filter(|name| packages.contains(name))
        .collect();
    assert!(
        found.is_empty(),
        "the sluice binary depends on {found:?}; it must build without a C Kafka client:\n{tree}"
    );
}
