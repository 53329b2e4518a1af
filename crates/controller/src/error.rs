//! [`ControllerError`]: why the controller could not do what was asked. A command that was
//! applied but rejected by the metadata rules is not an error here: it is a
//! [`CommandError`](crate::CommandError) inside [`CommandResult`](crate::CommandResult).

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("invalid controller configuration: {0}")]
    Config(String),
    #[error("controller storage: {0}")]
    Storage(String),
    #[error("controller I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("raft: {0}")]
    Raft(String),
    /// No leader answered in time, and the command was never handed to one: it was not applied.
    #[error("no controller leader accepted the command within {0:?}; it was not applied")]
    NoLeader(Duration),
    /// The command reached a leader but no answer came back in time: it may or may not commit.
    #[error("no answer within {0:?}; the command may or may not be applied")]
    Timeout(Duration),
    /// The leader failed the command after accepting it (e.g. it lost leadership): it may or may
    /// not commit.
    #[error("the command may or may not be applied: {0}")]
    OutcomeUnknown(String),
    #[error("command of {size} bytes exceeds the {max}-byte limit")]
    CommandTooLarge { size: usize, max: usize },
    #[error("the controller is shut down")]
    Shutdown,
}
