//! The `audit.*` broker settings. The broker reads the keys from its configuration and fills
//! [`AuditSettings`]; the keys are named here so both sides spell them the same way.

use std::path::PathBuf;

use super::allowed::AuditAllowed;
use super::error::AuditError;

/// `audit.enabled`: whether authentications and authorizations are recorded at all.
pub const AUDIT_ENABLED_CONFIG: &str = "audit.enabled";
/// `audit.log.dir`: the directory of the audit files.
pub const AUDIT_LOG_DIR_CONFIG: &str = "audit.log.dir";
/// `audit.log.file.name`: the name of the file being written in that directory.
pub const AUDIT_LOG_FILE_NAME_CONFIG: &str = "audit.log.file.name";
/// `audit.log.max.file.bytes`: the size at which the file is rotated.
pub const AUDIT_LOG_MAX_FILE_BYTES_CONFIG: &str = "audit.log.max.file.bytes";
/// `audit.log.max.files`: how many rotated files are kept.
pub const AUDIT_LOG_MAX_FILES_CONFIG: &str = "audit.log.max.files";
/// `audit.log.allowed`: `none`, `admin` or `all`, see [`AuditAllowed`].
pub const AUDIT_LOG_ALLOWED_CONFIG: &str = "audit.log.allowed";
/// `audit.topic.enabled`: whether the lines are also appended to an internal topic.
pub const AUDIT_TOPIC_ENABLED_CONFIG: &str = "audit.topic.enabled";
/// `audit.topic.name`: that topic.
pub const AUDIT_TOPIC_NAME_CONFIG: &str = "audit.topic.name";

/// Default of `audit.log.file.name`.
pub const DEFAULT_AUDIT_LOG_FILE_NAME: &str = "audit.log";
/// Default of `audit.log.max.file.bytes`: 100 MiB.
pub const DEFAULT_AUDIT_LOG_MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;
/// Default of `audit.log.max.files`.
pub const DEFAULT_AUDIT_LOG_MAX_FILES: u32 = 10;
/// Default of `audit.topic.name`. The `__` prefix marks it internal, as `__consumer_offsets`.
pub const DEFAULT_AUDIT_TOPIC_NAME: &str = "__sluice_audit";
/// The most rotated files `audit.log.max.files` keeps: each rotation renames all of them, on
/// the writer thread, while events wait in the queue.
pub const MAX_AUDIT_LOG_MAX_FILES: u32 = 1000;
/// Kafka's longest topic name.
const MAX_TOPIC_NAME_LENGTH: usize = 249;

/// How the audit log records, from the `audit.*` settings. `Default` is Kafka-style defaults:
/// disabled, and when enabled, `audit.log` files of 100 MiB, ten kept, ALLOWs of admin
/// operations only, no topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// `audit.enabled` (default false). When false nothing is recorded and no thread runs.
    pub enabled: bool,
    /// `audit.log.dir` (default unset): the directory of the audit files, created if missing.
    /// Unset, the broker picks one (see [`AuditLog::start`](super::AuditLog::start)).
    pub log_dir: Option<PathBuf>,
    /// `audit.log.file.name` (default `audit.log`): the file being written. Rotated files are
    /// named after it: `audit.log.1` (the newest) to `audit.log.<max.files>` (the oldest).
    pub file_name: String,
    /// `audit.log.max.file.bytes` (default 100 MiB, at least 1): a line that would take the
    /// file past this size goes to a new file. A single longer line gets a file to itself.
    pub max_file_bytes: u64,
    /// `audit.log.max.files` (default 10, at most 1000): rotated files kept besides the one
    /// being written; at rotation the oldest beyond this is deleted. 0 keeps none: the file
    /// starts over.
    pub max_files: u32,
    /// `audit.log.allowed` (default `admin`): which ALLOWs are recorded; DENYs always are.
    pub allowed: AuditAllowed,
    /// `audit.topic.enabled` (default false): whether the broker also appends each line to
    /// `topic_name`, through the audit log's sink.
    pub topic_enabled: bool,
    /// `audit.topic.name` (default `__sluice_audit`).
    pub topic_name: String,
}

impl Default for AuditSettings {
    fn default() -> AuditSettings {
        AuditSettings {
            enabled: false,
            log_dir: None,
            file_name: DEFAULT_AUDIT_LOG_FILE_NAME.to_string(),
            max_file_bytes: DEFAULT_AUDIT_LOG_MAX_FILE_BYTES,
            max_files: DEFAULT_AUDIT_LOG_MAX_FILES,
            allowed: AuditAllowed::default(),
            topic_enabled: false,
            topic_name: DEFAULT_AUDIT_TOPIC_NAME.to_string(),
        }
    }
}

impl AuditSettings {
    /// Whether an event is recorded: never when disabled; a denial or a failed
    /// authentication (`allowed` false) always; an ALLOW as `audit.log.allowed` says, given
    /// whether the operation administers the cluster or changes its security. The broker asks
    /// before it builds the event, so unrecorded events cost nothing.
    pub fn should_record(&self, allowed: bool, is_admin_or_security_change: bool) -> bool {
        self.enabled && (!allowed || self.allowed.records_allow(is_admin_or_security_change))
    }

    /// Checks the values a broker must not start with, with Kafka's wording.
    pub fn validate(&self) -> Result<(), AuditError> {
        if self
            .log_dir
            .as_ref()
            .is_some_and(|dir| dir.as_os_str().is_empty())
        {
            return Err(AuditError::invalid_value(
                AUDIT_LOG_DIR_CONFIG,
                "",
                "must be a directory",
            ));
        }
        let name = &self.file_name;
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\']) {
            return Err(AuditError::invalid_value(
                AUDIT_LOG_FILE_NAME_CONFIG,
                name,
                "must be a file name, without a directory",
            ));
        }
        if self.max_file_bytes == 0 {
            return Err(AuditError::invalid_value(
                AUDIT_LOG_MAX_FILE_BYTES_CONFIG,
                0,
                "Value must be at least 1",
            ));
        }
        if self.max_files > MAX_AUDIT_LOG_MAX_FILES {
            return Err(AuditError::invalid_value(
                AUDIT_LOG_MAX_FILES_CONFIG,
                self.max_files,
                &format!("Value must be no more than {MAX_AUDIT_LOG_MAX_FILES}"),
            ));
        }
        let topic = &self.topic_name;
        let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if topic.is_empty()
            || topic == "."
            || topic == ".."
            || topic.len() > MAX_TOPIC_NAME_LENGTH
            || !topic.chars().all(legal)
        {
            return Err(AuditError::invalid_value(
                AUDIT_TOPIC_NAME_CONFIG,
                topic,
                "must be a topic name: 1 to 249 of ASCII letters, digits, '.', '_' and '-'",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let settings = AuditSettings::default();
        assert!(!settings.enabled);
        assert_eq!(settings.log_dir, None);
        assert_eq!(settings.file_name, "audit.log");
        assert_eq!(settings.max_file_bytes, 104_857_600);
        assert_eq!(settings.max_files, 10);
        assert_eq!(settings.allowed, AuditAllowed::Admin);
        assert!(!settings.topic_enabled);
        assert_eq!(settings.topic_name, "__sluice_audit");
        assert!(settings.validate().is_ok());
    }

    #[test]
    fn should_record_matrix() {
        // (enabled, audit.log.allowed, allowed, admin or security change) -> recorded
        let cases = [
            (false, AuditAllowed::All, false, true, false),
            (false, AuditAllowed::All, true, true, false),
            (true, AuditAllowed::None, false, false, true),
            (true, AuditAllowed::None, false, true, true),
            (true, AuditAllowed::None, true, false, false),
            (true, AuditAllowed::None, true, true, false),
            (true, AuditAllowed::Admin, false, false, true),
            (true, AuditAllowed::Admin, false, true, true),
            (true, AuditAllowed::Admin, true, false, false),
            (true, AuditAllowed::Admin, true, true, true),
            (true, AuditAllowed::All, false, false, true),
            (true, AuditAllowed::All, false, true, true),
            (true, AuditAllowed::All, true, false, true),
            (true, AuditAllowed::All, true, true, true),
        ];
        for (enabled, policy, allowed, admin, expected) in cases {
            let settings = AuditSettings {
                enabled,
                allowed: policy,
                ..AuditSettings::default()
            };
            assert_eq!(
                settings.should_record(allowed, admin),
                expected,
                "enabled={enabled} {policy} allowed={allowed} admin={admin}"
            );
        }
    }

    #[test]
    fn refuses_what_a_broker_must_not_start_with() {
        let refused = |change: fn(&mut AuditSettings), message: &str| {
            let mut settings = AuditSettings::default();
            change(&mut settings);
            match settings.validate() {
                Err(AuditError::InvalidConfig(text)) => assert_eq!(text, message),
                other => panic!("{other:?}, expected {message}"),
            }
        };
        refused(
            |s| s.file_name = "../etc/passwd".into(),
            "Invalid value ../etc/passwd for configuration audit.log.file.name: \
             must be a file name, without a directory",
        );
        refused(
            |s| s.file_name = String::new(),
            "Invalid value  for configuration audit.log.file.name: \
             must be a file name, without a directory",
        );
        refused(
            |s| s.log_dir = Some(PathBuf::new()),
            "Invalid value  for configuration audit.log.dir: must be a directory",
        );
        refused(
            |s| s.max_file_bytes = 0,
            "Invalid value 0 for configuration audit.log.max.file.bytes: Value must be at least 1",
        );
        refused(
            |s| s.max_files = 1001,
            "Invalid value 1001 for configuration audit.log.max.files: \
             Value must be no more than 1000",
        );
        refused(
            |s| s.topic_name = "audit events".into(),
            "Invalid value audit events for configuration audit.topic.name: \
             must be a topic name: 1 to 249 of ASCII letters, digits, '.', '_' and '-'",
        );
        let mut settings = AuditSettings {
            max_files: 0,
            max_file_bytes: 1,
            ..AuditSettings::default()
        };
        assert!(settings.validate().is_ok());
        settings.topic_name = "a".repeat(250);
        assert!(settings.validate().is_err());
    }
}
