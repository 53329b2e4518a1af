//! [`Authorizer`]: an immutable, indexed snapshot of the ACLs that answers "may this principal,
//! from this host, do this operation on this resource?" with Kafka's rules.
//!
//! # The index
//! Per resource type:
//! - `literal`: LITERAL bindings by resource name (the wildcard `*` apart), a hash lookup;
//! - `wildcard`: the LITERAL `*` bindings, which apply to every name;
//! - `prefixed`: the PREFIXED bindings in a byte trie ([`PrefixTrie`]), walked along the name.
//!
//! So [`Authorizer::authorize`] costs O(length of the name + bindings on the resource) and
//! allocates nothing, however many ACLs there are. For
//! [`Authorizer::authorize_by_resource_type`] the bindings of each type are also grouped by
//! principal (and the `User:*` ones apart), so it looks only at the bindings that can apply to
//! the caller.
//!
//! Each binding's principal and host are read once, when the snapshot is built, so a lookup
//! compares parsed values.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use super::binding::AclBinding;
use super::decision::Decision;
use super::filter::AclBindingFilter;
use super::prefix_trie::PrefixTrie;
use super::settings::AuthorizerSettings;
use super::types::{AclOperation, AclPermissionType, PatternType, ResourceType};
use super::{CLUSTER_RESOURCE_NAME, WILDCARD_HOST, WILDCARD_PRINCIPAL, WILDCARD_RESOURCE};
use crate::principal::KafkaPrincipal;

/// The ACL authorizer, Kafka's `StandardAuthorizer` without I/O: built from the bindings and
/// the settings, rebuilt (not modified) when either changes. Cloning shares the snapshot.
///
/// # Rules of [`Authorizer::authorize`]
/// 1. A principal in `super.users` is allowed.
/// 2. The bindings on the resource are the LITERAL ones with its name, the LITERAL `*` ones, and
///    the PREFIXED ones whose prefix its name starts with.
/// 3. One of them applies to the request when its principal is the caller's or `User:*` (which
///    Kafka lets stand for every principal, whatever its type), its host is the client's IP
///    address or `*`, and its operation covers the requested one.
/// 4. An applying DENY denies (DENY wins). Else an applying ALLOW allows; an ALLOW of READ,
///    WRITE, DELETE or ALTER also allows DESCRIBE, one of ALTER_CONFIGS also allows
///    DESCRIBE_CONFIGS, one of ALL allows everything. A DENY covers only its own operation
///    (or all of them for ALL): denying READ leaves DESCRIBE to the other bindings.
/// 5. Else, when no binding at all is on the resource, `allow.everyone.if.no.acl.found`
///    decides; when some are (for other principals, hosts or operations), denied.
///
/// Hosts are compared as addresses, not as text, so `::1` and `0:0:0:0:0:0:0:1` are the same
/// host and an IPv4 client seen through an IPv6 socket (`::ffff:10.0.0.1`) is `10.0.0.1`, as
/// Java's `InetAddress` shows it to Kafka.
#[derive(Clone)]
pub struct Authorizer {
    snapshot: Arc<Snapshot>,
}

struct Snapshot {
    settings: AuthorizerSettings,
    super_users: HashSet<KafkaPrincipal>,
    /// Every binding once, sorted. Invariant: the indexes below hold positions in here.
    bindings: Vec<AclBinding>,
    /// The parsed principal and host of `bindings[i]`, at `entries[i]`.
    entries: Vec<EntryMatcher>,
    resources: HashMap<ResourceType, ResourceIndex>,
}

/// Who and where a binding applies to, read once from its text.
struct EntryMatcher {
    principal: PrincipalMatch,
    host: HostMatch,
}

enum PrincipalMatch {
    /// `User:*`.
    Any,
    Exact(KafkaPrincipal),
    /// Not `Type:name`: the binding applies to nobody.
    Never,
}

enum HostMatch {
    /// `*`.
    Any,
    /// Canonical: an IPv4-mapped IPv6 address is kept as the IPv4 one.
    Ip(IpAddr),
    /// Neither `*` nor an IP address (Kafka compares text, and a client's address never reads
    /// as a host name): the binding applies to no client.
    Never,
}

impl EntryMatcher {
    fn read(binding: &AclBinding) -> EntryMatcher {
        let principal = if binding.principal == WILDCARD_PRINCIPAL {
            PrincipalMatch::Any
        } else {
            KafkaPrincipal::parse(&binding.principal)
                .map_or(PrincipalMatch::Never, PrincipalMatch::Exact)
        };
        let host = if binding.host == WILDCARD_HOST {
            HostMatch::Any
        } else {
            binding
                .host
                .parse::<IpAddr>()
                .map_or(HostMatch::Never, |ip| HostMatch::Ip(ip.to_canonical()))
        };
        EntryMatcher { principal, host }
    }

    /// Whether the binding applies to this caller. `host` must be canonical.
    fn applies_to(&self, principal: &KafkaPrincipal, host: IpAddr) -> bool {
        self.host_matches(host)
            && match &self.principal {
                PrincipalMatch::Any => true,
                PrincipalMatch::Exact(exact) => exact == principal,
                PrincipalMatch::Never => false,
            }
    }

    fn host_matches(&self, host: IpAddr) -> bool {
        match self.host {
            HostMatch::Any => true,
            HostMatch::Ip(ip) => ip == host,
            HostMatch::Never => false,
        }
    }
}

/// The bindings of one resource type, indexed (see the module documentation).
struct ResourceIndex {
    literal: HashMap<String, Vec<usize>>,
    wildcard: Vec<usize>,
    prefixed: PrefixTrie<usize>,
    /// The LITERAL (but `*`) and PREFIXED bindings by exact principal, for
    /// `authorize_by_resource_type`.
    named_by_principal: HashMap<KafkaPrincipal, Vec<usize>>,
    /// The same, for the `User:*` bindings.
    named_for_any_principal: Vec<usize>,
}

impl ResourceIndex {
    fn new() -> ResourceIndex {
        ResourceIndex {
            literal: HashMap::new(),
            wildcard: Vec::new(),
            prefixed: PrefixTrie::new(),
            named_by_principal: HashMap::new(),
            named_for_any_principal: Vec::new(),
        }
    }
}

impl Authorizer {
    /// Builds the snapshot. Duplicate bindings count once. A binding that
    /// [`AclBinding::validate`] would refuse is kept (it is listed by [`Authorizer::bindings`]
    /// and [`Authorizer::matching`], so it can be deleted), but an ANY or UNKNOWN resource
    /// type, or a pattern type other than LITERAL and PREFIXED, puts it on no resource, and an
    /// unreadable principal or host, or an ANY or UNKNOWN operation or permission, makes it
    /// apply to no request.
    pub fn new(
        bindings: impl IntoIterator<Item = AclBinding>,
        settings: AuthorizerSettings,
    ) -> Authorizer {
        let mut bindings: Vec<AclBinding> = bindings.into_iter().collect();
        bindings.sort_unstable();
        bindings.dedup();
        let entries: Vec<EntryMatcher> = bindings.iter().map(EntryMatcher::read).collect();

        let mut resources: HashMap<ResourceType, ResourceIndex> = HashMap::new();
        for (position, (binding, entry)) in bindings.iter().zip(&entries).enumerate() {
            if matches!(
                binding.resource_type,
                ResourceType::Unknown | ResourceType::Any
            ) {
                continue;
            }
            let index = resources
                .entry(binding.resource_type)
                .or_insert_with(ResourceIndex::new);
            let name = binding.resource_name.as_str();
            match binding.pattern_type {
                PatternType::Literal if name == WILDCARD_RESOURCE => {
                    index.wildcard.push(position);
                    continue;
                }
                PatternType::Literal => index
                    .literal
                    .entry(name.to_string())
                    .or_default()
                    .push(position),
                PatternType::Prefixed => index.prefixed.insert(name, position),
                PatternType::Unknown | PatternType::Any | PatternType::Match => continue,
            }
            match &entry.principal {
                PrincipalMatch::Any => index.named_for_any_principal.push(position),
                PrincipalMatch::Exact(principal) => index
                    .named_by_principal
                    .entry(principal.clone())
                    .or_default()
                    .push(position),
                PrincipalMatch::Never => {}
            }
        }

        let super_users = settings.super_users.iter().cloned().collect();
        Authorizer {
            snapshot: Arc::new(Snapshot {
                settings,
                super_users,
                bindings,
                entries,
                resources,
            }),
        }
    }

    pub fn settings(&self) -> &AuthorizerSettings {
        &self.snapshot.settings
    }

    /// Every binding, once each, sorted (by resource type, name, pattern type, principal, host,
    /// operation, permission).
    pub fn bindings(&self) -> &[AclBinding] {
        &self.snapshot.bindings
    }

    /// How many distinct bindings there are.
    pub fn len(&self) -> usize {
        self.snapshot.bindings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.snapshot.bindings.is_empty()
    }

    /// The bindings a DescribeAcls returns, or a DeleteAcls removes, for `filter`, in the order
    /// of [`Authorizer::bindings`]. A scan: those requests are rare and administrative.
    pub fn matching<'a>(
        &'a self,
        filter: &'a AclBindingFilter,
    ) -> impl Iterator<Item = &'a AclBinding> + 'a {
        self.snapshot
            .bindings
            .iter()
            .filter(move |binding| filter.matches(binding))
    }

    /// Decides one request (see the rules on [`Authorizer`]). `operation` and `resource_type`
    /// are what a handler checks: concrete values, never ANY or UNKNOWN (nor ALL); a request
    /// for one of those is a programmer error and is denied.
    pub fn authorize(
        &self,
        principal: &KafkaPrincipal,
        host: IpAddr,
        operation: AclOperation,
        resource_type: ResourceType,
        resource_name: &str,
    ) -> Decision<'_> {
        let snapshot = &*self.snapshot;
        if snapshot.super_users.contains(principal) {
            return Decision::SuperUser;
        }
        if !is_requestable(operation, resource_type) {
            return Decision::NoMatchingAllow;
        }
        let Some(index) = snapshot.resources.get(&resource_type) else {
            return self.no_acl_found();
        };
        let host = host.to_canonical();
        let literal = index
            .literal
            .get(resource_name)
            .map_or(&[][..], Vec::as_slice);
        let on_resource = literal
            .iter()
            .chain(&index.wildcard)
            .chain(index.prefixed.prefixes_of(resource_name));

        let mut any_on_resource = false;
        let mut allowed_by = None;
        for &position in on_resource {
            any_on_resource = true;
            if let Some(verdict) = snapshot.verdict(position, principal, host, operation) {
                match verdict {
                    Verdict::Deny(binding) => return Decision::DeniedBy(binding),
                    Verdict::Allow(binding) => {
                        allowed_by.get_or_insert(binding);
                    }
                }
            }
        }
        match allowed_by {
            Some(binding) => Decision::AllowedBy(binding),
            None if any_on_resource => Decision::NoMatchingAllow,
            None => self.no_acl_found(),
        }
    }

    /// Whether the caller may do `operation` on at least one resource of `resource_type`
    /// (Kafka's `Authorizer#authorizeByResourceType`, KIP-679): an idempotent producer needs
    /// IDEMPOTENT_WRITE on the cluster or WRITE on some topic. Answered from the ACLs alone,
    /// without listing resources, as Kafka does:
    ///
    /// 1. A principal in `super.users` is allowed.
    /// 2. For CLUSTER, whose only resource is `kafka-cluster`, the answer is
    ///    [`Authorizer::authorize`] on it.
    /// 3. Some resource of the type is named by no LITERAL or PREFIXED binding (names are
    ///    unbounded); only the LITERAL `*` bindings apply to it, so it is decided as
    ///    `authorize` would decide it from those alone: an applying DENY on `*` denies (a DENY
    ///    on `*` covers every resource), an applying ALLOW on `*` allows (implied operations
    ///    included), and with no binding on `*` at all, `allow.everyone.if.no.acl.found`
    ///    allows. Kafka's default implementation makes this check by authorizing a resource
    ///    named `hardcode`; the result differs only when bindings happen to name `hardcode`
    ///    or a prefix of it.
    /// 4. Else the ALLOW bindings of the type that apply to the caller (principal or `User:*`,
    ///    host or `*`, the operation itself or ALL; implied operations do not count here, as
    ///    in Kafka) are weighed against the applying DENY bindings: a LITERAL ALLOW is
    ///    cancelled by a LITERAL DENY of the same name or a PREFIXED DENY whose prefix the name
    ///    starts with; a PREFIXED ALLOW by a PREFIXED DENY whose prefix its prefix starts with.
    ///    One ALLOW left standing allows. (A DENY can cover only part of a PREFIXED ALLOW,
    ///    `orders-` denied under `orders` allowed: the ALLOW still stands, for `orders1`.)
    /// 5. Else denied.
    ///
    /// `operation` and `resource_type` must be concrete (not ANY or UNKNOWN); Kafka refuses
    /// those with an IllegalArgumentException, here they are denied.
    pub fn authorize_by_resource_type(
        &self,
        principal: &KafkaPrincipal,
        host: IpAddr,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> bool {
        let snapshot = &*self.snapshot;
        if snapshot.super_users.contains(principal) {
            return true;
        }
        if !is_requestable(operation, resource_type) {
            return false;
        }
        if resource_type == ResourceType::Cluster {
            return self
                .authorize(
                    principal,
                    host,
                    operation,
                    resource_type,
                    CLUSTER_RESOURCE_NAME,
                )
                .is_allowed();
        }
        let Some(index) = snapshot.resources.get(&resource_type) else {
            return snapshot.settings.allow_everyone_if_no_acl_found;
        };
        let host = host.to_canonical();

        // 3: a resource that only the `*` bindings name.
        let mut allowed_by_wildcard = false;
        for &position in &index.wildcard {
            match snapshot.verdict(position, principal, host, operation) {
                Some(Verdict::Deny(_)) => return false,
                Some(Verdict::Allow(_)) => allowed_by_wildcard = true,
                None => {}
            }
        }
        if allowed_by_wildcard
            || (index.wildcard.is_empty() && snapshot.settings.allow_everyone_if_no_acl_found)
        {
            return true;
        }

        // 4: the caller's named ALLOWs against the caller's named DENYs.
        let mine = index
            .named_by_principal
            .get(principal)
            .map_or(&[][..], Vec::as_slice);
        let mut denied_literals: HashSet<&str> = HashSet::new();
        let mut denied_prefixes: PrefixTrie<()> = PrefixTrie::new();
        let mut allows: Vec<&AclBinding> = Vec::new();
        for &position in mine.iter().chain(&index.named_for_any_principal) {
            let binding = &snapshot.bindings[position];
            let covers = binding.operation == operation || binding.operation == AclOperation::All;
            if !covers || !snapshot.entries[position].host_matches(host) {
                continue;
            }
            let name = binding.resource_name.as_str();
            match (binding.permission, binding.pattern_type) {
                (AclPermissionType::Deny, PatternType::Literal) => {
                    denied_literals.insert(name);
                }
                (AclPermissionType::Deny, PatternType::Prefixed) => {
                    denied_prefixes.insert(name, ());
                }
                (AclPermissionType::Allow, _) => allows.push(binding),
                _ => {}
            }
        }
        allows.iter().any(|allow| {
            let name = allow.resource_name.as_str();
            let literal_denied =
                allow.pattern_type == PatternType::Literal && denied_literals.contains(name);
            !literal_denied && denied_prefixes.prefixes_of(name).next().is_none()
        })
    }

    fn no_acl_found(&self) -> Decision<'_> {
        Decision::NoAclFound {
            allowed: self.snapshot.settings.allow_everyone_if_no_acl_found,
        }
    }
}

/// What one binding on the resource says about a request, when it applies.
enum Verdict<'a> {
    Allow(&'a AclBinding),
    Deny(&'a AclBinding),
}

impl Snapshot {
    /// The verdict of `bindings[position]` for this caller and operation; `None` when it does
    /// not apply. `host` must be canonical.
    fn verdict(
        &self,
        position: usize,
        principal: &KafkaPrincipal,
        host: IpAddr,
        operation: AclOperation,
    ) -> Option<Verdict<'_>> {
        let binding = &self.bindings[position];
        if !self.entries[position].applies_to(principal, host) {
            return None;
        }
        match binding.permission {
            AclPermissionType::Deny if binding.operation.deny_covers(operation) => {
                Some(Verdict::Deny(binding))
            }
            AclPermissionType::Allow if binding.operation.allow_covers(operation) => {
                Some(Verdict::Allow(binding))
            }
            _ => None,
        }
    }
}

/// Whether a handler may ask about this operation and resource type: concrete values only.
fn is_requestable(operation: AclOperation, resource_type: ResourceType) -> bool {
    let requestable = !matches!(
        operation,
        AclOperation::Unknown | AclOperation::Any | AclOperation::All
    ) && !matches!(resource_type, ResourceType::Unknown | ResourceType::Any);
    debug_assert!(
        requestable,
        "authorization asked for {operation} on {resource_type}: a filter value, not a request"
    );
    requestable
}

/// Not the bindings (there may be thousands): how many, and the settings.
impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("bindings", &self.snapshot.bindings.len())
            .field("settings", &self.snapshot.settings)
            .finish()
    }
}

#[cfg(test)]
#[path = "authorizer_tests.rs"]
mod tests;
