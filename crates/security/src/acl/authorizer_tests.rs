//! The rules of [`Authorizer`], one by one, then 10,000 generated bindings checked against a
//! plain scan of every binding.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use AclOperation::*;
use AclPermissionType::{Allow, Deny};
use PatternType::{Literal, Prefixed};
use ResourceType::{Cluster, Group, Topic};

fn acl(
    resource_type: ResourceType,
    name: &str,
    pattern_type: PatternType,
    principal: &str,
    host: &str,
    operation: AclOperation,
    permission: AclPermissionType,
) -> AclBinding {
    AclBinding::new(
        resource_type,
        name,
        pattern_type,
        principal,
        host,
        operation,
        permission,
    )
}

/// `principal` gets `permission` for `operation` on the topic `name` (LITERAL), from anywhere.
fn topic(
    name: &str,
    principal: &str,
    operation: AclOperation,
    permission: AclPermissionType,
) -> AclBinding {
    acl(Topic, name, Literal, principal, "*", operation, permission)
}

fn prefixed_topic(
    prefix: &str,
    principal: &str,
    operation: AclOperation,
    permission: AclPermissionType,
) -> AclBinding {
    acl(
        Topic, prefix, Prefixed, principal, "*", operation, permission,
    )
}

fn build(bindings: Vec<AclBinding>, allow_everyone_if_no_acl_found: bool) -> Authorizer {
    Authorizer::new(
        bindings,
        AuthorizerSettings {
            super_users: vec![KafkaPrincipal::user("admin")],
            allow_everyone_if_no_acl_found,
        },
    )
}

fn alice() -> KafkaPrincipal {
    KafkaPrincipal::user("alice")
}

fn bob() -> KafkaPrincipal {
    KafkaPrincipal::user("bob")
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn local() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))
}

/// Whether `principal` may do `operation` on the topic `name` from 10.0.0.1.
fn may(
    authorizer: &Authorizer,
    principal: &KafkaPrincipal,
    operation: AclOperation,
    name: &str,
) -> bool {
    authorizer
        .authorize(principal, local(), operation, Topic, name)
        .is_allowed()
}

#[test]
fn an_allow_on_the_literal_name_allows_that_principal_that_operation_that_resource() {
    let authorizer = build(vec![topic("orders", "User:alice", Read, Allow)], false);
    let decision = authorizer.authorize(&alice(), local(), Read, Topic, "orders");
    assert_eq!(decision, Decision::AllowedBy(&authorizer.bindings()[0]));
    assert!(!may(&authorizer, &bob(), Read, "orders"));
    assert!(!may(&authorizer, &alice(), Write, "orders"));
    assert!(!may(&authorizer, &alice(), Read, "orders2"));
    assert!(!may(&authorizer, &alice(), Read, "order"));
    assert!(!authorizer
        .authorize(&alice(), local(), Read, Group, "orders")
        .is_allowed());
}

#[test]
fn super_users_are_allowed_whatever_the_acls_say() {
    let authorizer = build(
        vec![
            topic("*", "User:*", All, Deny),
            topic("orders", "User:admin", Read, Deny),
        ],
        false,
    );
    let admin = KafkaPrincipal::user("admin");
    assert_eq!(
        authorizer.authorize(&admin, local(), Read, Topic, "orders"),
        Decision::SuperUser
    );
    assert!(authorizer
        .authorize(&admin, local(), ClusterAction, Cluster, "kafka-cluster")
        .is_allowed());
    assert!(!may(&authorizer, &alice(), Read, "orders"));
    // The principal type counts: `Group:admin` is not `User:admin`.
    let group_admin = KafkaPrincipal {
        principal_type: "Group".into(),
        name: "admin".into(),
    };
    assert!(!may(&authorizer, &group_admin, Read, "orders"));
}

#[test]
fn deny_wins_over_allow() {
    let allow = topic("orders", "User:alice", Read, Allow);
    let deny = topic("orders", "User:alice", Read, Deny);
    let authorizer = build(vec![allow.clone(), deny.clone()], true);
    assert_eq!(
        authorizer.authorize(&alice(), local(), Read, Topic, "orders"),
        Decision::DeniedBy(&deny)
    );

    // Whichever pattern carries the DENY: prefixed over literal, wildcard over literal.
    let authorizer = build(
        vec![
            allow.clone(),
            prefixed_topic("ord", "User:alice", Read, Deny),
        ],
        false,
    );
    assert!(!may(&authorizer, &alice(), Read, "orders"));
    let authorizer = build(
        vec![allow.clone(), topic("*", "User:alice", All, Deny)],
        false,
    );
    assert!(!may(&authorizer, &alice(), Read, "orders"));
    // A DENY for all principals denies alice too.
    let authorizer = build(vec![allow, topic("orders", "User:*", Read, Deny)], false);
    assert!(!may(&authorizer, &alice(), Read, "orders"));
}

#[test]
fn the_wildcard_principal_applies_to_every_principal() {
    let authorizer = build(vec![topic("orders", "User:*", Write, Allow)], false);
    assert!(may(&authorizer, &alice(), Write, "orders"));
    assert!(may(
        &authorizer,
        &KafkaPrincipal::anonymous(),
        Write,
        "orders"
    ));
    // Kafka matches `User:*` against any principal, whatever its type.
    let group = KafkaPrincipal {
        principal_type: "Group".into(),
        name: "ops".into(),
    };
    assert!(may(&authorizer, &group, Write, "orders"));

    // Only `User:*` is a wildcard; `Group:*` names a principal called `*`.
    let authorizer = build(vec![topic("orders", "Group:*", Write, Allow)], false);
    assert!(!may(&authorizer, &group, Write, "orders"));
    let other_types = build(vec![topic("orders", "Group:ops", Write, Allow)], false);
    assert!(may(&other_types, &group, Write, "orders"));
    assert!(!may(
        &other_types,
        &KafkaPrincipal::user("ops"),
        Write,
        "orders"
    ));
}

#[test]
fn the_host_is_the_clients_address_or_any() {
    let authorizer = build(
        vec![
            acl(
                Topic,
                "orders",
                Literal,
                "User:alice",
                "10.0.0.1",
                Read,
                Allow,
            ),
            acl(Topic, "orders", Literal, "User:alice", "::1", Write, Allow),
            acl(
                Topic,
                "orders",
                Literal,
                "User:alice",
                "client.example.com",
                Delete,
                Allow,
            ),
            acl(Topic, "orders", Literal, "User:bob", "*", Read, Allow),
        ],
        false,
    );
    let read = |principal: &KafkaPrincipal, host: &str, operation| {
        authorizer
            .authorize(principal, ip(host), operation, Topic, "orders")
            .is_allowed()
    };
    assert!(read(&alice(), "10.0.0.1", Read));
    assert!(!read(&alice(), "10.0.0.2", Read));
    // An IPv4 client on an IPv6 socket is its IPv4 address.
    assert!(read(&alice(), "::ffff:10.0.0.1", Read));
    // IPv6 written either way is the same address.
    assert!(read(&alice(), "0:0:0:0:0:0:0:1", Write));
    assert!(!read(&alice(), "::2", Write));
    // A host name never matches: Kafka compares with the client's address.
    assert!(!read(&alice(), "10.0.0.1", Delete));
    assert!(read(&bob(), "192.168.7.7", Read));
    assert!(read(&bob(), "fe80::1", Read));
}

#[test]
fn a_host_specific_deny_denies_from_that_host_only() {
    let authorizer = build(
        vec![
            topic("orders", "User:alice", Read, Allow),
            acl(
                Topic,
                "orders",
                Literal,
                "User:alice",
                "10.0.0.9",
                Read,
                Deny,
            ),
        ],
        false,
    );
    let from = |host: &str| {
        authorizer
            .authorize(&alice(), ip(host), Read, Topic, "orders")
            .is_allowed()
    };
    assert!(from("10.0.0.1"));
    assert!(!from("10.0.0.9"));
}

#[test]
fn prefixed_bindings_cover_names_that_start_with_the_prefix() {
    let authorizer = build(
        vec![
            prefixed_topic("orders-", "User:alice", Read, Allow),
            prefixed_topic("payments", "User:alice", Write, Allow),
        ],
        false,
    );
    assert!(may(&authorizer, &alice(), Read, "orders-eu"));
    assert!(may(&authorizer, &alice(), Read, "orders-"));
    assert!(!may(&authorizer, &alice(), Read, "orders"));
    assert!(!may(&authorizer, &alice(), Read, "xorders-eu"));
    assert!(may(&authorizer, &alice(), Write, "payments"));
    assert!(may(&authorizer, &alice(), Write, "payments.v2"));
    assert!(!may(&authorizer, &alice(), Write, "payment"));
    assert!(!may(&authorizer, &alice(), Read, "payments"));
}

#[test]
fn the_literal_wildcard_covers_every_name_of_its_type() {
    let authorizer = build(
        vec![acl(Group, "*", Literal, "User:alice", "*", Read, Allow)],
        false,
    );
    for name in ["g1", "*", "anything at all"] {
        assert!(authorizer
            .authorize(&alice(), local(), Read, Group, name)
            .is_allowed());
    }
    assert!(!may(&authorizer, &alice(), Read, "g1"), "not topics");
    // `*` as a PREFIXED name is only the prefix `*`.
    let prefixed_star = build(vec![prefixed_topic("*", "User:alice", Read, Allow)], false);
    assert!(!may(&prefixed_star, &alice(), Read, "orders"));
    assert!(may(&prefixed_star, &alice(), Read, "*orders"));
}

#[test]
fn allow_implies_describe_and_describe_configs() {
    for operation in [Read, Write, Delete, Alter] {
        let authorizer = build(vec![topic("orders", "User:alice", operation, Allow)], false);
        assert!(
            may(&authorizer, &alice(), Describe, "orders"),
            "{operation}"
        );
        assert!(
            !may(&authorizer, &alice(), DescribeConfigs, "orders"),
            "{operation}"
        );
    }
    for operation in [Create, DescribeConfigs, AlterConfigs, IdempotentWrite] {
        let authorizer = build(vec![topic("orders", "User:alice", operation, Allow)], false);
        assert!(
            !may(&authorizer, &alice(), Describe, "orders"),
            "{operation}"
        );
    }
    let authorizer = build(
        vec![topic("orders", "User:alice", AlterConfigs, Allow)],
        false,
    );
    assert!(may(&authorizer, &alice(), DescribeConfigs, "orders"));
    assert!(!may(&authorizer, &alice(), Alter, "orders"));
    // The other way round, nothing: DESCRIBE does not allow READ.
    let authorizer = build(vec![topic("orders", "User:alice", Describe, Allow)], false);
    assert!(!may(&authorizer, &alice(), Read, "orders"));
}

#[test]
fn deny_does_not_imply() {
    // DENY READ leaves DESCRIBE to the ALLOWs: here the ALLOW READ implies it.
    let authorizer = build(
        vec![
            topic("orders", "User:alice", Read, Allow),
            topic("orders", "User:alice", Read, Deny),
        ],
        false,
    );
    assert!(!may(&authorizer, &alice(), Read, "orders"));
    assert!(may(&authorizer, &alice(), Describe, "orders"));
    // DENY ALTER_CONFIGS does not deny DESCRIBE_CONFIGS.
    let authorizer = build(
        vec![
            topic("orders", "User:alice", DescribeConfigs, Allow),
            topic("orders", "User:alice", AlterConfigs, Deny),
        ],
        false,
    );
    assert!(may(&authorizer, &alice(), DescribeConfigs, "orders"));
    // DENY DESCRIBE does deny DESCRIBE, over an ALLOW READ.
    let authorizer = build(
        vec![
            topic("orders", "User:alice", Read, Allow),
            topic("orders", "User:alice", Describe, Deny),
        ],
        false,
    );
    assert!(!may(&authorizer, &alice(), Describe, "orders"));
    assert!(may(&authorizer, &alice(), Read, "orders"));
}

#[test]
fn all_allows_and_denies_every_operation() {
    let authorizer = build(vec![topic("orders", "User:alice", All, Allow)], false);
    for operation in [
        Read,
        Write,
        Create,
        Delete,
        Alter,
        Describe,
        DescribeConfigs,
        AlterConfigs,
    ] {
        assert!(
            may(&authorizer, &alice(), operation, "orders"),
            "{operation}"
        );
    }
    let authorizer = build(
        vec![
            topic("orders", "User:alice", All, Allow),
            topic("orders", "User:alice", All, Deny),
        ],
        false,
    );
    for operation in [Read, Describe, AlterConfigs] {
        assert!(
            !may(&authorizer, &alice(), operation, "orders"),
            "{operation}"
        );
    }
}

#[test]
fn with_no_acl_on_the_resource_the_setting_decides() {
    for allow_everyone in [false, true] {
        let empty = build(Vec::new(), allow_everyone);
        assert_eq!(
            empty.authorize(&alice(), local(), Read, Topic, "orders"),
            Decision::NoAclFound {
                allowed: allow_everyone
            }
        );
        // ACLs on other resources of the type, or on other types, do not count.
        let elsewhere = build(
            vec![
                topic("payments", "User:bob", Read, Allow),
                prefixed_topic("ordersx", "User:bob", Read, Allow),
                acl(Group, "orders", Literal, "User:bob", "*", Read, Allow),
            ],
            allow_everyone,
        );
        assert_eq!(
            elsewhere.authorize(&alice(), local(), Read, Topic, "orders"),
            Decision::NoAclFound {
                allowed: allow_everyone
            }
        );
    }
}

#[test]
fn once_an_acl_names_the_resource_only_acls_decide() {
    // Bob's ACL on the resource closes it to alice, even with allow.everyone.if.no.acl.found.
    for bindings in [
        vec![topic("orders", "User:bob", Read, Allow)],
        vec![prefixed_topic("ord", "User:bob", Read, Allow)],
        vec![topic("*", "User:bob", Read, Allow)],
        // Alice's own ACL for another operation, or another host.
        vec![topic("orders", "User:alice", Write, Allow)],
        vec![acl(
            Topic,
            "orders",
            Literal,
            "User:alice",
            "10.9.9.9",
            Read,
            Allow,
        )],
        // A DENY for someone else is an ACL on the resource too.
        vec![topic("orders", "User:bob", Read, Deny)],
    ] {
        let authorizer = build(bindings, true);
        assert_eq!(
            authorizer.authorize(&alice(), local(), Read, Topic, "orders"),
            Decision::NoMatchingAllow
        );
    }
}

#[test]
fn bindings_are_listed_once_sorted_and_filtered() {
    let b = topic("b", "User:alice", Read, Allow);
    let a = topic("a", "User:alice", Read, Allow);
    let a_prefixed = prefixed_topic("a", "User:bob", Write, Deny);
    let group = acl(Group, "a", Literal, "User:alice", "*", Read, Allow);
    let authorizer = build(
        vec![
            b.clone(),
            a.clone(),
            b.clone(),
            group.clone(),
            a_prefixed.clone(),
        ],
        false,
    );
    assert_eq!(authorizer.len(), 4);
    assert!(!authorizer.is_empty());
    assert_eq!(
        authorizer.bindings(),
        [a.clone(), a_prefixed.clone(), b.clone(), group.clone()]
    );

    let in_topics = AclBindingFilter {
        resource_type: Topic,
        ..AclBindingFilter::any()
    };
    assert_eq!(
        authorizer.matching(&in_topics).cloned().collect::<Vec<_>>(),
        [a.clone(), a_prefixed.clone(), b.clone()]
    );
    let applies_to_a = AclBindingFilter {
        resource_name: Some("a".into()),
        pattern_type: PatternType::Match,
        ..in_topics.clone()
    };
    assert_eq!(
        authorizer
            .matching(&applies_to_a)
            .cloned()
            .collect::<Vec<_>>(),
        [a.clone(), a_prefixed.clone()]
    );
    let alices = AclBindingFilter {
        principal: Some("User:alice".into()),
        ..AclBindingFilter::any()
    };
    assert_eq!(authorizer.matching(&alices).count(), 3);
    assert!(build(Vec::new(), false).is_empty());
}

#[test]
fn bindings_that_validation_would_refuse_are_kept_but_apply_to_nobody() {
    let bad_principal = topic("orders", "alice", Read, Allow);
    let any_operation = topic("orders", "User:alice", AclOperation::Any, Allow);
    let match_pattern = acl(
        Topic,
        "orders",
        PatternType::Match,
        "User:alice",
        "*",
        Read,
        Allow,
    );
    let any_type = acl(
        ResourceType::Any,
        "orders",
        Literal,
        "User:alice",
        "*",
        Read,
        Allow,
    );
    let unknown_permission = topic("orders", "User:alice", Read, AclPermissionType::Unknown);
    let authorizer = build(
        vec![
            bad_principal,
            any_operation,
            match_pattern.clone(),
            any_type.clone(),
            unknown_permission,
        ],
        true,
    );
    assert_eq!(authorizer.len(), 5);
    assert!(!may(&authorizer, &alice(), Read, "orders"));
    // The ones on no resource leave it without ACLs; the others still count as ACLs on it.
    assert_eq!(
        authorizer.authorize(&alice(), local(), Read, Topic, "orders"),
        Decision::NoMatchingAllow
    );
    // Still listed, so a DeleteAcls can remove them (a MATCH filter looks for what applies
    // to a resource, so it takes ANY to find a stored MATCH).
    let stored_match = AclBindingFilter {
        pattern_type: PatternType::Any,
        ..match_pattern.to_filter()
    };
    assert_eq!(
        authorizer.matching(&stored_match).collect::<Vec<_>>(),
        [&match_pattern]
    );
    assert_eq!(authorizer.matching(&any_type.to_filter()).count(), 1);
}

#[test]
fn clones_share_the_snapshot_and_debug_does_not_list_bindings() {
    let authorizer = build(vec![topic("orders", "User:alice", Read, Allow)], false);
    let clone = authorizer.clone();
    assert!(std::ptr::eq(authorizer.bindings(), clone.bindings()));
    assert_eq!(
        clone.settings().super_users,
        [KafkaPrincipal::user("admin")]
    );
    let debug = format!("{authorizer:?}");
    assert!(debug.contains("bindings: 1"), "{debug}");
    assert!(!debug.contains("orders"), "{debug}");
}

// authorize_by_resource_type

fn may_any_topic(
    authorizer: &Authorizer,
    principal: &KafkaPrincipal,
    operation: AclOperation,
) -> bool {
    authorizer.authorize_by_resource_type(principal, local(), operation, Topic)
}

#[test]
fn by_type_super_users_are_allowed() {
    let authorizer = build(vec![topic("*", "User:*", All, Deny)], false);
    assert!(may_any_topic(
        &authorizer,
        &KafkaPrincipal::user("admin"),
        Write
    ));
    assert!(!may_any_topic(&authorizer, &alice(), Write));
}

#[test]
fn by_type_with_no_acl_of_the_type_the_setting_decides() {
    let other_type = vec![acl(Group, "g", Literal, "User:bob", "*", Read, Allow)];
    assert!(!may_any_topic(
        &build(other_type.clone(), false),
        &alice(),
        Write
    ));
    assert!(may_any_topic(&build(other_type, true), &alice(), Write));
    assert!(may_any_topic(&build(Vec::new(), true), &alice(), Write));
}

#[test]
fn by_type_an_allow_on_any_one_resource_is_enough() {
    let authorizer = build(
        vec![
            topic("orders", "User:alice", Write, Allow),
            prefixed_topic("logs-", "User:bob", Write, Allow),
            topic("metrics", "User:carol", All, Allow),
            acl(Topic, "x", Literal, "User:dave", "10.0.0.9", Write, Allow),
            topic("y", "User:*", Read, Allow),
        ],
        false,
    );
    assert!(may_any_topic(&authorizer, &alice(), Write));
    assert!(may_any_topic(&authorizer, &bob(), Write));
    assert!(may_any_topic(
        &authorizer,
        &KafkaPrincipal::user("carol"),
        Write
    ));
    // Another host, another operation, another principal: no.
    assert!(!may_any_topic(
        &authorizer,
        &KafkaPrincipal::user("dave"),
        Write
    ));
    assert!(!may_any_topic(&authorizer, &alice(), Delete));
    assert!(!may_any_topic(
        &authorizer,
        &KafkaPrincipal::user("erin"),
        Write
    ));
    // The `User:*` ALLOW counts for everyone.
    assert!(may_any_topic(
        &authorizer,
        &KafkaPrincipal::user("erin"),
        Read
    ));
    // On the named resources, implied operations do not count (Kafka's rule): WRITE on
    // `orders` does not make alice able to DESCRIBE some topic here.
    assert!(!may_any_topic(&authorizer, &alice(), Describe));
}

#[test]
fn by_type_a_literal_deny_cancels_only_the_same_literal_allow() {
    let same = build(
        vec![
            topic("orders", "User:alice", Write, Allow),
            topic("orders", "User:alice", Write, Deny),
        ],
        false,
    );
    assert!(!may_any_topic(&same, &alice(), Write));
    let other = build(
        vec![
            topic("orders", "User:alice", Write, Allow),
            topic("payments", "User:alice", Write, Deny),
        ],
        false,
    );
    assert!(may_any_topic(&other, &alice(), Write));
    // A literal DENY named like a PREFIXED ALLOW does not cancel it: `orders-1` is writable.
    let prefixed_allow = build(
        vec![
            prefixed_topic("orders-", "User:alice", Write, Allow),
            topic("orders-", "User:alice", Write, Deny),
        ],
        false,
    );
    assert!(may_any_topic(&prefixed_allow, &alice(), Write));
    // A DENY of ALL cancels too; a DENY for everyone as well.
    let deny_all = build(
        vec![
            topic("orders", "User:alice", Write, Allow),
            topic("orders", "User:*", All, Deny),
        ],
        false,
    );
    assert!(!may_any_topic(&deny_all, &alice(), Write));
}

#[test]
fn by_type_a_prefixed_deny_cancels_the_allows_under_it() {
    let literal_under = build(
        vec![
            topic("orders-1", "User:alice", Write, Allow),
            prefixed_topic("orders-", "User:alice", Write, Deny),
        ],
        false,
    );
    assert!(!may_any_topic(&literal_under, &alice(), Write));
    let prefix_under = build(
        vec![
            prefixed_topic("orders-eu", "User:alice", Write, Allow),
            prefixed_topic("orders", "User:alice", Write, Deny),
        ],
        false,
    );
    assert!(!may_any_topic(&prefix_under, &alice(), Write));
    let same_prefix = build(
        vec![
            prefixed_topic("orders", "User:alice", Write, Allow),
            prefixed_topic("orders", "User:alice", Write, Deny),
        ],
        false,
    );
    assert!(!may_any_topic(&same_prefix, &alice(), Write));
    // A DENY on part of a PREFIXED ALLOW leaves the rest: `ordersX` stays writable.
    let partial = build(
        vec![
            prefixed_topic("orders", "User:alice", Write, Allow),
            prefixed_topic("orders-", "User:alice", Write, Deny),
        ],
        false,
    );
    assert!(may_any_topic(&partial, &alice(), Write));
    // One ALLOW left standing is enough.
    let one_left = build(
        vec![
            topic("orders-1", "User:alice", Write, Allow),
            topic("payments", "User:alice", Write, Allow),
            prefixed_topic("orders-", "User:alice", Write, Deny),
        ],
        false,
    );
    assert!(may_any_topic(&one_left, &alice(), Write));
    // A DENY from another host does not apply to this client.
    let other_host = build(
        vec![
            topic("orders-1", "User:alice", Write, Allow),
            acl(
                Topic,
                "orders-",
                Prefixed,
                "User:alice",
                "10.0.0.9",
                Write,
                Deny,
            ),
        ],
        false,
    );
    assert!(may_any_topic(&other_host, &alice(), Write));
}

#[test]
fn by_type_the_literal_wildcard_decides_for_every_resource() {
    let denied_everywhere = build(
        vec![
            topic("orders", "User:alice", Write, Allow),
            prefixed_topic("logs", "User:alice", Write, Allow),
            topic("*", "User:alice", Write, Deny),
        ],
        true,
    );
    assert!(!may_any_topic(&denied_everywhere, &alice(), Write));
    // Bob has no ALLOW at all; the wildcard ACL (alice's) leaves no topic without ACLs.
    assert!(!may_any_topic(&denied_everywhere, &bob(), Write));

    let allowed_everywhere = build(
        vec![
            topic("*", "User:alice", Read, Allow),
            topic("orders", "User:alice", Read, Deny),
        ],
        false,
    );
    assert!(may_any_topic(&allowed_everywhere, &alice(), Read));
    // On `*`, an ALLOW of READ implies DESCRIBE as `authorize` would.
    assert!(may_any_topic(&allowed_everywhere, &alice(), Describe));
    assert!(!may_any_topic(&allowed_everywhere, &alice(), Write));
}

#[test]
fn by_type_allow_everyone_holds_while_some_resource_has_no_acl() {
    // Bob's ACLs name some topics; the others have none, so alice may write to them.
    let named = build(
        vec![
            topic("orders", "User:bob", Write, Allow),
            prefixed_topic("logs", "User:bob", Write, Deny),
        ],
        true,
    );
    assert!(may_any_topic(&named, &alice(), Write));
    // A wildcard ACL, even bob's, names every topic: no topic is left without ACLs.
    let wildcard = build(vec![topic("*", "User:bob", Write, Allow)], true);
    assert!(!may_any_topic(&wildcard, &alice(), Write));
    let wildcard_and_mine = build(
        vec![
            topic("*", "User:bob", Write, Allow),
            topic("mine", "User:alice", Write, Allow),
        ],
        true,
    );
    assert!(may_any_topic(&wildcard_and_mine, &alice(), Write));
}

#[test]
fn by_type_the_cluster_is_its_one_resource() {
    let cluster = |permission, principal: &str| {
        acl(
            Cluster,
            "kafka-cluster",
            Literal,
            principal,
            "*",
            IdempotentWrite,
            permission,
        )
    };
    let by_cluster = |authorizer: &Authorizer| {
        authorizer.authorize_by_resource_type(&alice(), local(), IdempotentWrite, Cluster)
    };
    assert!(by_cluster(&build(
        vec![cluster(Allow, "User:alice")],
        false
    )));
    assert!(!by_cluster(&build(
        vec![cluster(Allow, "User:alice"), cluster(Deny, "User:alice")],
        false
    )));
    // Bob's ACL on the cluster leaves no cluster without ACLs.
    assert!(!by_cluster(&build(vec![cluster(Allow, "User:bob")], true)));
    assert!(by_cluster(&build(Vec::new(), true)));
    assert!(!by_cluster(&build(Vec::new(), false)));
}

#[test]
fn by_type_groups_and_transactional_ids_are_their_own() {
    let authorizer = build(
        vec![acl(
            ResourceType::TransactionalId,
            "tx-",
            Prefixed,
            "User:alice",
            "*",
            Write,
            Allow,
        )],
        false,
    );
    assert!(authorizer.authorize_by_resource_type(
        &alice(),
        local(),
        Write,
        ResourceType::TransactionalId
    ));
    assert!(!may_any_topic(&authorizer, &alice(), Write));
    assert!(!authorizer.authorize_by_resource_type(&alice(), local(), Write, Group));
}

// 10,000 bindings against a plain scan.

/// A small deterministic generator (Knuth's MMIX LCG), so the test needs no dependency.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const PRINCIPALS: [&str; 9] = [
    "User:p0", "User:p1", "User:p2", "User:p3", "User:p4", "User:p5", "User:p6", "User:p7",
    "User:*",
];
const HOSTS: [&str; 3] = ["*", "10.0.0.1", "10.0.0.2"];
const OPERATIONS: [AclOperation; 7] = [
    All,
    Read,
    Write,
    Describe,
    Alter,
    AlterConfigs,
    DescribeConfigs,
];

fn random_name(rng: &mut Lcg) -> String {
    format!("app{}-{}", rng.below(25), rng.below(200))
}

fn random_binding(rng: &mut Lcg) -> AclBinding {
    let resource_type = rng.pick(&[Topic, Topic, Topic, Group]);
    let (name, pattern_type) = match rng.below(1000) {
        0..=1 => ("*".to_string(), Literal),
        2..=3 => ("ap".to_string(), Prefixed),
        4..=799 => (random_name(rng), Literal),
        800..=899 => (format!("app{}-", rng.below(25)), Prefixed),
        900..=949 => (format!("app{}", rng.below(25)), Prefixed),
        _ => (random_name(rng), Prefixed),
    };
    let permission = if rng.below(10) == 0 { Deny } else { Allow };
    acl(
        resource_type,
        &name,
        pattern_type,
        rng.pick(&PRINCIPALS),
        rng.pick(&HOSTS),
        rng.pick(&OPERATIONS),
        permission,
    )
}

/// Does `binding` name the resource? A scan-side restatement of Kafka's rule.
fn on_resource(binding: &AclBinding, resource_type: ResourceType, name: &str) -> bool {
    binding.resource_type == resource_type
        && match binding.pattern_type {
            Literal => binding.resource_name == name || binding.resource_name == "*",
            Prefixed => name.starts_with(binding.resource_name.as_str()),
            _ => false,
        }
}

fn applies(binding: &AclBinding, principal: &KafkaPrincipal, host: IpAddr) -> bool {
    let principal_matches = binding.principal == "User:*"
        || binding.principal.split_once(':')
            == Some((principal.principal_type.as_str(), principal.name.as_str()));
    principal_matches && (binding.host == "*" || binding.host.parse::<IpAddr>() == Ok(host))
}

/// `authorize` by scanning every binding.
fn scanned_decision(
    bindings: &[AclBinding],
    allow_everyone: bool,
    principal: &KafkaPrincipal,
    host: IpAddr,
    operation: AclOperation,
    resource_type: ResourceType,
    name: &str,
) -> (bool, &'static str) {
    let on: Vec<&AclBinding> = bindings
        .iter()
        .filter(|b| on_resource(b, resource_type, name))
        .collect();
    let applying = || on.iter().filter(|b| applies(b, principal, host));
    if applying().any(|b| b.permission == Deny && b.operation.deny_covers(operation)) {
        return (false, "deny");
    }
    if applying().any(|b| b.permission == Allow && b.operation.allow_covers(operation)) {
        return (true, "allow");
    }
    if on.is_empty() {
        (allow_everyone, "no acl")
    } else {
        (false, "no allow")
    }
}

/// `authorize_by_resource_type` by scanning every binding, for types other than CLUSTER.
fn scanned_by_type(
    bindings: &[AclBinding],
    allow_everyone: bool,
    principal: &KafkaPrincipal,
    host: IpAddr,
    operation: AclOperation,
    resource_type: ResourceType,
) -> bool {
    let of_type: Vec<&AclBinding> = bindings
        .iter()
        .filter(|b| b.resource_type == resource_type)
        .collect();
    if of_type.is_empty() {
        return allow_everyone;
    }
    let wildcard: Vec<&AclBinding> = of_type
        .iter()
        .copied()
        .filter(|b| b.pattern_type == Literal && b.resource_name == "*")
        .collect();
    let wildcard_applying = || wildcard.iter().filter(|b| applies(b, principal, host));
    if wildcard_applying().any(|b| b.permission == Deny && b.operation.deny_covers(operation)) {
        return false;
    }
    if wildcard_applying().any(|b| b.permission == Allow && b.operation.allow_covers(operation)) {
        return true;
    }
    if wildcard.is_empty() && allow_everyone {
        return true;
    }
    let named: Vec<&AclBinding> = of_type
        .iter()
        .copied()
        .filter(|b| !(b.pattern_type == Literal && b.resource_name == "*"))
        .filter(|b| applies(b, principal, host))
        .filter(|b| b.operation == operation || b.operation == All)
        .collect();
    let denies = |permission_pattern: PatternType| {
        named
            .iter()
            .filter(move |b| b.permission == Deny && b.pattern_type == permission_pattern)
    };
    named.iter().filter(|b| b.permission == Allow).any(|allow| {
        let name = allow.resource_name.as_str();
        let literal_denied =
            allow.pattern_type == Literal && denies(Literal).any(|d| d.resource_name == name);
        let prefix_denied = denies(Prefixed).any(|d| name.starts_with(d.resource_name.as_str()));
        !literal_denied && !prefix_denied
    })
}

#[test]
fn ten_thousand_bindings_decide_as_a_scan_of_all_of_them() {
    let mut rng = Lcg(0x5eed);
    let bindings: Vec<AclBinding> = (0..10_000).map(|_| random_binding(&mut rng)).collect();
    for allow_everyone in [false, true] {
        let authorizer = Authorizer::new(
            bindings.clone(),
            AuthorizerSettings {
                super_users: Vec::new(),
                allow_everyone_if_no_acl_found: allow_everyone,
            },
        );
        let mut outcomes = std::collections::HashMap::new();
        for _ in 0..2_000 {
            let principal = KafkaPrincipal::user(format!("p{}", rng.below(9)));
            let host = ip(rng.pick(&["10.0.0.1", "10.0.0.2", "10.0.0.3"]));
            let operation =
                rng.pick(&[Read, Write, Describe, DescribeConfigs, AlterConfigs, Create]);
            let resource_type = rng.pick(&[Topic, Group, ResourceType::TransactionalId]);
            let name = if rng.below(20) == 0 {
                format!("zz{}", rng.below(5))
            } else {
                random_name(&mut rng)
            };
            let decision = authorizer.authorize(&principal, host, operation, resource_type, &name);
            let (allowed, why) = scanned_decision(
                &bindings,
                allow_everyone,
                &principal,
                host,
                operation,
                resource_type,
                &name,
            );
            assert_eq!(
                decision.is_allowed(),
                allowed,
                "{principal} {host} {operation} {resource_type} {name}: {decision}"
            );
            let same_reason = match decision {
                Decision::DeniedBy(b) => {
                    why == "deny"
                        && b.permission == Deny
                        && on_resource(b, resource_type, &name)
                        && applies(b, &principal, host)
                }
                Decision::AllowedBy(b) => {
                    why == "allow"
                        && b.permission == Allow
                        && on_resource(b, resource_type, &name)
                        && applies(b, &principal, host)
                }
                Decision::NoAclFound { .. } => why == "no acl",
                Decision::NoMatchingAllow => why == "no allow",
                Decision::SuperUser => false,
            };
            assert!(
                same_reason,
                "{principal} {operation} {name}: {decision} vs {why}"
            );
            *outcomes.entry(why).or_insert(0) += 1;

            let by_type =
                authorizer.authorize_by_resource_type(&principal, host, operation, resource_type);
            let scanned = scanned_by_type(
                &bindings,
                allow_everyone,
                &principal,
                host,
                operation,
                resource_type,
            );
            assert_eq!(
                by_type, scanned,
                "{principal} {host} {operation} {resource_type}"
            );
            *outcomes
                .entry(if by_type {
                    "by type allowed"
                } else {
                    "by type denied"
                })
                .or_insert(0) += 1;
        }
        // The generated ACLs exercise every outcome, not just one.
        for why in [
            "deny",
            "allow",
            "no allow",
            "no acl",
            "by type allowed",
            "by type denied",
        ] {
            assert!(
                outcomes.get(why).copied().unwrap_or(0) > 20,
                "{why}: {outcomes:?}"
            );
        }
    }
}
