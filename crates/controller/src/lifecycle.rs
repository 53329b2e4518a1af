//! The broker lifecycle as the active controller runs it (KIP-631), sans I/O: broker
//! registrations and heartbeats in, the [`MetadataCommand`]s to propose and the replies out;
//! [`BrokerSessions`], the leader's in-memory record of when it last heard from each broker.
//!
//! # States of a registered broker (the image's `fenced` flag)
//! - A new registration is fenced. A heartbeat of a fenced broker that has applied the metadata
//!   log up to its registration (metadata offset >= broker epoch, the registration's log index)
//!   and asks neither to be fenced nor to shut down unfences it.
//! - An unfenced broker is fenced when its session expires (no heartbeat for
//!   `broker.session.timeout.ms`), when it asks to be fenced, and at controlled shutdown (it asks
//!   to shut down). Fencing is one atomic batch: FenceBroker and the partition changes that take
//!   it out of every ISR where others remain and give its leaderships to other replicas (see
//!   `elections`). A controlled shutdown is complete (`should_shutdown`) once the broker is
//!   fenced and leads nothing.
//! - Registration by another process (a new incarnation id) is refused with
//!   DUPLICATE_BROKER_REGISTRATION while the old registration holds a valid session. Otherwise
//!   the old process is gone, maybe after an unclean shutdown that lost its unflushed tail
//!   (KIP-966): it must not stay leader or ISR member on the old registration's word, so the
//!   new registration is one batch that fences the old one, removes it as fencing does, and
//!   registers the new one (fenced, as every new registration).
//!
//! # Sessions
//! Sessions live in the leader's memory only, not in the log: heartbeats write nothing unless
//! they change something. A node that becomes leader starts every registered broker's session
//! at that moment, so that no broker is fenced at a failover before it could reach the new
//! leader. A session is valid (it proves a live process holds the registration) only once this
//! leader has heard from the broker under its current epoch, within the session timeout, and
//! while the registration is unfenced: fencing ends the session, so that a broker that shut down
//! (or was fenced for silence) may come back with a new incarnation at once.

use std::collections::BTreeMap;
use std::time::Duration;
use std::time::Instant;

use serde::Deserialize;
use serde::Serialize;
use uuid::Uuid;

use crate::command::CommandError;
use crate::command::MetadataCommand;
use crate::elections::leads_any_partition;
use crate::elections::offline_replica_changes;
use crate::elections::removal_changes;
use crate::image::ListenerEndpoint;
use crate::image::MetadataImage;

/// A broker (re)joins the cluster (Kafka's BrokerRegistration request).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistrationRequest {
    pub broker_id: i32,
    /// Random id chosen by the broker process at start: a retry of the same registration has
    /// the same one, a restarted process has a new one.
    pub incarnation_id: Uuid,
    /// Where other brokers reach it (its advertised inter-broker listener).
    pub host: String,
    pub port: u16,
    /// Every advertised listener.
    #[serde(default)]
    pub listeners: Vec<ListenerEndpoint>,
    /// Its HTTP services' URLs, by name (`schema-registry`).
    #[serde(default)]
    pub http_endpoints: std::collections::BTreeMap<String, String>,
    pub rack: Option<String>,
    /// The cluster id in the broker's `meta.properties`; the controller refuses a broker of
    /// another cluster (INCONSISTENT_CLUSTER_ID). Empty: not checked.
    pub cluster_id: String,
}

/// A broker's periodic heartbeat (Kafka's BrokerHeartbeat request).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerHeartbeatRequest {
    pub broker_id: i32,
    /// The epoch its registration returned.
    pub broker_epoch: i64,
    /// Image offset the broker has applied.
    pub metadata_offset: u64,
    /// The broker asks to be fenced (e.g. it cannot apply metadata).
    pub want_fence: bool,
    /// The broker asks for a controlled shutdown.
    pub want_shutdown: bool,
    /// Ids of its log directories that failed (KIP-858's OfflineLogDirs).
    #[serde(default)]
    pub offline_log_dirs: Vec<Uuid>,
    /// Its replicas (topic id, partition) in those directories. Kafka's controller knows them
    /// from each replica's directory assignment; Sluice's metadata does not record
    /// assignments, so the broker names them.
    #[serde(default)]
    pub offline_replicas: Vec<(Uuid, i32)>,
}

/// The active controller's answer to a heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerHeartbeatReply {
    /// The broker may not lead nor join ISRs.
    pub is_fenced: bool,
    /// The controlled shutdown is complete: the broker is fenced and leads nothing.
    pub should_shutdown: bool,
    /// Index of the last metadata log entry committed, as the answering controller knew it
    /// (0: none): what the broker must apply to be caught up with the metadata log (where
    /// Kafka's controller answers `isCaughtUp`, Sluice's tells the offset and the broker
    /// decides). Last in the struct: postcard decodes fields in order.
    #[serde(default)]
    pub committed_offset: u64,
}

/// The command that registers `request`, or why it is refused. `old_session_valid` tells whether
/// the leader holds a valid session for the registration now in the image (see
/// [`BrokerSessions::has_valid_session`]).
pub(crate) fn registration_command(
    image: &MetadataImage,
    request: &BrokerRegistrationRequest,
    timestamp_ms: i64,
    old_session_valid: bool,
    unclean_default: bool,
) -> Result<MetadataCommand, CommandError> {
    let register = MetadataCommand::RegisterBroker {
        broker_id: request.broker_id,
        incarnation_id: request.incarnation_id,
        host: request.host.clone(),
        port: request.port,
        listeners: request.listeners.clone(),
        http_endpoints: request.http_endpoints.clone(),
        rack: request.rack.clone(),
        timestamp_ms,
    };
    let Some(old) = image.broker(request.broker_id) else {
        return Ok(register);
    };
    if old.incarnation_id == request.incarnation_id {
        // A retry: the image answers with the epoch it already gave.
        return Ok(register);
    }
    if old_session_valid {
        return Err(CommandError::DuplicateBrokerRegistration(request.broker_id));
    }
    let mut commands = Vec::new();
    if !old.fenced {
        commands.push(MetadataCommand::FenceBroker {
            broker_id: old.broker_id,
            broker_epoch: old.broker_epoch,
        });
    }
    commands.extend(removal_changes(image, request.broker_id, unclean_default));
    if commands.is_empty() {
        return Ok(register);
    }
    commands.push(register);
    Ok(MetadataCommand::Batch(commands))
}

/// The batch that fences `broker_id` and takes it out of ISRs and leaderships (see
/// `elections::removal_changes`); `None` when it is not registered or already fenced.
pub(crate) fn fence_command(
    image: &MetadataImage,
    broker_id: i32,
    unclean_default: bool,
) -> Option<MetadataCommand> {
    let broker = image.broker(broker_id).filter(|b| !b.fenced)?;
    let mut commands = vec![MetadataCommand::FenceBroker {
        broker_id,
        broker_epoch: broker.broker_epoch,
    }];
    commands.extend(removal_changes(image, broker_id, unclean_default));
    Some(MetadataCommand::Batch(commands))
}

/// UnregisterBroker (KIP-631): the batch that takes `broker_id` out of ISRs and leaderships,
/// as fencing does, and forgets its registration, as Kafka's controller does
/// (`ReplicationControlManager.unregisterBroker`). Kafka does not require the broker to be
/// fenced: removing a live one is the operator's decision (it stays out until it registers
/// again). BROKER_ID_NOT_REGISTERED when it is not registered.
pub fn unregister_command(
    image: &MetadataImage,
    broker_id: i32,
    unclean_default: bool,
) -> Result<MetadataCommand, CommandError> {
    if image.broker(broker_id).is_none() {
        return Err(CommandError::BrokerIdNotRegistered(broker_id));
    }
    let mut commands = removal_changes(image, broker_id, unclean_default);
    commands.push(MetadataCommand::UnregisterBroker { broker_id });
    Ok(MetadataCommand::Batch(commands))
}

/// Checks that a heartbeat comes from the registration in the image.
pub(crate) fn check_heartbeat(
    image: &MetadataImage,
    request: &BrokerHeartbeatRequest,
) -> Result<(), CommandError> {
    let broker = image
        .broker(request.broker_id)
        .ok_or(CommandError::BrokerIdNotRegistered(request.broker_id))?;
    if broker.broker_epoch != request.broker_epoch {
        return Err(CommandError::StaleBrokerEpoch {
            broker_id: request.broker_id,
            current: broker.broker_epoch,
            requested: request.broker_epoch,
        });
    }
    Ok(())
}

/// What a heartbeat (checked by [`check_heartbeat`]) changes: unfencing a caught-up broker,
/// fencing one that asks for it or for a controlled shutdown, and recording log directories
/// and replicas it reports offline for the first time, moving those replicas out of their ISRs
/// and leaderships (KIP-858), all in one batch; `None` when nothing changes.
pub(crate) fn heartbeat_command(
    image: &MetadataImage,
    request: &BrokerHeartbeatRequest,
    unclean_default: bool,
) -> Option<MetadataCommand> {
    let lifecycle = lifecycle_command(image, request, unclean_default);
    let broker = image.broker(request.broker_id)?;
    let fencing = !broker.fenced && lifecycle.is_some();
    let new_dirs: Vec<Uuid> = request
        .offline_log_dirs
        .iter()
        .filter(|d| !broker.offline_log_dirs.contains(d))
        .copied()
        .collect();
    let new_replicas: Vec<(Uuid, i32)> = request
        .offline_replicas
        .iter()
        .filter(|r| !broker.offline_replicas.contains(r))
        .copied()
        .collect();
    if fencing || (new_dirs.is_empty() && new_replicas.is_empty()) {
        // Fencing takes the broker out of every ISR already; the replicas are recorded at a
        // later heartbeat.
        return lifecycle;
    }
    let mut commands: Vec<MetadataCommand> = lifecycle.into_iter().collect();
    commands.push(MetadataCommand::MarkReplicasOffline {
        broker_id: broker.broker_id,
        broker_epoch: broker.broker_epoch,
        log_dirs: new_dirs,
        replicas: new_replicas.clone(),
    });
    commands.extend(offline_replica_changes(
        image,
        broker.broker_id,
        &new_replicas,
        unclean_default,
    ));
    Some(MetadataCommand::Batch(commands))
}

/// The registration's own change at a heartbeat: unfencing or fencing (see
/// [`heartbeat_command`]).
fn lifecycle_command(
    image: &MetadataImage,
    request: &BrokerHeartbeatRequest,
    unclean_default: bool,
) -> Option<MetadataCommand> {
    let broker = image.broker(request.broker_id)?;
    if broker.fenced {
        let caught_up = i64::try_from(request.metadata_offset)
            .is_ok_and(|offset| offset >= broker.broker_epoch);
        (caught_up && !request.want_fence && !request.want_shutdown).then_some(
            MetadataCommand::UnfenceBroker {
                broker_id: broker.broker_id,
                broker_epoch: broker.broker_epoch,
            },
        )
    } else if request.want_fence || request.want_shutdown {
        fence_command(image, request.broker_id, unclean_default)
    } else {
        None
    }
}

/// The reply to a heartbeat, from the image after its command (if any) applied and the
/// answering controller's `committed_offset`.
pub(crate) fn heartbeat_reply(
    image: &MetadataImage,
    request: &BrokerHeartbeatRequest,
    committed_offset: u64,
) -> BrokerHeartbeatReply {
    let is_fenced = image.broker(request.broker_id).is_none_or(|b| b.fenced);
    let should_shutdown =
        request.want_shutdown && is_fenced && !leads_any_partition(image, request.broker_id);
    BrokerHeartbeatReply {
        is_fenced,
        should_shutdown,
        committed_offset,
    }
}

/// One broker's session on this leader.
#[derive(Clone, Copy, Debug)]
struct Session {
    /// The registration the session belongs to.
    broker_epoch: i64,
    /// Last heartbeat or registration heard under this epoch, or when this leader started
    /// tracking the broker if it has heard nothing yet.
    last_contact: Instant,
    /// This leader heard from the broker under this epoch.
    heard: bool,
}

/// The leader's broker sessions (see the module doc). Time comes in as arguments.
#[derive(Debug)]
pub(crate) struct BrokerSessions {
    session_timeout: Duration,
    /// The Raft term these sessions were started in; `None` before this node first leads.
    term: Option<u64>,
    sessions: BTreeMap<i32, Session>,
}

impl BrokerSessions {
    pub(crate) fn new(session_timeout: Duration) -> Self {
        BrokerSessions {
            session_timeout,
            term: None,
            sessions: BTreeMap::new(),
        }
    }

    /// Called with the current term before any other use: in a term other than the sessions'
    /// (this node has just become leader), every registered broker's session starts `now`.
    pub(crate) fn begin_term(&mut self, term: u64, image: &MetadataImage, now: Instant) {
        if self.term == Some(term) {
            return;
        }
        self.term = Some(term);
        self.sessions = image
            .brokers()
            .values()
            .map(|b| {
                let session = Session {
                    broker_epoch: b.broker_epoch,
                    last_contact: now,
                    heard: false,
                };
                (b.broker_id, session)
            })
            .collect();
    }

    /// The session of `broker_id` under `broker_epoch`; a broker first seen, or seen under
    /// another epoch, starts a session `now`.
    fn session(&mut self, broker_id: i32, broker_epoch: i64, now: Instant) -> &mut Session {
        let fresh = Session {
            broker_epoch,
            last_contact: now,
            heard: false,
        };
        let session = self.sessions.entry(broker_id).or_insert(fresh);
        if session.broker_epoch != broker_epoch {
            *session = fresh;
        }
        session
    }

    fn is_expired(&self, session: &Session, now: Instant) -> bool {
        session
            .last_contact
            .checked_add(self.session_timeout)
            .is_some_and(|deadline| now > deadline)
    }

    /// A heartbeat or registration of `broker_id` under `broker_epoch` arrived `now`.
    pub(crate) fn heard_from(&mut self, broker_id: i32, broker_epoch: i64, now: Instant) {
        let session = self.session(broker_id, broker_epoch, now);
        session.last_contact = session.last_contact.max(now);
        session.heard = true;
    }

    /// Whether a live process holds `broker_id`'s registration in `image`, as far as this
    /// leader knows: the registration is unfenced and the broker was heard from under its
    /// epoch within the session timeout.
    pub(crate) fn has_valid_session(
        &mut self,
        image: &MetadataImage,
        broker_id: i32,
        now: Instant,
    ) -> bool {
        let Some(broker) = image.broker(broker_id).filter(|b| !b.fenced) else {
            return false;
        };
        let session = *self.session(broker_id, broker.broker_epoch, now);
        session.heard && !self.is_expired(&session, now)
    }

    /// Unfenced brokers of `image` whose session expired by `now`, in id order. Forgets the
    /// sessions of brokers no longer registered.
    pub(crate) fn expired(&mut self, image: &MetadataImage, now: Instant) -> Vec<i32> {
        self.sessions.retain(|id, _| image.broker(*id).is_some());
        let mut expired = Vec::new();
        for broker in image.brokers().values().filter(|b| !b.fenced) {
            let session = *self.session(broker.broker_id, broker.broker_epoch, now);
            if self.is_expired(&session, now) {
                expired.push(broker.broker_id);
            }
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::CommandOutput;
    use crate::image::test_support::*;

    const TIMEOUT: Duration = Duration::from_millis(1000);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn registration(broker_id: i32, incarnation: u128) -> BrokerRegistrationRequest {
        BrokerRegistrationRequest {
            broker_id,
            incarnation_id: Uuid::from_u128(incarnation),
            host: "h".into(),
            port: 9092,
            listeners: Vec::new(),
            http_endpoints: Default::default(),
            rack: None,
            cluster_id: String::new(),
        }
    }

    fn heartbeat(image: &MetadataImage, broker_id: i32) -> BrokerHeartbeatRequest {
        BrokerHeartbeatRequest {
            broker_id,
            broker_epoch: image.broker(broker_id).unwrap().broker_epoch,
            metadata_offset: image.offset(),
            want_fence: false,
            want_shutdown: false,
            offline_log_dirs: Vec::new(),
            offline_replicas: Vec::new(),
        }
    }

    fn partitions(image: &MetadataImage, topic: &str) -> Vec<(Option<i32>, Vec<i32>)> {
        image
            .topic(topic)
            .unwrap()
            .partitions
            .iter()
            .map(|p| (p.leader, p.isr.clone()))
            .collect()
    }

    #[test]
    fn unregistering_takes_the_broker_out_of_isrs_and_leaderships_and_forgets_it() {
        let mut image = image_with_brokers(&[1, 2]);
        create_topic(&mut image, "t", 1, vec![vec![1, 2], vec![2, 1]]).unwrap();
        fence(&mut image, 1);
        let command = unregister_command(&image, 1, false).unwrap();
        apply(&mut image, command).unwrap();
        assert!(image.broker(1).is_none());
        assert_eq!(
            partitions(&image, "t"),
            vec![(Some(2), vec![2]), (Some(2), vec![2])]
        );
        assert_eq!(
            unregister_command(&image, 1, false),
            Err(CommandError::BrokerIdNotRegistered(1))
        );
        assert_eq!(
            CommandError::BrokerIdNotRegistered(1).error_code(),
            102,
            "BROKER_ID_NOT_REGISTERED"
        );
    }

    #[test]
    fn sessions_start_at_a_new_term_and_expire_without_contact() {
        let image = image_with_brokers(&[1, 2]);
        let t0 = Instant::now();
        let mut sessions = BrokerSessions::new(TIMEOUT);
        sessions.begin_term(3, &image, t0);
        assert!(
            sessions.expired(&image, t0 + TIMEOUT).is_empty(),
            "boundary"
        );
        sessions.heard_from(2, image.broker(2).unwrap().broker_epoch, t0 + ms(600));
        assert_eq!(sessions.expired(&image, t0 + ms(1001)), vec![1]);
        assert_eq!(sessions.expired(&image, t0 + ms(1601)), vec![1, 2]);
        // The same term keeps the sessions; a new one (a new leadership) starts them again.
        sessions.begin_term(3, &image, t0 + ms(2000));
        assert_eq!(sessions.expired(&image, t0 + ms(2000)), vec![1, 2]);
        sessions.begin_term(5, &image, t0 + ms(2000));
        assert!(sessions.expired(&image, t0 + ms(2500)).is_empty());
        // Fenced brokers do not expire.
        let mut fenced = image.clone();
        fence(&mut fenced, 1);
        assert_eq!(sessions.expired(&fenced, t0 + ms(3100)), vec![2]);
    }

    #[test]
    fn a_session_is_valid_once_heard_within_the_timeout_and_while_unfenced() {
        let mut image = image_with_brokers(&[1]);
        let epoch = image.broker(1).unwrap().broker_epoch;
        let t0 = Instant::now();
        let mut sessions = BrokerSessions::new(TIMEOUT);
        sessions.begin_term(1, &image, t0);
        assert!(
            !sessions.has_valid_session(&image, 1, t0),
            "a new leader has heard nothing yet"
        );
        sessions.heard_from(1, epoch, t0 + ms(100));
        assert!(sessions.has_valid_session(&image, 1, t0 + ms(1100)));
        assert!(!sessions.has_valid_session(&image, 1, t0 + ms(1101)));
        sessions.heard_from(1, epoch, t0 + ms(1200));
        assert!(sessions.has_valid_session(&image, 1, t0 + ms(1300)));
        assert!(!sessions.has_valid_session(&image, 2, t0 + ms(1300)));
        // A heartbeat under an older epoch does not count for a newer registration.
        sessions.heard_from(1, epoch - 1, t0 + ms(1300));
        assert!(!sessions.has_valid_session(&image, 1, t0 + ms(1300)));
        sessions.heard_from(1, epoch, t0 + ms(1300));
        fence(&mut image, 1);
        assert!(!sessions.has_valid_session(&image, 1, t0 + ms(1300)));
    }

    #[test]
    fn registration_of_a_new_broker_or_a_retry_is_a_plain_register() {
        let mut image = image_with_brokers(&[1]);
        let new = registration(2, 5);
        let command = registration_command(&image, &new, 77, false, false).unwrap();
        assert!(
            matches!(
                command,
                MetadataCommand::RegisterBroker {
                    broker_id: 2,
                    timestamp_ms: 77,
                    ..
                }
            ),
            "{command:?}"
        );
        let epoch = match apply(&mut image, command) {
            Ok(CommandOutput::BrokerRegistered { broker_epoch }) => broker_epoch,
            other => panic!("{other:?}"),
        };
        // Same incarnation, even with a valid session: the same epoch again.
        let retry = registration_command(&image, &new, 78, true, false).unwrap();
        assert_eq!(
            apply(&mut image, retry),
            Ok(CommandOutput::BrokerRegistered {
                broker_epoch: epoch
            })
        );
    }

    #[test]
    fn another_incarnation_is_refused_while_the_old_session_is_valid() {
        let image = image_with_brokers(&[1]);
        assert_eq!(
            registration_command(&image, &registration(1, 99), 0, true, false),
            Err(CommandError::DuplicateBrokerRegistration(1))
        );
    }

    #[test]
    fn an_unclean_restart_fences_the_old_registration_and_moves_its_partitions_atomically() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        create_topic(&mut image, "t", 1, vec![vec![1, 2, 3], vec![2, 1, 3]]).unwrap();
        create_topic(&mut image, "u", 2, vec![vec![1]]).unwrap();
        let old_epoch = image.broker(1).unwrap().broker_epoch;
        let command = registration_command(&image, &registration(1, 99), 5, false, false).unwrap();
        let MetadataCommand::Batch(commands) = &command else {
            panic!("{command:?}");
        };
        assert_eq!(
            commands.len(),
            5,
            "fence, three changes, register: {commands:?}"
        );
        assert_eq!(
            commands[0],
            MetadataCommand::FenceBroker {
                broker_id: 1,
                broker_epoch: old_epoch
            }
        );
        assert!(matches!(
            commands[4],
            MetadataCommand::RegisterBroker { broker_id: 1, .. }
        ));
        let offset = image.offset() + 1;
        let Ok(CommandOutput::Batch(outputs)) = apply(&mut image, command) else {
            panic!("the batch applies");
        };
        assert_eq!(
            outputs.last(),
            Some(&CommandOutput::BrokerRegistered {
                broker_epoch: offset as i64
            })
        );
        let broker = image.broker(1).unwrap();
        assert_eq!(broker.incarnation_id, Uuid::from_u128(99));
        assert!(broker.fenced, "a new registration starts fenced");
        assert_eq!(
            partitions(&image, "t"),
            vec![(Some(2), vec![2, 3]), (Some(2), vec![2, 3])]
        );
        // The last ISR member stays, without leading.
        assert_eq!(partitions(&image, "u"), vec![(None, vec![1])]);
    }

    #[test]
    fn an_unclean_restart_of_a_fenced_registration_registers_only() {
        let mut image = image_with_brokers(&[1, 2]);
        create_topic(&mut image, "t", 1, vec![vec![1, 2]]).unwrap();
        let fence = fence_command(&image, 1, false).unwrap();
        apply(&mut image, fence).unwrap();
        let command = registration_command(&image, &registration(1, 99), 5, false, false).unwrap();
        assert!(
            matches!(command, MetadataCommand::RegisterBroker { .. }),
            "{command:?}"
        );
        assert!(matches!(
            apply(&mut image, command),
            Ok(CommandOutput::BrokerRegistered { .. })
        ));
    }

    #[test]
    fn a_caught_up_fenced_broker_is_unfenced() {
        let mut image = image_with_brokers(&[1]);
        fence(&mut image, 1);
        let epoch = image.broker(1).unwrap().broker_epoch;
        let mut request = heartbeat(&image, 1);
        request.metadata_offset = epoch as u64 - 1;
        assert_eq!(heartbeat_command(&image, &request, false), None);
        assert_eq!(
            heartbeat_reply(&image, &request, 12),
            BrokerHeartbeatReply {
                is_fenced: true,
                should_shutdown: false,
                committed_offset: 12
            }
        );
        request.metadata_offset = epoch as u64;
        for (want_fence, want_shutdown) in [(true, false), (false, true)] {
            let asks = BrokerHeartbeatRequest {
                want_fence,
                want_shutdown,
                ..request.clone()
            };
            assert_eq!(heartbeat_command(&image, &asks, false), None);
        }
        let command = heartbeat_command(&image, &request, false).unwrap();
        assert_eq!(
            command,
            MetadataCommand::UnfenceBroker {
                broker_id: 1,
                broker_epoch: epoch
            }
        );
        apply(&mut image, command).unwrap();
        assert_eq!(heartbeat_command(&image, &request, false), None);
        assert!(!heartbeat_reply(&image, &request, 0).is_fenced);
    }

    #[test]
    fn heartbeats_from_another_registration_are_refused() {
        let image = image_with_brokers(&[1]);
        let mut request = heartbeat(&image, 1);
        check_heartbeat(&image, &request).unwrap();
        request.broker_epoch -= 1;
        assert!(matches!(
            check_heartbeat(&image, &request),
            Err(CommandError::StaleBrokerEpoch { .. })
        ));
        request.broker_id = 7;
        assert_eq!(
            check_heartbeat(&image, &request),
            Err(CommandError::BrokerIdNotRegistered(7))
        );
    }

    #[test]
    fn controlled_shutdown_moves_leadership_then_fences_in_one_batch() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        create_topic(&mut image, "t", 1, vec![vec![1, 2, 3]]).unwrap();
        create_topic(&mut image, "u", 2, vec![vec![3, 1]]).unwrap();
        create_topic(&mut image, "v", 3, vec![vec![1]]).unwrap();
        let mut request = heartbeat(&image, 1);
        request.want_shutdown = true;
        assert!(!heartbeat_reply(&image, &request, 0).should_shutdown);
        let command = heartbeat_command(&image, &request, false).unwrap();
        let MetadataCommand::Batch(commands) = &command else {
            panic!("{command:?}");
        };
        assert!(matches!(
            commands[0],
            MetadataCommand::FenceBroker { broker_id: 1, .. }
        ));
        assert_eq!(commands.len(), 4, "{commands:?}");
        apply(&mut image, command).unwrap();
        assert_eq!(partitions(&image, "t"), vec![(Some(2), vec![2, 3])]);
        assert_eq!(partitions(&image, "u"), vec![(Some(3), vec![3])]);
        assert_eq!(partitions(&image, "v"), vec![(None, vec![1])]);
        assert_eq!(
            heartbeat_reply(&image, &request, 40),
            BrokerHeartbeatReply {
                is_fenced: true,
                should_shutdown: true,
                committed_offset: 40
            }
        );
        // Fenced and asking to shut down: nothing more to do, and no unfencing.
        assert_eq!(heartbeat_command(&image, &request, false), None);
        // A broker that asks to be fenced is fenced the same way.
        let mut request = heartbeat(&image, 2);
        request.want_fence = true;
        let command = heartbeat_command(&image, &request, false).unwrap();
        apply(&mut image, command).unwrap();
        assert_eq!(partitions(&image, "t")[0], (Some(3), vec![3]));
        assert!(!heartbeat_reply(&image, &request, 0).should_shutdown);
    }

    #[test]
    fn offline_log_dirs_move_their_replicas_out_of_isrs_and_leaderships() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        create_topic(&mut image, "t", 1, vec![vec![1, 2, 3], vec![2, 1, 3]]).unwrap();
        create_topic(&mut image, "u", 2, vec![vec![1]]).unwrap();
        let dir = Uuid::from_u128(77);
        let mut request = heartbeat(&image, 1);
        // Partition t-0 (led by 1) and u-0 (1 alone) are in the failed directory; t-1 is not.
        request.offline_log_dirs = vec![dir];
        request.offline_replicas = vec![(Uuid::from_u128(1), 0), (Uuid::from_u128(2), 0)];
        let command = heartbeat_command(&image, &request, false).unwrap();
        let MetadataCommand::Batch(commands) = &command else {
            panic!("{command:?}");
        };
        assert!(matches!(
            commands[0],
            MetadataCommand::MarkReplicasOffline { broker_id: 1, .. }
        ));
        assert_eq!(
            commands.len(),
            3,
            "t-0 and u-0 change, t-1 not: {commands:?}"
        );
        apply(&mut image, command).unwrap();
        assert_eq!(
            partitions(&image, "t"),
            vec![(Some(2), vec![2, 3]), (Some(2), vec![2, 1, 3])]
        );
        // The last ISR member keeps its place but cannot lead: the partition is offline.
        assert_eq!(partitions(&image, "u"), vec![(None, vec![1])]);
        let broker = image.broker(1).unwrap();
        assert_eq!(broker.offline_log_dirs, vec![dir]);
        assert_eq!(broker.offline_replicas.len(), 2);
        // Reported again: nothing new to do.
        assert_eq!(heartbeat_command(&image, &request, false), None);
        // No election gives an offline replica leadership back, even the preferred one.
        assert!(crate::elections::leader_elections(&image, false).is_empty());
        assert!(crate::elections::preferred_leader_elections(&image).is_empty());
        // A new registration (the broker restarted) starts with every directory online.
        let command = registration_command(&image, &registration(1, 99), 5, false, false).unwrap();
        apply(&mut image, command).unwrap();
        assert!(image.broker(1).unwrap().offline_replicas.is_empty());
    }

    #[test]
    fn a_fenced_broker_reporting_offline_dirs_is_unfenced_and_marked_at_once() {
        let mut image = image_with_brokers(&[1, 2]);
        create_topic(&mut image, "t", 1, vec![vec![1, 2]]).unwrap();
        fence(&mut image, 1);
        let mut request = heartbeat(&image, 1);
        request.offline_replicas = vec![(Uuid::from_u128(1), 0)];
        let command = heartbeat_command(&image, &request, false).unwrap();
        let MetadataCommand::Batch(commands) = &command else {
            panic!("{command:?}");
        };
        assert!(matches!(commands[0], MetadataCommand::UnfenceBroker { .. }));
        assert!(matches!(
            commands[1],
            MetadataCommand::MarkReplicasOffline { .. }
        ));
        apply(&mut image, command).unwrap();
        assert!(!image.broker(1).unwrap().fenced);
        // Fencing takes precedence: the offline replicas wait for a later heartbeat.
        let mut request = heartbeat(&image, 2);
        request.want_shutdown = true;
        request.offline_replicas = vec![(Uuid::from_u128(1), 0)];
        let command = heartbeat_command(&image, &request, false).unwrap();
        let MetadataCommand::Batch(commands) = &command else {
            panic!("{command:?}");
        };
        assert!(matches!(commands[0], MetadataCommand::FenceBroker { .. }));
        assert!(!commands
            .iter()
            .any(|c| matches!(c, MetadataCommand::MarkReplicasOffline { .. })));
    }
}
