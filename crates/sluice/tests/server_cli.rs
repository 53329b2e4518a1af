//! `sluice server` as an operator runs it: configuration errors stop startup with a clear
//! message, a properties file is read, and SIGTERM shuts down cleanly with logs checkpointed.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sluice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
}

fn run_to_end(cmd: &mut Command) -> (i32, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            child
                .stderr
                .take()
                .expect("stderr")
                .read_to_string(&mut err)
                .expect("read");
            return (status.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sluice server did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn unknown_and_invalid_keys_stop_startup() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = run_to_end(sluice().args(["server", "--set", "log.retention.weeks=2"]));
    assert_ne!(code, 0);
    assert!(
        err.contains("unknown configuration key 'log.retention.weeks'"),
        "{err}"
    );

    let (code, err) = run_to_end(sluice().args(["server", "--set", "num.partitions=zero"]));
    assert_ne!(code, 0);
    assert!(err.contains("num.partitions"), "{err}");

    let (code, err) = run_to_end(sluice().args(["server", "--set", "novalue"]));
    assert_ne!(code, 0);
    assert!(err.contains("key=value"), "{err}");

    let props = dir.path().join("server.properties");
    std::fs::write(&props, "num.partitions=2\nbogus.key=1\n").unwrap();
    let (code, err) = run_to_end(sluice().args(["server", "--config"]).arg(&props));
    assert_ne!(code, 0);
    assert!(err.contains("bogus.key"), "{err}");

    let (code, err) =
        run_to_end(sluice().args(["server", "--config", "/nonexistent/server.properties"]));
    assert_ne!(code, 0);
    assert!(err.contains("cannot read config file"), "{err}");
}

#[test]
fn config_file_is_read_and_sigterm_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let props = dir.path().join("server.properties");
    std::fs::write(
        &props,
        format!(
            "# Kafka-style file\nlisteners=PLAINTEXT://127.0.0.1:0\nadmin.listeners=http://127.0.0.1:0\nschema.registry.listeners=http://127.0.0.1:0\nrest.proxy.listeners=http://127.0.0.1:0\nlog.dirs={}\nnum.partitions=3\nnum.network.threads=3\n",
            data.display()
        ),
    )
    .unwrap();
    let mut child = sluice()
        .args(["server", "--config"])
        .arg(&props)
        .args(["--set", "auto.create.topics.enable=true"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = String::new();
        let mut buf = [0u8; 4096];
        loop {
            match stderr.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    all.push_str(&String::from_utf8_lossy(&buf[..n]));
                    let _ = tx.send(all.clone());
                }
            }
        }
    });
    let mut log = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log.contains("listening on") {
        assert!(Instant::now() < deadline, "no listening line: {log}");
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            log = l;
        }
    }
    assert!(
        log.contains("num.network.threads"),
        "ignored keys are reported: {log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "no colour codes when stderr is not a terminal"
    );
    let port: u16 = log
        .split("listening on 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .expect("port");

    // num.partitions from the file applies to an auto-created topic.
    let producer: rdkafka::producer::BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .create()
        .unwrap();
    let md = rdkafka::producer::Producer::client(&producer)
        .fetch_metadata(Some("from-file"), Duration::from_secs(10))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut partitions = md.topics()[0].partitions().len();
    while partitions != 3 && Instant::now() < deadline {
        let md = rdkafka::producer::Producer::client(&producer)
            .fetch_metadata(Some("from-file"), Duration::from_secs(10))
            .unwrap();
        partitions = md.topics()[0].partitions().len();
    }
    assert_eq!(partitions, 3);
    drop(producer);

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        log = l;
    }
    assert!(
        log.contains("received SIGTERM") && log.contains("stopped"),
        "{log}"
    );
    // Every partition was closed cleanly.
    for p in 0..3 {
        let dir = data.join(format!("from-file-{p}"));
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().any(|n| n.contains("clean")),
            "clean-shutdown marker in {names:?}"
        );
    }

    // The data now belongs to a cluster: a node configured for another one refuses to start,
    // names both ids, and leaves every file as it was.
    let meta = std::fs::read_to_string(data.join("meta.properties")).unwrap();
    let ours = meta
        .lines()
        .find_map(|l| l.strip_prefix("cluster.id="))
        .expect("cluster.id in meta.properties")
        .to_string();
    let before = snapshot(&data);
    let (code, err) = run_to_end(
        sluice()
            .args(["server", "--config"])
            .arg(&props)
            .args(["--set", "cluster.id=QW5vdGhlckNsdXN0ZXJJZA"]),
    );
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("QW5vdGhlckNsdXN0ZXJJZA") && err.contains(&ours),
        "{err}"
    );
    assert_eq!(
        snapshot(&data),
        before,
        "files changed by the refused start"
    );
}

/// Every file under `dir` with its contents and modification time.
fn snapshot(
    dir: &std::path::Path,
) -> std::collections::BTreeMap<std::path::PathBuf, (Vec<u8>, std::time::SystemTime)> {
    let mut files = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let modified = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .expect("mtime");
                files.insert(
                    path.clone(),
                    (std::fs::read(&path).expect("read"), modified),
                );
            }
        }
    }
    files
}
