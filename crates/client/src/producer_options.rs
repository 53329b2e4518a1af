//! Producer settings shared by `produce` and `bench produce|e2e`, named as Kafka names them.

use clap::ValueEnum;

/// `acks`: how many replicas must have the record before the broker answers.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// No answer is awaited.
    #[value(name = "0")]
    None,
    /// The leader has appended it.
    #[value(name = "1")]
    Leader,
    /// Every in-sync replica has it.
    #[value(name = "all", alias = "-1")]
    All,
}

impl Acks {
    pub fn as_config(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

/// `compression.type` of produced batches.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    pub fn as_config(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}
