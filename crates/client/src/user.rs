//! `sluice user create|list|delete`: SCRAM users (KIP-554), what `kafka-configs --entity-type
//! users --alter --add-config 'SCRAM-SHA-256=[iterations=8192,password=...]'` and
//! `--describe` / `--delete-config` do.
//!
//! `create` salts and hashes the password here (a random 32-byte salt, PBKDF2 with the
//! mechanism's hash and `--iterations`) and sends only the salt and the salted password in an
//! AlterUserScramCredentials upsertion: the password never leaves the client. The password
//! comes from `--password`, `--password-file FILE` (`-` for stdin) or, without either, from
//! stdin when it is not a terminal (no prompt); one trailing newline is dropped.
//!
//! `list` shows user, mechanism and iteration count (DescribeUserScramCredentials; never salts
//! or keys); `delete` removes the credentials of the mechanisms given, or all of the user's.
//! Changes go to the controller (any Sluice broker forwards them); a per-user error is one
//! error line with Kafka's code and a non-zero exit status.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use clap::{Args, Subcommand};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
    DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;
use sluice_security::scram::random_salt;
use sluice_security::ScramMechanism;

use crate::client_settings::{ClientSettings, Role};
use crate::connect_args::ConnectArgs;
use crate::table::Table;
use crate::wire::{ClusterClient, RequestError};

/// How long the command may spend on its requests in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Both APIs have only v0.
pub const VERSIONS: std::ops::RangeInclusive<i16> = 0..=0;
/// Kafka's RESOURCE_NOT_FOUND: a user without credentials.
pub const RESOURCE_NOT_FOUND: i16 = 91;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct UserArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum UserCommand {
    /// Create a SCRAM user, or set a new password (the credential of each mechanism given is
    /// replaced).
    Create(CreateArgs),
    /// List SCRAM users: user, mechanism and iterations.
    List {
        /// Only these users (default: all).
        #[arg(value_name = "USER")]
        users: Vec<String>,
    },
    /// Delete a user's SCRAM credentials: those of the mechanisms given, or all of them.
    Delete {
        #[arg(value_name = "USER")]
        user: String,
        /// Only this mechanism's credential (repeatable): SCRAM-SHA-256 or SCRAM-SHA-512.
        #[arg(long = "mechanism", value_name = "MECHANISM", value_parser = parse_mechanism)]
        mechanisms: Vec<ScramMechanism>,
    },
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct CreateArgs {
    #[arg(value_name = "USER")]
    pub user: String,
    /// The password (visible to other users of this machine in the process list: prefer
    /// --password-file or stdin).
    #[arg(long, value_name = "PASSWORD", conflicts_with = "password_file")]
    pub password: Option<Password>,
    /// Read the password from FILE (`-`: stdin); one trailing newline is dropped.
    #[arg(long = "password-file", value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// SCRAM-SHA-256 or SCRAM-SHA-512 (repeatable: one credential each).
    #[arg(
        long = "mechanism",
        value_name = "MECHANISM",
        value_parser = parse_mechanism,
        default_value = "SCRAM-SHA-256"
    )]
    pub mechanisms: Vec<ScramMechanism>,
    /// PBKDF2 iterations, 4096 to 16384 (Kafka's bounds).
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = parse_iterations)]
    pub iterations: u32,
}

/// A password from the command line; its debug form hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl std::str::FromStr for Password {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Password(s.to_string()))
    }
}

fn parse_mechanism(text: &str) -> Result<ScramMechanism, String> {
    ScramMechanism::from_name(text)
        .ok_or_else(|| format!("'{text}' is not a SCRAM mechanism: SCRAM-SHA-256 or SCRAM-SHA-512"))
}

fn parse_iterations(text: &str) -> Result<u32, String> {
    let mechanism = ScramMechanism::Sha256;
    let (min, max) = (mechanism.min_iterations(), mechanism.max_iterations());
    text.parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("'{text}': SCRAM takes {min} to {max} iterations"))
}

pub async fn run(args: UserArgs) -> Result<()> {
    let settings = ClientSettings::from_args(&args.connect, Role::Admin)?;
    for warning in &settings.ignored {
        eprintln!("warning: {warning}");
    }
    // The password is read before any connection: a missing one fails at once.
    let password = match &args.command {
        UserCommand::Create(create) => Some(password(create)?),
        _ => None,
    };
    let mut client = ClusterClient::new(&settings);
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    match args.command {
        UserCommand::Create(create) => {
            let password = password.unwrap_or_default();
            create_user(&mut client, &create, &password, deadline).await
        }
        UserCommand::List { users } => {
            let (table, missing) = list_users(&mut client, &users, deadline).await?;
            print!("{}", table.render());
            match missing.as_slice() {
                [] => Ok(()),
                _ => bail!("no SCRAM credentials for user(s): {}", missing.join(", ")),
            }
        }
        UserCommand::Delete { user, mechanisms } => {
            delete_user(&mut client, &user, mechanisms, deadline).await
        }
    }
}

/// The password of `create`, from the flag, the file or stdin.
fn password(args: &CreateArgs) -> Result<String> {
    let text = match (&args.password, &args.password_file) {
        (Some(Password(p)), _) => p.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => read_stdin()?,
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| anyhow!("--password-file {}: {e}", path.display()))?,
        (None, None) => {
            if std::io::stdin().is_terminal() {
                bail!("give the password with --password, --password-file FILE, or on stdin");
            }
            read_stdin()?
        }
    };
    let password = text
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&text)
        .to_string();
    if password.is_empty() {
        bail!("the password is empty");
    }
    Ok(password)
}

fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| anyhow!("reading the password from stdin: {e}"))?;
    Ok(text)
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

async fn create_user(
    client: &mut ClusterClient,
    args: &CreateArgs,
    password: &str,
    deadline: Instant,
) -> Result<()> {
    if args.user.is_empty() {
        bail!("the user name is empty");
    }
    let mut mechanisms = args.mechanisms.clone();
    mechanisms.sort();
    mechanisms.dedup();
    let mut upsertions = Vec::with_capacity(mechanisms.len());
    for mechanism in &mechanisms {
        upsertions.push(upsertion(
            &args.user,
            *mechanism,
            password,
            args.iterations,
        )?);
    }
    alter(client, Vec::new(), upsertions, deadline).await?;
    for mechanism in &mechanisms {
        println!(
            "user {}: {mechanism} credential set ({} iterations)",
            args.user, args.iterations
        );
    }
    Ok(())
}

/// The upsertion of `user`'s credential for `mechanism`: a random 32-byte salt and the
/// password salted with PBKDF2 here, so that the password itself is never sent.
pub fn upsertion(
    user: &str,
    mechanism: ScramMechanism,
    password: &str,
    iterations: u32,
) -> Result<ScramCredentialUpsertion> {
    let salt = random_salt().map_err(|e| anyhow!("{e}"))?;
    let salted = mechanism.salted_password(password.as_bytes(), &salt, iterations);
    Ok(ScramCredentialUpsertion::default()
        .with_name(text(user))
        .with_mechanism(mechanism.type_number())
        .with_iterations(i32::try_from(iterations).unwrap_or(i32::MAX))
        .with_salt(Bytes::from(salt))
        .with_salted_password(Bytes::from(salted)))
}

/// DescribeUserScramCredentials for `users` (all when empty), from any broker; a user's
/// error other than RESOURCE_NOT_FOUND (no credentials) fails the whole answer.
pub async fn describe(
    client: &mut ClusterClient,
    users: &[String],
    deadline: Instant,
) -> Result<DescribeUserScramCredentialsResponse, RequestError> {
    let names: Option<Vec<UserName>> = if users.is_empty() {
        None
    } else {
        Some(
            users
                .iter()
                .map(|u| UserName::default().with_name(text(u)))
                .collect(),
        )
    };
    let (response, _) = client
        .send_to_any::<DescribeUserScramCredentialsRequest>(
            VERSIONS,
            |_| DescribeUserScramCredentialsRequest::default().with_users(names.clone()),
            deadline,
        )
        .await?;
    if response.error_code != 0 {
        let message = response.error_message.as_deref();
        return Err(RequestError::broker(
            response.error_code,
            "DescribeUserScramCredentials",
            message,
        ));
    }
    if let Some(failed) = response
        .results
        .iter()
        .find(|r| r.error_code != 0 && r.error_code != RESOURCE_NOT_FOUND)
    {
        return Err(RequestError::broker(
            failed.error_code,
            &format!("user {}", failed.user),
            failed.error_message.as_deref(),
        ));
    }
    Ok(response)
}

/// The users' credentials as a table, and the users named that have none.
async fn list_users(
    client: &mut ClusterClient,
    users: &[String],
    deadline: Instant,
) -> Result<(Table, Vec<String>)> {
    let response = describe(client, users, deadline).await?;
    let mut table = Table::new(&["USER", "MECHANISM", "ITERATIONS"]);
    let mut missing = Vec::new();
    for result in &response.results {
        if result.error_code == RESOURCE_NOT_FOUND {
            missing.push(result.user.to_string());
        }
        for info in &result.credential_infos {
            let mechanism = ScramMechanism::from_type_number(info.mechanism)
                .map_or_else(|| format!("UNKNOWN({})", info.mechanism), |m| m.to_string());
            table.push(vec![
                result.user.to_string(),
                mechanism,
                info.iterations.to_string(),
            ]);
        }
    }
    Ok((table, missing))
}

async fn delete_user(
    client: &mut ClusterClient,
    user: &str,
    mut mechanisms: Vec<ScramMechanism>,
    deadline: Instant,
) -> Result<()> {
    if mechanisms.is_empty() {
        let response = describe(client, &[user.to_string()], deadline).await?;
        mechanisms = response
            .results
            .iter()
            .flat_map(|r| &r.credential_infos)
            .filter_map(|c| ScramMechanism::from_type_number(c.mechanism))
            .collect();
        if mechanisms.is_empty() {
            bail!("user {user} has no SCRAM credentials");
        }
    }
    mechanisms.sort();
    mechanisms.dedup();
    let deletions = mechanisms
        .iter()
        .map(|m| {
            ScramCredentialDeletion::default()
                .with_name(text(user))
                .with_mechanism(m.type_number())
        })
        .collect();
    alter(client, deletions, Vec::new(), deadline).await?;
    for mechanism in &mechanisms {
        println!("user {user}: {mechanism} credential deleted");
    }
    Ok(())
}

/// One AlterUserScramCredentials to the controller; the first user's error, if any.
pub async fn alter(
    client: &mut ClusterClient,
    deletions: Vec<ScramCredentialDeletion>,
    upsertions: Vec<ScramCredentialUpsertion>,
    deadline: Instant,
) -> Result<(), RequestError> {
    let (response, _) = client
        .send_to_controller::<AlterUserScramCredentialsRequest>(
            VERSIONS,
            |_| {
                AlterUserScramCredentialsRequest::default()
                    .with_deletions(deletions.clone())
                    .with_upsertions(upsertions.clone())
            },
            deadline,
        )
        .await?;
    if let Some(failed) = response.results.iter().find(|r| r.error_code != 0) {
        return Err(RequestError::broker(
            failed.error_code,
            &format!("user {}", failed.user),
            failed.error_message.as_deref(),
        ));
    }
    Ok(())
}
