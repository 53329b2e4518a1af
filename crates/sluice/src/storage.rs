//! `sluice storage format|random-uuid`: a node's storage prepared before its first start, as
//! Kafka's `kafka-storage` does it.
//!
//! `format` writes `meta.properties` (cluster id, node id) into the log directory and, with
//! `--add-scram`, the SCRAM credentials the cluster's metadata log starts with: a first admin
//! user exists before any client can connect, so listeners that require SASL can be used from
//! the start. The argument syntax is Kafka's:
//!
//! ```text
//! --add-scram 'SCRAM-SHA-256=[name=admin,password=admin-secret]'
//! --add-scram 'SCRAM-SHA-512=[name=admin,iterations=8192,password="a,b"]'
//! --add-scram 'SCRAM-SHA-256=[name=alice,iterations=8192,salt="<b64>",saltedpassword="<b64>"]'
//! ```
//! `iterations` defaults to 4096; without `salt` a random one is made; a value may be quoted
//! (then it may hold `,` and `]`). `saltedpassword` (base64, with `salt`) replaces `password`.

use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine;
use clap::{Args, Subcommand};
use sluice_broker::cluster::{format_storage, random_cluster_id, Formatted};
use sluice_broker::BrokerSettings;
use sluice_controller::{MetadataCommand, StoredScramCredential};
use sluice_security::scram::random_salt;
use sluice_security::{ScramCredential, ScramMechanism};

#[derive(Args)]
pub struct StorageArgs {
    #[command(subcommand)]
    command: StorageCommand,
}

#[derive(Subcommand)]
enum StorageCommand {
    /// Format the node's log directory (and metadata directory) before its first start.
    Format(FormatArgs),
    /// Print a new random cluster id.
    RandomUuid,
}

#[derive(Args)]
struct FormatArgs {
    /// The server.properties-style file the node will run with.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override one config key (repeatable), as for `sluice server`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// The cluster id (see `sluice storage random-uuid`); default: the config's cluster.id.
    #[arg(short = 't', long = "cluster-id", value_name = "ID")]
    cluster_id: Option<String>,
    /// A SCRAM credential the metadata log starts with (repeatable), e.g.
    /// 'SCRAM-SHA-256=[name=admin,password=admin-secret]'; also iterations=, salt= and
    /// saltedpassword= (base64).
    #[arg(long = "add-scram", value_name = "MECHANISM=[name=...,password=...]")]
    add_scram: Vec<String>,
    /// Leave an already formatted log directory as it is instead of failing.
    #[arg(long = "ignore-formatted")]
    ignore_formatted: bool,
}

pub fn run(args: StorageArgs) -> ExitCode {
    match args.command {
        StorageCommand::RandomUuid => {
            println!("{}", random_cluster_id());
            ExitCode::SUCCESS
        }
        StorageCommand::Format(format) => match run_format(&format) {
            Ok(message) => {
                println!("{message}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run_format(args: &FormatArgs) -> Result<String, String> {
    let config = crate::server_config(args.config.as_ref(), &args.set)?;
    let settings = BrokerSettings::new(&config).map_err(|e| e.to_string())?;
    let cluster_id = match (&args.cluster_id, &settings.cluster_id) {
        (Some(id), _) | (None, Some(id)) => id.clone(),
        (None, None) => {
            return Err(
                "give --cluster-id (for a new one: `sluice storage random-uuid`)".to_string(),
            )
        }
    };
    let mut commands = Vec::with_capacity(args.add_scram.len());
    for spec in &args.add_scram {
        commands.push(parse_add_scram(spec)?);
    }
    let dir = settings
        .log_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    match format_storage(&settings, &cluster_id, &commands, args.ignore_formatted)? {
        Formatted::AlreadyFormatted => Ok(format!("{dir} is already formatted; left as it is")),
        Formatted::Formatted => Ok(format!(
            "formatted {dir} for cluster {cluster_id}, node {}{}",
            settings.node_id,
            match commands.len() {
                0 => String::new(),
                n => format!(", with {n} SCRAM credential(s)"),
            }
        )),
    }
}

/// One `--add-scram` value as the command that stores the credential.
fn parse_add_scram(spec: &str) -> Result<MetadataCommand, String> {
    let bad =
        |why: &str| format!("--add-scram: {why} (expected MECHANISM=[name=...,password=...])");
    let Some((mechanism_name, rest)) = spec.split_once('=') else {
        return Err(bad("no '='"));
    };
    let mechanism = ScramMechanism::from_name(mechanism_name.trim()).ok_or_else(|| {
        format!(
            "--add-scram: '{}' is not a SCRAM mechanism: SCRAM-SHA-256 or SCRAM-SHA-512",
            mechanism_name.trim()
        )
    })?;
    let inner = rest
        .trim()
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| bad("the credential is not in [...]"))?;
    let mut name = None;
    let mut password = None;
    let mut iterations = 4096u32;
    let mut salt = None;
    let mut salted_password = None;
    for (key, value) in key_values(inner).map_err(|e| bad(&e))? {
        let base64 = |what: &str, v: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|_| format!("--add-scram: {what} is not base64"))
        };
        match key.as_str() {
            "name" => name = Some(value),
            "password" => password = Some(value),
            "iterations" => {
                iterations = value
                    .parse()
                    .map_err(|_| format!("--add-scram: iterations={value} is not a number"))?
            }
            "salt" => salt = Some(base64("salt", &value)?),
            "saltedpassword" => salted_password = Some(base64("saltedpassword", &value)?),
            other => {
                return Err(format!(
                    "--add-scram: unknown key '{other}' (name, password, iterations, salt, \
                     saltedpassword)"
                ))
            }
        }
    }
    let user = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad("no name="))?;
    let credential = match (password, salted_password) {
        (Some(_), Some(_)) => {
            return Err("--add-scram: give password or saltedpassword, not both".into())
        }
        (None, None) => return Err(bad("no password=")),
        (Some(password), None) => {
            sluice_security::scram::check_iterations(mechanism, iterations)
                .map_err(|e| format!("--add-scram: {e}"))?;
            let salt = match salt {
                Some(salt) => salt,
                None => random_salt().map_err(|e| e.to_string())?,
            };
            ScramCredential::derive(mechanism, password.as_bytes(), &salt, iterations)
        }
        (None, Some(salted)) => {
            let salt = salt.ok_or_else(|| "--add-scram: saltedpassword needs salt".to_string())?;
            ScramCredential::from_salted_password(mechanism, &salt, &salted, iterations)
                .map_err(|e| format!("--add-scram: {e}"))?
        }
    };
    Ok(upsert_scram(user, mechanism, credential))
}

/// The command that stores `user`'s `credential` in the metadata log.
pub(crate) fn upsert_scram(
    user: String,
    mechanism: ScramMechanism,
    credential: ScramCredential,
) -> MetadataCommand {
    MetadataCommand::UpsertScramCredential {
        user,
        mechanism: mechanism.type_number(),
        credential: StoredScramCredential {
            salt: credential.salt,
            stored_key: credential.stored_key,
            server_key: credential.server_key,
            iterations: credential.iterations,
        },
    }
}

/// `key=value` pairs separated by `,`; a value in double quotes may hold `,`.
fn key_values(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let key = key.trim().to_string();
        if key.is_empty() {
            return Err("an entry without a key".into());
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            for c in chars.by_ref() {
                if c == '"' {
                    closed = true;
                    break;
                }
                value.push(c);
            }
            if !closed {
                return Err(format!("the value of {key} has no closing quote"));
            }
            match chars.next() {
                None | Some(',') => {}
                Some(_) => return Err(format!("text after the quoted value of {key}")),
            }
        } else {
            for c in chars.by_ref() {
                if c == ',' {
                    break;
                }
                value.push(c);
            }
        }
        pairs.push((key, value));
        if chars.peek().is_none() {
            return Ok(pairs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(command: MetadataCommand) -> (String, i8, StoredScramCredential) {
        match command {
            MetadataCommand::UpsertScramCredential {
                user,
                mechanism,
                credential,
            } => (user, mechanism, credential),
            other => panic!("not an upsertion: {other:?}"),
        }
    }

    #[test]
    fn kafkas_add_scram_syntax_is_read() {
        let (user, mechanism, c) =
            stored(parse_add_scram("SCRAM-SHA-256=[name=admin,password=admin-secret]").unwrap());
        assert_eq!((user.as_str(), mechanism, c.iterations), ("admin", 1, 4096));
        assert_eq!(c.salt.len(), 32);
        let again = ScramCredential::derive(ScramMechanism::Sha256, b"admin-secret", &c.salt, 4096);
        assert_eq!(c.stored_key, again.stored_key);

        let salt = base64::engine::general_purpose::STANDARD.encode(b"fixed salt");
        let spec = format!(
            "SCRAM-SHA-512=[name=\"al,ice\",iterations=8192,salt=\"{salt}\",password=\"p,w]\"]"
        );
        let (user, mechanism, c) = stored(parse_add_scram(&spec).unwrap());
        assert_eq!(
            (user.as_str(), mechanism, c.iterations),
            ("al,ice", 2, 8192)
        );
        assert_eq!(c.salt, b"fixed salt");
        let expected =
            ScramCredential::derive(ScramMechanism::Sha512, b"p,w]", b"fixed salt", 8192);
        assert_eq!(c.server_key, expected.server_key);

        let salted = ScramMechanism::Sha256.salted_password(b"pw", b"fixed salt", 4096);
        let spec = format!(
            "SCRAM-SHA-256=[name=bob,salt=\"{salt}\",saltedpassword=\"{}\"]",
            base64::engine::general_purpose::STANDARD.encode(&salted)
        );
        let (_, _, c) = stored(parse_add_scram(&spec).unwrap());
        let expected = ScramCredential::derive(ScramMechanism::Sha256, b"pw", b"fixed salt", 4096);
        assert_eq!(c.stored_key, expected.stored_key);
    }

    #[test]
    fn bad_add_scram_values_are_clear_errors() {
        for (spec, expected) in [
            ("SCRAM-SHA-1=[name=a,password=b]", "not a SCRAM mechanism"),
            ("SCRAM-SHA-256=name=a,password=b", "not in [...]"),
            ("SCRAM-SHA-256=[password=b]", "no name="),
            ("SCRAM-SHA-256=[name=a]", "no password="),
            (
                "SCRAM-SHA-256=[name=a,password=b,colour=red]",
                "unknown key 'colour'",
            ),
            (
                "SCRAM-SHA-256=[name=a,password=b,iterations=100]",
                "between 4096 and 16384",
            ),
            (
                "SCRAM-SHA-256=[name=a,password=b,iterations=many]",
                "not a number",
            ),
            ("SCRAM-SHA-256=[name=a,password=\"b]", "no closing quote"),
            ("SCRAM-SHA-256=[name=a,saltedpassword=AAAA]", "needs salt"),
            (
                "SCRAM-SHA-256=[name=a,password=b,salt=!!]",
                "salt is not base64",
            ),
        ] {
            let e = parse_add_scram(spec).expect_err(spec);
            assert!(e.contains(expected), "{spec}: {e}");
            assert!(e.starts_with("--add-scram"), "{spec}: {e}");
        }
    }
}
