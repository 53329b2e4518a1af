//! Stable-toolchain driver for the `decode_request` fuzz path.
//!
//! `decode_request_replay FILE|DIR...` runs every file (every file in a directory) through the
//! same path as the fuzz target; with no argument it reads one frame from stdin (as AFL-style
//! drivers do). `decode_request_replay --write-seeds DIR` writes valid frames of every guarded
//! api key and version into DIR, to start a corpus.

use std::io::Read;
use std::path::{Path, PathBuf};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, dir] = args.as_slice() {
        if flag == "--write-seeds" {
            std::fs::create_dir_all(dir)?;
            for (i, frame) in sluice_fuzz::seed_frames().iter().enumerate() {
                std::fs::write(Path::new(dir).join(format!("seed-{i:03}")), frame)?;
            }
            return Ok(());
        }
    }
    if args.is_empty() {
        let mut frame = Vec::new();
        std::io::stdin().read_to_end(&mut frame)?;
        sluice_fuzz::decode_request(&frame);
        return Ok(());
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in &args {
        let path = PathBuf::from(arg);
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                files.push(entry?.path());
            }
        } else {
            files.push(path);
        }
    }
    for file in &files {
        sluice_fuzz::decode_request(&std::fs::read(file)?);
    }
    println!("{} frames replayed without a panic", files.len());
    Ok(())
}
