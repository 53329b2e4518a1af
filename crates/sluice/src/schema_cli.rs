//! `sluice schema list|get|register|check|delete|config`: the schema registry from the command
//! line, through its HTTP API (Confluent's), so it works against any node's registry.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method};
use base64::Engine;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use sluice_http::schema_registry::forward;

#[derive(Args)]
pub struct SchemaArgs {
    /// The registry's URL (a node's schema.registry.listeners).
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:8081",
        value_name = "URL"
    )]
    registry: String,
    /// User name for HTTP Basic authentication (a SASL user of the cluster).
    #[arg(long, global = true, value_name = "USER")]
    user: Option<String>,
    /// Password for --user (or the SLUICE_REGISTRY_PASSWORD environment variable).
    #[arg(long, global = true, value_name = "PASSWORD")]
    password: Option<String>,
    /// A PEM file of the CA that signed an https registry's certificate.
    #[arg(long, global = true, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Print the registry's JSON answers as they are.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: SchemaCommand,
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// List subjects.
    List {
        /// Only subjects starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Include soft-deleted subjects.
        #[arg(long)]
        deleted: bool,
    },
    /// Show a subject's version (default: the latest) or a schema by id.
    Get {
        /// The subject (omit with --id).
        subject: Option<String>,
        #[arg(long, default_value = "latest")]
        version: String,
        /// A schema id instead of a subject.
        #[arg(long, conflicts_with = "subject")]
        id: Option<i32>,
    },
    /// Register a schema under a subject; prints its id.
    Register {
        subject: String,
        #[command(flatten)]
        schema: SchemaInput,
    },
    /// Check a schema against a subject's compatibility level (or one version); exits 1 when
    /// it is incompatible.
    Check {
        subject: String,
        /// One version to check against (default: the versions the subject's level compares
        /// with).
        #[arg(long)]
        version: Option<String>,
        #[command(flatten)]
        schema: SchemaInput,
    },
    /// Delete a subject, or one version of it (soft; --permanent after a soft delete).
    Delete {
        subject: String,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        permanent: bool,
    },
    /// Show or set the compatibility level, of a subject or the global one.
    Config {
        /// The subject (omit for the global level).
        subject: Option<String>,
        /// Set the level: NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE,
        /// FULL, FULL_TRANSITIVE.
        #[arg(long, value_name = "LEVEL")]
        set: Option<String>,
        /// Remove the subject's own level (it follows the global one again).
        #[arg(long, conflicts_with = "set")]
        delete: bool,
    },
}

#[derive(Args)]
struct SchemaInput {
    /// A file holding the schema.
    #[arg(long, value_name = "FILE", conflicts_with = "schema")]
    file: Option<PathBuf>,
    /// The schema's text.
    #[arg(long, value_name = "TEXT")]
    schema: Option<String>,
    /// AVRO, PROTOBUF or JSON.
    #[arg(long = "type", default_value = "AVRO")]
    schema_type: String,
    /// A reference to another registered schema: NAME=SUBJECT:VERSION (repeatable).
    #[arg(long = "reference", value_name = "NAME=SUBJECT:VERSION")]
    references: Vec<String>,
}

impl SchemaInput {
    fn body(&self) -> Result<Value> {
        let text = match (&self.file, &self.schema) {
            (Some(path), _) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
            (None, Some(text)) => text.clone(),
            (None, None) => bail!("give the schema with --file FILE or --schema TEXT"),
        };
        let mut references = Vec::new();
        for r in &self.references {
            let parsed = r.split_once('=').and_then(|(name, rest)| {
                let (subject, version) = rest.rsplit_once(':')?;
                Some((name, subject, version.parse::<i32>().ok()?))
            });
            let Some((name, subject, version)) = parsed else {
                bail!("--reference expects NAME=SUBJECT:VERSION, got '{r}'");
            };
            references.push(json!({"name": name, "subject": subject, "version": version}));
        }
        let schema_type = self.schema_type.to_ascii_uppercase();
        if !["AVRO", "PROTOBUF", "JSON"].contains(&schema_type.as_str()) {
            bail!(
                "--type must be AVRO, PROTOBUF or JSON, not '{}'",
                self.schema_type
            );
        }
        Ok(json!({"schema": text, "schemaType": schema_type, "references": references}))
    }
}

/// A path segment with everything but unreserved characters percent-encoded (a subject may
/// hold `/`).
fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%2E", ".")
        .replace("%5F", "_")
}

struct Registry {
    base: String,
    headers: HeaderMap,
    tls: Option<sluice_protocol::client::TlsClient>,
}

impl Registry {
    fn new(args: &SchemaArgs) -> Result<Registry> {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.schemaregistry.v1+json"),
        );
        if let Some(user) = &args.user {
            let password = args
                .password
                .clone()
                .or_else(|| std::env::var("SLUICE_REGISTRY_PASSWORD").ok());
            let Some(password) = password else {
                bail!("--user needs --password (or SLUICE_REGISTRY_PASSWORD)");
            };
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            let mut value = HeaderValue::from_str(&format!("Basic {token}"))
                .context("the user name or password cannot go in an HTTP header")?;
            value.set_sensitive(true);
            headers.insert(axum::http::header::AUTHORIZATION, value);
        }
        let tls = match &args.ca {
            None => None,
            Some(path) => {
                let pem = std::fs::read(path)
                    .with_context(|| format!("cannot read the CA file {}", path.display()))?;
                Some(
                    sluice_protocol::client::TlsClient::from_pem(&pem, None)
                        .map_err(|e| anyhow::anyhow!("the CA file {}: {e}", path.display()))?,
                )
            }
        };
        Ok(Registry {
            base: args.registry.trim_end_matches('/').to_string(),
            headers,
            tls,
        })
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let answer = forward::request_with(
            &self.base,
            self.tls.as_ref(),
            method,
            path,
            &self.headers,
            body,
            Duration::from_secs(30),
            false,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
        let value: Value = serde_json::from_slice(&answer.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer.body).into_owned()));
        if !answer.status.is_success() {
            let code = value.get("error_code").and_then(Value::as_i64).unwrap_or(0);
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            bail!(
                "the registry answered {} (error {code}): {message}",
                answer.status.as_u16()
            );
        }
        Ok(value)
    }
}

pub async fn run(args: SchemaArgs) -> Result<()> {
    let registry = Registry::new(&args)?;
    let print = |value: &Value, text: String| {
        if args.json {
            println!("{value}");
        } else {
            println!("{text}");
        }
    };
    match &args.command {
        SchemaCommand::List { prefix, deleted } => {
            let path = format!(
                "/subjects?deleted={deleted}&subjectPrefix={}",
                segment(prefix)
            );
            let v = registry.call(Method::GET, &path, None).await?;
            let lines: Vec<String> = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            print(&v, lines.join("\n"));
        }
        SchemaCommand::Get {
            subject,
            version,
            id,
        } => {
            let v = match (subject, id) {
                (_, Some(id)) => {
                    registry
                        .call(Method::GET, &format!("/schemas/ids/{id}"), None)
                        .await?
                }
                (Some(s), None) => {
                    registry
                        .call(
                            Method::GET,
                            &format!("/subjects/{}/versions/{}", segment(s), segment(version)),
                            None,
                        )
                        .await?
                }
                (None, None) => bail!("give a subject, or --id ID"),
            };
            let mut text = String::new();
            for key in ["subject", "version", "id", "schemaType"] {
                if let Some(x) = v.get(key) {
                    text.push_str(&format!(
                        "{key}: {}\n",
                        x.as_str().map_or(x.to_string(), str::to_string)
                    ));
                }
            }
            if let Some(refs) = v.get("references") {
                text.push_str(&format!("references: {refs}\n"));
            }
            let schema = v.get("schema").and_then(Value::as_str).unwrap_or_default();
            // An Avro or JSON schema is shown laid out; a .proto as it is.
            let shown = serde_json::from_str::<Value>(schema)
                .ok()
                .and_then(|j| serde_json::to_string_pretty(&j).ok())
                .unwrap_or_else(|| schema.to_string());
            text.push_str(&shown);
            print(&v, text);
        }
        SchemaCommand::Register { subject, schema } => {
            let v = registry
                .call(
                    Method::POST,
                    &format!("/subjects/{}/versions", segment(subject)),
                    Some(schema.body()?),
                )
                .await?;
            let id = v.get("id").map(Value::to_string).unwrap_or_default();
            print(&v, format!("registered under {subject} with id {id}"));
        }
        SchemaCommand::Check {
            subject,
            version,
            schema,
        } => {
            let path = match version {
                Some(v) => format!(
                    "/compatibility/subjects/{}/versions/{}?verbose=true",
                    segment(subject),
                    segment(v)
                ),
                None => format!(
                    "/compatibility/subjects/{}/versions?verbose=true",
                    segment(subject)
                ),
            };
            let v = registry
                .call(Method::POST, &path, Some(schema.body()?))
                .await?;
            let compatible = v
                .get("is_compatible")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let mut text = if compatible {
                "compatible".to_string()
            } else {
                "incompatible".to_string()
            };
            for m in v
                .get("messages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                text.push_str(&format!("\n  {}", m.as_str().unwrap_or_default()));
            }
            print(&v, text);
            if !compatible {
                std::process::exit(1);
            }
        }
        SchemaCommand::Delete {
            subject,
            version,
            permanent,
        } => {
            let path = match version {
                Some(v) => format!(
                    "/subjects/{}/versions/{}?permanent={permanent}",
                    segment(subject),
                    segment(v)
                ),
                None => format!("/subjects/{}?permanent={permanent}", segment(subject)),
            };
            let v = registry.call(Method::DELETE, &path, None).await?;
            let how = if *permanent {
                "permanently deleted"
            } else {
                "deleted"
            };
            print(&v, format!("{how} {subject} version(s) {v}"));
        }
        SchemaCommand::Config {
            subject,
            set,
            delete,
        } => {
            let path = match subject {
                Some(s) => format!("/config/{}", segment(s)),
                None => "/config".to_string(),
            };
            let v = match (set, delete) {
                (Some(level), _) => {
                    registry
                        .call(
                            Method::PUT,
                            &path,
                            Some(json!({"compatibility": level.to_ascii_uppercase()})),
                        )
                        .await?
                }
                (None, true) => registry.call(Method::DELETE, &path, None).await?,
                (None, false) => registry.call(Method::GET, &path, None).await?,
            };
            let level = v
                .get("compatibilityLevel")
                .or_else(|| v.get("compatibility"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let text = match (set, delete) {
                (Some(_), _) => format!("compatibility level set to {level}"),
                (None, true) => format!("removed (was {level})"),
                (None, false) => level,
            };
            print(&v, text);
        }
    }
    Ok(())
}
