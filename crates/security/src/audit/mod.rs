//! The audit log: who authenticated, and what the authorizer allowed or denied them, as JSON
//! lines in a file (and, through a sink, in an internal topic) for auditors and SIEMs. Kafka
//! writes such decisions to its `kafka.authorizer.logger` as free text; a line a machine reads
//! without parsing English is what an audit needs.
//!
//! The broker builds an [`AuditEvent`] for each authentication and each authorization that
//! [`AuditSettings::should_record`] keeps, and gives it to [`AuditLog::record`], which only
//! queues it: a writer thread does the I/O (see [`AuditLog`]).
//!
//! # A line
//! One JSON object per line, UTF-8, ended by `\n`; every key always present, `null` when it
//! does not apply:
//! ```text
//! time            "2026-12-07T09:15:02.123Z"   RFC 3339, UTC, milliseconds
//! kind            "authorization" | "authentication"
//! principal       "User:alice"
//! client_address  "10.0.0.7:53122"             "[::1]:53122" for IPv6
//! listener        "CLIENT"
//! api             "Produce"                    Kafka's API name
//! api_version     11
//! correlation_id  42 | null                    null when no request carries the event
//! client_id       "orders-service" | null
//! resource_type   "TOPIC" | null               authorization only, Kafka's names
//! resource_name   "orders" | null              authorization only
//! pattern_type    "LITERAL" | "PREFIXED" | null   of the binding that decided, if one did
//! operation       "WRITE" | null               authorization only
//! result          "ALLOWED" | "DENIED"         authorization
//!                 "SUCCEEDED" | "FAILED"       authentication
//! reason          authorization: the rule, as Kafka names it: "SuperUser",
//!                 "MatchingAcl(acl=(pattern=..., entry=...))", "DefaultAllow", "DefaultDeny"
//!                 authentication: "<mechanism>: Authenticated" or "<mechanism>: <failure>",
//!                 the failure one of [`AuthenticationFailure`]'s names
//! mechanism       "SCRAM-SHA-256" | "PLAIN" | "OAUTHBEARER" | "SSL" | null   authentication only
//! ```
//! No field holds a password, a token, a proof or any text a client sent with them: the reason
//! of a failed authentication is a fixed name, never the mechanism's error text.
//!
//! When events were lost (the queue was full, or the disk refused them), a line of its own says
//! how many, once they can be written again:
//! ```text
//! {"time":"2026-12-07T09:15:03.001Z","kind":"dropped","dropped_events":1234}
//! ```
//!
//! # Layout
//! - `event.rs`: [`AuditEvent`] and its JSON line.
//! - `context.rs`: [`AuditContext`], the request an event is about.
//! - `failure.rs`: [`AuthenticationFailure`], the kind of a failed authentication.
//! - `timestamp.rs`: [`Rfc3339Millis`], the `time` of a line.
//! - `settings.rs`: [`AuditSettings`] and the `audit.*` keys.
//! - `allowed.rs`: [`AuditAllowed`], the value of `audit.log.allowed`.
//! - `log.rs`: [`AuditLog`], the handle that queues events, and [`AuditSink`].
//! - `writer.rs`: the writer thread.
//! - `file.rs`: the file and its rotation (`audit.log`, `audit.log.1`, ...).
//! - `error.rs`: [`AuditError`], why the audit log cannot start.

mod allowed;
mod context;
mod error;
mod event;
mod failure;
mod file;
mod log;
mod settings;
mod timestamp;
mod writer;

pub use allowed::AuditAllowed;
pub use context::AuditContext;
pub use error::AuditError;
pub use event::AuditEvent;
pub use failure::AuthenticationFailure;
pub use log::{AuditLog, AuditSink, AUDIT_QUEUE_CAPACITY};
pub use settings::{
    AuditSettings, AUDIT_ENABLED_CONFIG, AUDIT_LOG_ALLOWED_CONFIG, AUDIT_LOG_DIR_CONFIG,
    AUDIT_LOG_FILE_NAME_CONFIG, AUDIT_LOG_MAX_FILES_CONFIG, AUDIT_LOG_MAX_FILE_BYTES_CONFIG,
    AUDIT_TOPIC_ENABLED_CONFIG, AUDIT_TOPIC_NAME_CONFIG, DEFAULT_AUDIT_LOG_FILE_NAME,
    DEFAULT_AUDIT_LOG_MAX_FILES, DEFAULT_AUDIT_LOG_MAX_FILE_BYTES, DEFAULT_AUDIT_TOPIC_NAME,
    MAX_AUDIT_LOG_MAX_FILES,
};
pub use timestamp::Rfc3339Millis;
