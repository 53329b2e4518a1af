//! Who asked and through which request: what every audit line says besides the decision.

use std::net::SocketAddr;

use crate::principal::KafkaPrincipal;

/// The request (or connection) an audit event is about, as the broker's request handler knows
/// it. Borrowed, so the broker builds it from its own request header without copying; the
/// event copies what it keeps.
#[derive(Debug, Clone, Copy)]
pub struct AuditContext<'a> {
    /// The connection's principal. For a failed authentication: the principal the client
    /// claimed, when the mechanism got as far as reading one, else `User:ANONYMOUS`.
    pub principal: &'a KafkaPrincipal,
    /// The client's address and port. An IPv4 client seen through an IPv6 socket
    /// (`::ffff:10.0.0.1`) is written as its IPv4 address, as ACL hosts compare it.
    pub client_address: SocketAddr,
    /// The name of the listener the connection came in on (`listeners`' `CLIENT://...`).
    pub listener: &'a str,
    /// The API's name as Kafka spells it (`Produce`, `SaslAuthenticate`).
    pub api: &'a str,
    pub api_version: i16,
    /// From the request header; `None` when no request carries the event (a TLS handshake).
    pub correlation_id: Option<i32>,
    /// From the request header; `None` when the client sent none.
    pub client_id: Option<&'a str>,
}
