//! Bootstrap metadata: commands a node's storage was formatted with (`sluice storage format
//! --add-scram ...`, Kafka's `kafka-storage format`, which writes `bootstrap.checkpoint`), for
//! the cluster's metadata log to start with, such as a first SCRAM admin user, so that a
//! cluster whose listeners all require SASL can be logged into from its first start.
//!
//! File: `bootstrap.json` in the metadata directory, JSON
//! `{"version": 1, "commands": [<MetadataCommand>...]}`, replaced atomically (written to a
//! temporary file, fsynced, renamed).
//!
//! On start a node that finds the file proposes its commands as one
//! [`MetadataCommand::Bootstrap`] (retried until the quorum has a leader), then renames the file
//! `bootstrap.json.applied`. The image applies the first bootstrap of a cluster and ignores any
//! later one (another formatted node's, or a retry after a crash between the commit and the
//! rename), as Kafka uses the bootstrap records of a new cluster only.

use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::command::MetadataCommand;
use crate::controller::{Controller, Inner};
use crate::record_file::replace_file;

/// The bootstrap file's name in the metadata directory.
pub const BOOTSTRAP_FILE: &str = "bootstrap.json";
/// What the file is renamed to once its commands are in the metadata log.
const APPLIED_SUFFIX: &str = ".applied";
const VERSION: u32 = 1;
/// Pause before proposing again when the quorum did not take the proposal.
const RETRY_BACKOFF: Duration = Duration::from_millis(500);

#[derive(Serialize, Deserialize)]
struct BootstrapFile {
    version: u32,
    commands: Vec<MetadataCommand>,
}

/// Writes `commands` as the bootstrap metadata of the metadata directory `dir` (created if
/// missing).
pub fn write_bootstrap_metadata(dir: &Path, commands: &[MetadataCommand]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let file = BootstrapFile {
        version: VERSION,
        commands: commands.to_vec(),
    };
    let bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
    replace_file(dir, BOOTSTRAP_FILE, &bytes)
}

/// The bootstrap commands of `dir`, if it has some not yet applied.
pub(crate) fn read_bootstrap_metadata(dir: &Path) -> std::io::Result<Option<Vec<MetadataCommand>>> {
    let bytes = match std::fs::read(dir.join(BOOTSTRAP_FILE)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let file: BootstrapFile = serde_json::from_slice(&bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", dir.join(BOOTSTRAP_FILE).display()),
        )
    })?;
    if file.version != VERSION {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{}: version {} is not known (expected {VERSION})",
                dir.join(BOOTSTRAP_FILE).display(),
                file.version
            ),
        ));
    }
    Ok(Some(file.commands))
}

/// Proposes `commands` as the cluster's bootstrap until the quorum applied them (or the
/// controller stops), then marks the file applied. Holds the controller weakly between
/// attempts, so a controller dropped without `shutdown()` is not kept alive.
pub(crate) async fn propose_bootstrap(
    controller: Weak<Inner>,
    dir: PathBuf,
    commands: Vec<MetadataCommand>,
    mut shutdown: watch::Receiver<bool>,
) {
    let command = MetadataCommand::Bootstrap { commands };
    loop {
        let Some(inner) = controller.upgrade() else {
            return;
        };
        let controller = Controller::from_inner(inner);
        let outcome = tokio::select! {
            outcome = controller.propose(command.clone()) => outcome,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        drop(controller);
        match outcome {
            Ok(Ok(_)) => {
                tracing::info!("bootstrap metadata from {BOOTSTRAP_FILE} is in the metadata log");
                let from = dir.join(BOOTSTRAP_FILE);
                let to = dir.join(format!("{BOOTSTRAP_FILE}{APPLIED_SUFFIX}"));
                if let Err(e) = std::fs::rename(&from, &to) {
                    tracing::warn!("cannot rename {}: {e}", from.display());
                }
                return;
            }
            Ok(Err(e)) => {
                // Refused by the image: retrying cannot help.
                tracing::error!("the bootstrap metadata in {BOOTSTRAP_FILE} was refused: {e}");
                return;
            }
            Err(e) => tracing::debug!("bootstrap metadata not proposed yet: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY_BACKOFF) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}
