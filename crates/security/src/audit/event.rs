//! One audit event, an authentication or an authorization, and its JSON line.

use std::net::SocketAddr;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use super::context::AuditContext;
use super::failure::AuthenticationFailure;
use super::timestamp::Rfc3339Millis;
use crate::acl::{AclOperation, Decision, DecisionRecord, PatternType, ResourceType};

/// What happened, who asked, and why it went that way. Built only by
/// [`AuditEvent::authorization`] (or `authorization_record`) and
/// [`AuditEvent::authentication`], whose inputs (a [`Decision`] or its [`DecisionRecord`], an
/// [`AuthenticationFailure`]) cannot carry a password or a token: so no audit
/// line can, whatever the broker passes.
///
/// Every field is always written, `null` when it does not apply to the event's kind, so every
/// line has the same keys. The layout is on the [module](super).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    #[serde(serialize_with = "serialize_time")]
    time: SystemTime,
    kind: EventKind,
    /// `Type:name`.
    principal: String,
    /// Serialized as `ip:port` (`[ip]:port` for IPv6). Canonical: see
    /// [`AuditContext::client_address`].
    client_address: SocketAddr,
    listener: String,
    api: String,
    api_version: i16,
    correlation_id: Option<i32>,
    client_id: Option<String>,
    resource_type: Option<ResourceType>,
    resource_name: Option<String>,
    /// The pattern type of the binding that decided; `None` when none did.
    pattern_type: Option<PatternType>,
    operation: Option<AclOperation>,
    result: EventResult,
    /// Authorization: the [`Decision`]'s rule. Authentication: the mechanism, then
    /// `Authenticated` or the [`AuthenticationFailure`].
    reason: String,
    /// Authentication only: the SASL mechanism (`SCRAM-SHA-256`), or `SSL` for a TLS client
    /// certificate.
    mechanism: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum EventKind {
    Authentication,
    Authorization,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
enum EventResult {
    Allowed,
    Denied,
    Succeeded,
    Failed,
}

impl AuditEvent {
    /// The authorizer's answer to `context`'s principal asking for `operation` on the resource.
    pub fn authorization(
        time: SystemTime,
        context: &AuditContext<'_>,
        operation: AclOperation,
        resource_type: ResourceType,
        resource_name: &str,
        decision: &Decision<'_>,
    ) -> AuditEvent {
        let mut event = AuditEvent::common(time, EventKind::Authorization, context);
        event.resource_type = Some(resource_type);
        event.resource_name = Some(resource_name.to_string());
        event.pattern_type = decision.binding().map(|binding| binding.pattern_type);
        event.operation = Some(operation);
        event.result = if decision.is_allowed() {
            EventResult::Allowed
        } else {
            EventResult::Denied
        };
        event.reason = decision.to_string();
        event
    }

    /// [`AuditEvent::authorization`] for a decision taken earlier and kept (a connection's
    /// cached decision).
    pub fn authorization_record(
        time: SystemTime,
        context: &AuditContext<'_>,
        operation: AclOperation,
        resource_type: ResourceType,
        resource_name: &str,
        record: &DecisionRecord,
    ) -> AuditEvent {
        let mut event = AuditEvent::common(time, EventKind::Authorization, context);
        event.resource_type = Some(resource_type);
        event.resource_name = Some(resource_name.to_string());
        event.pattern_type = record.pattern_type;
        event.operation = Some(operation);
        event.result = if record.allowed {
            EventResult::Allowed
        } else {
            EventResult::Denied
        };
        event.reason = record.reason.to_string();
        event
    }

    /// The end of an authentication with `mechanism`: `Ok(())` when it succeeded (the context's
    /// principal is then the authenticated one), else what kind of failure it was.
    pub fn authentication(
        time: SystemTime,
        context: &AuditContext<'_>,
        mechanism: &str,
        outcome: Result<(), AuthenticationFailure>,
    ) -> AuditEvent {
        let mut event = AuditEvent::common(time, EventKind::Authentication, context);
        event.mechanism = Some(mechanism.to_string());
        match outcome {
            Ok(()) => {
                event.result = EventResult::Succeeded;
                event.reason = format!("{mechanism}: Authenticated");
            }
            Err(failure) => {
                event.result = EventResult::Failed;
                event.reason = format!("{mechanism}: {failure}");
            }
        }
        event
    }

    /// The fields both kinds share; `result` and `reason` are set by the caller.
    fn common(time: SystemTime, kind: EventKind, context: &AuditContext<'_>) -> AuditEvent {
        let address = context.client_address;
        AuditEvent {
            time,
            kind,
            principal: context.principal.to_string(),
            client_address: SocketAddr::new(address.ip().to_canonical(), address.port()),
            listener: context.listener.to_string(),
            api: context.api.to_string(),
            api_version: context.api_version,
            correlation_id: context.correlation_id,
            client_id: context.client_id.map(str::to_string),
            resource_type: None,
            resource_name: None,
            pattern_type: None,
            operation: None,
            result: EventResult::Failed,
            reason: String::new(),
            mechanism: None,
        }
    }

    /// Whether the event is an allowed authorization or a successful authentication.
    pub fn is_allowed(&self) -> bool {
        matches!(self.result, EventResult::Allowed | EventResult::Succeeded)
    }

    /// The event as one line of JSON, without the line feed that ends it in the file. The same
    /// bytes go to the audit topic.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self)
            .expect("an AuditEvent serializes: it holds only strings, numbers and enums")
    }

    /// Appends the JSON line to `out`, so the writer thread reuses one buffer.
    pub(super) fn write_json(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(out, self)
            .expect("an AuditEvent serializes: it holds only strings, numbers and enums");
    }
}

fn serialize_time<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    Rfc3339Millis(*time).serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{AclBinding, AclPermissionType};
    use crate::error::AuthError;
    use crate::principal::KafkaPrincipal;
    use serde_json::{json, Map, Value};
    use std::time::{Duration, UNIX_EPOCH};

    /// 2026-12-07T09:15:02.123Z.
    fn time() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_796_634_902_123)
    }

    fn context(principal: &KafkaPrincipal) -> AuditContext<'_> {
        AuditContext {
            principal,
            client_address: "10.0.0.7:53122".parse().expect("an address literal"),
            listener: "CLIENT",
            api: "Produce",
            api_version: 11,
            correlation_id: Some(42),
            client_id: Some("orders-service"),
        }
    }

    fn parse(event: &AuditEvent) -> Map<String, Value> {
        let line = event.to_json_line();
        assert!(!line.contains('\n'), "{line}");
        match serde_json::from_str(&line) {
            Ok(Value::Object(fields)) => fields,
            other => panic!("not a JSON object: {other:?} from {line}"),
        }
    }

    const KEYS: [&str; 16] = [
        "time",
        "kind",
        "principal",
        "client_address",
        "listener",
        "api",
        "api_version",
        "correlation_id",
        "client_id",
        "resource_type",
        "resource_name",
        "pattern_type",
        "operation",
        "result",
        "reason",
        "mechanism",
    ];

    fn keys(fields: &Map<String, Value>) -> Vec<&str> {
        let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    fn expected_keys() -> Vec<&'static str> {
        let mut keys = KEYS.to_vec();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn authorization_allowed_by_a_prefixed_binding() {
        let alice = KafkaPrincipal::user("alice");
        let binding = AclBinding::new(
            ResourceType::Topic,
            "orders-",
            PatternType::Prefixed,
            "User:alice",
            "*",
            AclOperation::Write,
            AclPermissionType::Allow,
        );
        let decision = Decision::AllowedBy(&binding);
        let event = AuditEvent::authorization(
            time(),
            &context(&alice),
            AclOperation::Write,
            ResourceType::Topic,
            "orders-eu",
            &decision,
        );
        assert!(event.is_allowed());
        let fields = parse(&event);
        assert_eq!(keys(&fields), expected_keys());
        assert_eq!(
            Value::Object(fields),
            json!({
                "time": "2026-12-07T09:15:02.123Z",
                "kind": "authorization",
                "principal": "User:alice",
                "client_address": "10.0.0.7:53122",
                "listener": "CLIENT",
                "api": "Produce",
                "api_version": 11,
                "correlation_id": 42,
                "client_id": "orders-service",
                "resource_type": "TOPIC",
                "resource_name": "orders-eu",
                "pattern_type": "PREFIXED",
                "operation": "WRITE",
                "result": "ALLOWED",
                "reason": format!("MatchingAcl(acl={binding})"),
                "mechanism": null,
            })
        );
    }

    #[test]
    fn authorization_denied_and_super_user() {
        let bob = KafkaPrincipal::user("bob");
        let mut ctx = context(&bob);
        ctx.correlation_id = None;
        ctx.client_id = None;
        let denied = parse(&AuditEvent::authorization(
            time(),
            &ctx,
            AclOperation::Alter,
            ResourceType::Cluster,
            "kafka-cluster",
            &Decision::NoMatchingAllow,
        ));
        assert_eq!(denied["result"], "DENIED");
        assert_eq!(denied["reason"], "DefaultDeny");
        assert_eq!(denied["operation"], "ALTER");
        assert_eq!(denied["resource_type"], "CLUSTER");
        assert_eq!(denied["pattern_type"], Value::Null);
        assert_eq!(denied["correlation_id"], Value::Null);
        assert_eq!(denied["client_id"], Value::Null);

        let superuser = AuditEvent::authorization(
            time(),
            &ctx,
            AclOperation::Alter,
            ResourceType::Cluster,
            "kafka-cluster",
            &Decision::SuperUser,
        );
        assert!(superuser.is_allowed());
        let superuser = parse(&superuser);
        assert_eq!(superuser["result"], "ALLOWED");
        assert_eq!(superuser["reason"], "SuperUser");
        assert_eq!(superuser["pattern_type"], Value::Null);
    }

    #[test]
    fn authentication_succeeded_and_failed() {
        let alice = KafkaPrincipal::user("alice");
        let mut ctx = context(&alice);
        ctx.api = "SaslAuthenticate";
        ctx.api_version = 2;
        let succeeded = AuditEvent::authentication(time(), &ctx, "SCRAM-SHA-256", Ok(()));
        assert!(succeeded.is_allowed());
        let fields = parse(&succeeded);
        assert_eq!(keys(&fields), expected_keys());
        assert_eq!(
            Value::Object(fields),
            json!({
                "time": "2026-12-07T09:15:02.123Z",
                "kind": "authentication",
                "principal": "User:alice",
                "client_address": "10.0.0.7:53122",
                "listener": "CLIENT",
                "api": "SaslAuthenticate",
                "api_version": 2,
                "correlation_id": 42,
                "client_id": "orders-service",
                "resource_type": null,
                "resource_name": null,
                "pattern_type": null,
                "operation": null,
                "result": "SUCCEEDED",
                "reason": "SCRAM-SHA-256: Authenticated",
                "mechanism": "SCRAM-SHA-256",
            })
        );

        let failed = AuditEvent::authentication(
            time(),
            &ctx,
            "PLAIN",
            Err(AuthenticationFailure::from(&AuthError::Failed)),
        );
        assert!(!failed.is_allowed());
        let failed = parse(&failed);
        assert_eq!(failed["result"], "FAILED");
        assert_eq!(failed["reason"], "PLAIN: InvalidCredentials");
        assert_eq!(failed["mechanism"], "PLAIN");
    }

    #[test]
    fn client_addresses_are_written_as_acl_hosts_compare_them() {
        let alice = KafkaPrincipal::user("alice");
        let mut ctx = context(&alice);
        ctx.client_address = "[::ffff:10.0.0.1]:9000"
            .parse()
            .expect("an address literal");
        let event = AuditEvent::authentication(time(), &ctx, "PLAIN", Ok(()));
        assert_eq!(parse(&event)["client_address"], "10.0.0.1:9000");
        ctx.client_address = "[::1]:9000".parse().expect("an address literal");
        let event = AuditEvent::authentication(time(), &ctx, "PLAIN", Ok(()));
        assert_eq!(parse(&event)["client_address"], "[::1]:9000");
    }

    #[test]
    fn no_line_carries_credential_material() {
        let alice = KafkaPrincipal::user("alice");
        let ctx = context(&alice);
        let secrets = [
            "hunter2",
            "eyJhbGciOiJSUzI1NiJ9.payload.sig",
            "c=biws,r=nonce,p=proof",
        ];
        let errors = [
            AuthError::Failed,
            AuthError::Malformed(format!("bad message {}", secrets[0])),
            AuthError::TokenRejected(secrets[1].to_string()),
            AuthError::Malformed(secrets[2].to_string()),
            AuthError::Config(format!("password={}", secrets[0])),
        ];
        for error in &errors {
            let event = AuditEvent::authentication(
                time(),
                &ctx,
                "OAUTHBEARER",
                Err(AuthenticationFailure::from(error)),
            );
            let line = event.to_json_line();
            for secret in secrets {
                assert!(!line.contains(secret), "{line}");
            }
            for key in parse(&event).keys() {
                for word in ["password", "secret", "token", "credential", "proof", "key"] {
                    assert!(!key.contains(word), "field {key} looks like a secret");
                }
            }
        }
    }
}
