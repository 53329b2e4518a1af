//! A client-quota entity: who a quota applies to, as AlterClientQuotas and DescribeClientQuotas
//! name it, a set of (entity type, entity name) components.
//!
//! A name of `None` is the type's default entity (`<default>`), which applies to every user or
//! client id that has no entity of its own. The components Kafka accepts together are `user`,
//! `client-id`, `user` + `client-id`, and `ip` alone (IP entities carry the connection-creation
//! quota of KIP-612; Sluice stores them but does not enforce them yet).

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::QuotaError;

/// The entity types of Kafka's client quotas. The order (user, client-id, ip) is the order in
/// which an entity's components are kept, and the order of the path form
/// (`/users/alice/clients/app`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum QuotaEntityType {
    #[serde(rename = "user")]
    User,
    #[serde(rename = "client-id")]
    ClientId,
    #[serde(rename = "ip")]
    Ip,
}

impl QuotaEntityType {
    pub const ALL: [QuotaEntityType; 3] = [
        QuotaEntityType::User,
        QuotaEntityType::ClientId,
        QuotaEntityType::Ip,
    ];

    /// The wire name (`user`, `client-id`, `ip`), as in the requests' `EntityType` fields.
    pub fn name(self) -> &'static str {
        match self {
            QuotaEntityType::User => "user",
            QuotaEntityType::ClientId => "client-id",
            QuotaEntityType::Ip => "ip",
        }
    }

    /// Wire names are matched exactly, as Kafka does (`User` is not `user`).
    pub fn from_name(name: &str) -> Option<QuotaEntityType> {
        QuotaEntityType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The directory of the path form (Kafka's ZooKeeper layout, still how its documentation
    /// writes the precedence of quotas).
    fn path_segment(self) -> &'static str {
        match self {
            QuotaEntityType::User => "users",
            QuotaEntityType::ClientId => "clients",
            QuotaEntityType::Ip => "ips",
        }
    }
}

/// One component: an entity type and a name, `None` for the default entity.
pub type QuotaEntityComponent = (QuotaEntityType, Option<String>);

/// A validated client-quota entity.
///
/// Invariant: `components` is not empty, is sorted by type, holds each type at most once, is
/// one of the combinations user, client-id, user + client-id, ip; no name is empty; an ip name
/// is an IP address. [`QuotaEntity::parse`] and deserialization check it; the constructors
/// ([`QuotaEntity::user`], ...) trust their caller's names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(
    try_from = "Vec<QuotaEntityComponent>",
    into = "Vec<QuotaEntityComponent>"
)]
pub struct QuotaEntity {
    components: Vec<QuotaEntityComponent>,
}

impl QuotaEntity {
    /// Checks an entity as the request carries it (entity type strings, nullable names), with
    /// Kafka's messages: an empty entity, a duplicate type, an unknown type, an empty name, an
    /// ip combined with user or client-id, or an ip name that is no IP address are refused with
    /// INVALID_REQUEST.
    ///
    /// Kafka also accepts a host name for `ip` and resolves it; this check is free of I/O, so only
    /// literal IPv4 and IPv6 addresses pass.
    pub fn parse<'a>(
        components: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<QuotaEntity, QuotaError> {
        let mut parsed: Vec<QuotaEntityComponent> = Vec::new();
        for (type_name, name) in components {
            let Some(entity_type) = QuotaEntityType::from_name(type_name) else {
                return Err(QuotaError::invalid(format!(
                    "Unhandled client quota entity type: {type_name}"
                )));
            };
            parsed.push((entity_type, name.map(str::to_string)));
        }
        QuotaEntity::try_from(parsed)
    }

    /// `/users/<name>`, or `/users/<default>` for `None`.
    pub fn user(name: Option<&str>) -> QuotaEntity {
        QuotaEntity::of(vec![(QuotaEntityType::User, name.map(str::to_string))])
    }

    /// `/clients/<name>`, or `/clients/<default>` for `None`.
    pub fn client_id(name: Option<&str>) -> QuotaEntity {
        QuotaEntity::of(vec![(QuotaEntityType::ClientId, name.map(str::to_string))])
    }

    /// `/users/<user>/clients/<client-id>`, either of them possibly `<default>`.
    pub fn user_client_id(user: Option<&str>, client_id: Option<&str>) -> QuotaEntity {
        QuotaEntity::of(vec![
            (QuotaEntityType::User, user.map(str::to_string)),
            (QuotaEntityType::ClientId, client_id.map(str::to_string)),
        ])
    }

    /// `/ips/<address>`, or `/ips/<default>` for `None`.
    pub fn ip(address: Option<IpAddr>) -> QuotaEntity {
        QuotaEntity::of(vec![(QuotaEntityType::Ip, address.map(|a| a.to_string()))])
    }

    fn of(components: Vec<QuotaEntityComponent>) -> QuotaEntity {
        debug_assert!(components.windows(2).all(|w| w[0].0 < w[1].0));
        QuotaEntity { components }
    }

    /// The components, sorted by type.
    pub fn components(&self) -> &[QuotaEntityComponent] {
        &self.components
    }

    /// `None` if the entity has no component of that type; `Some(None)` for the default entity
    /// of that type; `Some(Some(name))` for a named one.
    pub fn get(&self, entity_type: QuotaEntityType) -> Option<Option<&str>> {
        self.components
            .iter()
            .find(|(t, _)| *t == entity_type)
            .map(|(_, name)| name.as_deref())
    }

    pub fn has(&self, entity_type: QuotaEntityType) -> bool {
        self.get(entity_type).is_some()
    }

    /// True for an ip entity: it carries `connection_creation_rate`, the others carry the
    /// user and client-id quotas.
    pub fn is_ip(&self) -> bool {
        self.has(QuotaEntityType::Ip)
    }
}

impl TryFrom<Vec<QuotaEntityComponent>> for QuotaEntity {
    type Error = QuotaError;

    /// The checks of [`QuotaEntity::parse`] on typed components; deserialization goes through
    /// here too, so a stored entity keeps the invariant.
    fn try_from(mut components: Vec<QuotaEntityComponent>) -> Result<QuotaEntity, QuotaError> {
        if components.is_empty() {
            return Err(QuotaError::invalid("Invalid empty client quota entity"));
        }
        for (i, (entity_type, name)) in components.iter().enumerate() {
            if components[..i].iter().any(|(t, _)| t == entity_type) {
                return Err(QuotaError::invalid(format!(
                    "Invalid client quota entity, duplicate entity entry {}",
                    entity_type.name()
                )));
            }
            if name.as_deref() == Some("") {
                return Err(QuotaError::invalid(format!(
                    "Empty {} not supported",
                    entity_type.name()
                )));
            }
        }
        components.sort_by_key(|(t, _)| *t);
        let entity = QuotaEntity { components };
        if entity.is_ip() {
            if entity.components.len() > 1 {
                return Err(QuotaError::invalid(
                    "Invalid quota entity combination, IP entity should not be combined with \
                     User or ClientId",
                ));
            }
            if let Some(Some(address)) = entity.get(QuotaEntityType::Ip) {
                if address.parse::<IpAddr>().is_err() {
                    return Err(QuotaError::invalid(format!(
                        "{address} is not a valid IP or resolvable host."
                    )));
                }
            }
        }
        Ok(entity)
    }
}

impl From<QuotaEntity> for Vec<QuotaEntityComponent> {
    fn from(entity: QuotaEntity) -> Vec<QuotaEntityComponent> {
        entity.components
    }
}

impl fmt::Display for QuotaEntity {
    /// The path form of Kafka's documentation: `/users/alice/clients/<default>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (entity_type, name) in &self.components {
            write!(
                f,
                "/{}/{}",
                entity_type.path_segment(),
                name.as_deref().unwrap_or("<default>")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(components: &[(&str, Option<&str>)]) -> String {
        match QuotaEntity::parse(components.iter().copied()) {
            Err(QuotaError::InvalidRequest(message)) => message,
            other => panic!("{components:?} gave {other:?}"),
        }
    }

    #[test]
    fn the_accepted_combinations_parse_in_type_order() {
        let e = QuotaEntity::parse([("client-id", Some("app")), ("user", Some("alice"))])
            .expect("user + client-id");
        assert_eq!(e, QuotaEntity::user_client_id(Some("alice"), Some("app")));
        assert_eq!(e.to_string(), "/users/alice/clients/app");
        assert_eq!(e.get(QuotaEntityType::User), Some(Some("alice")));
        assert_eq!(e.get(QuotaEntityType::Ip), None);

        let d = QuotaEntity::parse([("user", None)]).expect("default user");
        assert_eq!(d, QuotaEntity::user(None));
        assert_eq!(d.get(QuotaEntityType::User), Some(None));
        assert_eq!(d.to_string(), "/users/<default>");

        assert_eq!(
            QuotaEntity::parse([("client-id", None)]).expect("default client"),
            QuotaEntity::client_id(None)
        );
        let ip = QuotaEntity::parse([("ip", Some("10.0.0.1"))]).expect("ip");
        assert!(ip.is_ip());
        assert_eq!(ip.to_string(), "/ips/10.0.0.1");
        assert!(QuotaEntity::parse([("ip", Some("::1"))]).is_ok());
        assert!(QuotaEntity::parse([("ip", None)]).is_ok());
    }

    #[test]
    fn malformed_entities_are_refused_with_kafkas_messages() {
        assert_eq!(refusal(&[]), "Invalid empty client quota entity");
        assert_eq!(
            refusal(&[("user", Some("a")), ("user", Some("b"))]),
            "Invalid client quota entity, duplicate entity entry user"
        );
        assert_eq!(
            refusal(&[("client-id", None), ("client-id", None)]),
            "Invalid client quota entity, duplicate entity entry client-id"
        );
        assert_eq!(
            refusal(&[("group", Some("g"))]),
            "Unhandled client quota entity type: group"
        );
        assert_eq!(
            refusal(&[("User", Some("alice"))]),
            "Unhandled client quota entity type: User"
        );
        assert_eq!(refusal(&[("user", Some(""))]), "Empty user not supported");
        assert_eq!(
            refusal(&[("client-id", Some(""))]),
            "Empty client-id not supported"
        );
        assert!(refusal(&[("ip", Some("1.2.3.4")), ("user", Some("alice"))])
            .starts_with("Invalid quota entity combination"));
        assert!(refusal(&[("ip", None), ("client-id", None)])
            .starts_with("Invalid quota entity combination"));
        assert_eq!(
            refusal(&[("ip", Some("not-an-address"))]),
            "not-an-address is not a valid IP or resolvable host."
        );
    }

    #[test]
    fn serde_round_trip_keeps_the_invariant() {
        let e = QuotaEntity::user_client_id(None, Some("app"));
        let json = serde_json::to_string(&e).expect("serialize");
        assert_eq!(json, r#"[["user",null],["client-id","app"]]"#);
        let back: QuotaEntity = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, e);
        assert!(serde_json::from_str::<QuotaEntity>(r#"[["user","a"],["user","b"]]"#).is_err());
        assert!(serde_json::from_str::<QuotaEntity>(r#"[]"#).is_err());
        // Stored out of order, read back in order.
        let swapped: QuotaEntity =
            serde_json::from_str(r#"[["client-id","app"],["user",null]]"#).expect("deserialize");
        assert_eq!(swapped, e);
    }
}
