//! Broker lifecycle commands and broker configs.
//!
//! Registration follows KRaft: the broker epoch is the log index of the registration, a new
//! registration starts fenced, a retry (same incarnation id) gets the same epoch back, and a
//! different process may take over a broker id only once the old registration is fenced (its
//! heartbeats stopped), otherwise DUPLICATE_BROKER_REGISTRATION.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::apply_config_ops;
use super::done;
use super::BrokerRegistration;
use super::ListenerEndpoint;
use super::MetadataImage;
use crate::command::CommandError;
use crate::command::CommandOutput;
use crate::command::CommandResult;
use crate::command::ConfigOp;

impl MetadataImage {
    pub(super) fn register_broker(
        &mut self,
        broker_id: i32,
        incarnation_id: Uuid,
        (host, port): (&str, u16),
        (listeners, http_endpoints): (&[ListenerEndpoint], &BTreeMap<String, String>),
        rack: Option<&str>,
        timestamp_ms: i64,
    ) -> CommandResult {
        if broker_id < 0 {
            return Err(CommandError::InvalidRequest(format!(
                "broker id {broker_id} is negative"
            )));
        }
        if host.is_empty() {
            return Err(CommandError::InvalidRequest(format!(
                "broker {broker_id} registered without a host"
            )));
        }
        if let Some(existing) = self.brokers.get_mut(&broker_id) {
            if existing.incarnation_id == incarnation_id {
                // A retry, or the same process registering its listeners again after a
                // dynamic change of `listeners`: the endpoints are replaced, the epoch stays.
                existing.host = host.to_string();
                existing.port = port;
                existing.listeners = listeners.to_vec();
                existing.http_endpoints = http_endpoints.clone();
                return Ok(CommandOutput::BrokerRegistered {
                    broker_epoch: existing.broker_epoch,
                });
            }
            if !existing.fenced {
                return Err(CommandError::DuplicateBrokerRegistration(broker_id));
            }
        }
        let broker_epoch = i64::try_from(self.offset).map_err(|_| {
            CommandError::InvalidRequest("metadata offset does not fit a broker epoch".into())
        })?;
        self.brokers.insert(
            broker_id,
            BrokerRegistration {
                broker_id,
                incarnation_id,
                host: host.to_string(),
                port,
                listeners: listeners.to_vec(),
                http_endpoints: http_endpoints.clone(),
                rack: rack.map(str::to_string),
                broker_epoch,
                fenced: true,
                last_heartbeat_ms: timestamp_ms,
                offline_log_dirs: Vec::new(),
                offline_replicas: Default::default(),
            },
        );
        Ok(CommandOutput::BrokerRegistered { broker_epoch })
    }

    pub(super) fn unregister_broker(&mut self, broker_id: i32) -> CommandResult {
        match self.brokers.remove(&broker_id) {
            Some(_) => done(),
            None => Err(CommandError::BrokerIdNotRegistered(broker_id)),
        }
    }

    pub(super) fn broker_heartbeat(
        &mut self,
        broker_id: i32,
        broker_epoch: i64,
        timestamp_ms: i64,
    ) -> CommandResult {
        let broker = self.registered_broker_mut(broker_id, broker_epoch)?;
        // Proposals may commit out of the order of their clocks; the newest time wins.
        broker.last_heartbeat_ms = broker.last_heartbeat_ms.max(timestamp_ms);
        done()
    }

    pub(super) fn mark_replicas_offline(
        &mut self,
        broker_id: i32,
        broker_epoch: i64,
        log_dirs: &[Uuid],
        replicas: &[(Uuid, i32)],
    ) -> CommandResult {
        let broker = self.registered_broker_mut(broker_id, broker_epoch)?;
        for dir in log_dirs {
            if !broker.offline_log_dirs.contains(dir) {
                broker.offline_log_dirs.push(*dir);
            }
        }
        broker.offline_replicas.extend(replicas.iter().copied());
        done()
    }

    pub(super) fn set_fenced(
        &mut self,
        broker_id: i32,
        broker_epoch: i64,
        fenced: bool,
    ) -> CommandResult {
        self.registered_broker_mut(broker_id, broker_epoch)?.fenced = fenced;
        done()
    }

    pub(super) fn alter_broker_config(
        &mut self,
        broker_id: Option<i32>,
        ops: &[ConfigOp],
    ) -> CommandResult {
        match broker_id {
            None => apply_config_ops(&mut self.cluster_configs, ops)?,
            Some(id) if id < 0 => {
                return Err(CommandError::InvalidRequest(format!(
                    "broker id {id} is negative"
                )))
            }
            Some(id) => {
                let mut configs = self.broker_configs.get(&id).cloned().unwrap_or_default();
                apply_config_ops(&mut configs, ops)?;
                if configs.is_empty() {
                    self.broker_configs.remove(&id);
                } else {
                    self.broker_configs.insert(id, configs);
                }
            }
        }
        done()
    }

    fn registered_broker_mut(
        &mut self,
        broker_id: i32,
        broker_epoch: i64,
    ) -> Result<&mut BrokerRegistration, CommandError> {
        let broker = self
            .brokers
            .get_mut(&broker_id)
            .ok_or(CommandError::BrokerIdNotRegistered(broker_id))?;
        if broker.broker_epoch != broker_epoch {
            return Err(CommandError::StaleBrokerEpoch {
                broker_id,
                current: broker.broker_epoch,
                requested: broker_epoch,
            });
        }
        Ok(broker)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::command::MetadataCommand;

    fn register(image: &mut MetadataImage, id: i32, incarnation: u128) -> CommandResult {
        apply(
            image,
            MetadataCommand::RegisterBroker {
                broker_id: id,
                incarnation_id: Uuid::from_u128(incarnation),
                host: "b".into(),
                port: 9092,
                listeners: Vec::new(),
                http_endpoints: Default::default(),
                rack: Some("r1".into()),
                timestamp_ms: 100,
            },
        )
    }

    #[test]
    fn registration_epoch_is_the_offset_and_starts_fenced() {
        let mut image = MetadataImage::default();
        image.advance_offset(41);
        assert_eq!(
            register(&mut image, 5, 1),
            Ok(CommandOutput::BrokerRegistered { broker_epoch: 42 })
        );
        let b = image.broker(5).unwrap();
        assert!(b.fenced);
        assert_eq!(b.rack.as_deref(), Some("r1"));
        assert_eq!(b.last_heartbeat_ms, 100);
    }

    #[test]
    fn retried_registration_keeps_its_epoch() {
        let mut image = MetadataImage::default();
        register(&mut image, 5, 1).unwrap();
        assert_eq!(
            register(&mut image, 5, 1),
            Ok(CommandOutput::BrokerRegistered { broker_epoch: 1 })
        );
    }

    #[test]
    fn the_same_process_registering_again_replaces_its_listeners() {
        let mut image = MetadataImage::default();
        register(&mut image, 5, 1).unwrap();
        let listener = ListenerEndpoint {
            name: "EXTRA".into(),
            host: "h".into(),
            port: 9095,
            security_protocol: 0,
        };
        let again = apply(
            &mut image,
            MetadataCommand::RegisterBroker {
                broker_id: 5,
                incarnation_id: Uuid::from_u128(1),
                host: "b".into(),
                port: 9092,
                listeners: vec![listener.clone()],
                http_endpoints: Default::default(),
                rack: Some("r1".into()),
                timestamp_ms: 200,
            },
        );
        assert_eq!(
            again,
            Ok(CommandOutput::BrokerRegistered { broker_epoch: 1 })
        );
        assert_eq!(image.broker(5).unwrap().listeners, [listener]);
    }

    #[test]
    fn another_process_takes_over_only_a_fenced_broker() {
        let mut image = MetadataImage::default();
        register(&mut image, 5, 1).unwrap();
        unfence(&mut image, 5);
        assert_eq!(
            register(&mut image, 5, 2),
            Err(CommandError::DuplicateBrokerRegistration(5))
        );
        fence(&mut image, 5);
        assert_eq!(
            register(&mut image, 5, 2),
            Ok(CommandOutput::BrokerRegistered { broker_epoch: 5 })
        );
        assert_eq!(image.broker(5).unwrap().incarnation_id, Uuid::from_u128(2));
    }

    #[test]
    fn bad_registrations() {
        let mut image = MetadataImage::default();
        assert!(matches!(
            register(&mut image, -1, 1),
            Err(CommandError::InvalidRequest(_))
        ));
        let r = apply(
            &mut image,
            MetadataCommand::RegisterBroker {
                broker_id: 1,
                incarnation_id: Uuid::from_u128(1),
                host: String::new(),
                port: 1,
                listeners: Vec::new(),
                http_endpoints: Default::default(),
                rack: None,
                timestamp_ms: 0,
            },
        );
        assert!(matches!(r, Err(CommandError::InvalidRequest(_))));
        assert!(image.brokers().is_empty());
    }

    #[test]
    fn fencing_and_heartbeats_check_the_epoch() {
        let mut image = MetadataImage::default();
        register(&mut image, 1, 1).unwrap();
        let epoch = image.broker(1).unwrap().broker_epoch;
        assert_eq!(
            apply(
                &mut image,
                MetadataCommand::UnfenceBroker {
                    broker_id: 1,
                    broker_epoch: epoch + 1
                }
            ),
            Err(CommandError::StaleBrokerEpoch {
                broker_id: 1,
                current: epoch,
                requested: epoch + 1
            })
        );
        assert!(image.broker(1).unwrap().fenced);
        assert_eq!(
            apply(
                &mut image,
                MetadataCommand::FenceBroker {
                    broker_id: 9,
                    broker_epoch: 1
                }
            ),
            Err(CommandError::BrokerIdNotRegistered(9))
        );
        apply(
            &mut image,
            MetadataCommand::BrokerHeartbeat {
                broker_id: 1,
                broker_epoch: epoch,
                timestamp_ms: 500,
            },
        )
        .unwrap();
        apply(
            &mut image,
            MetadataCommand::BrokerHeartbeat {
                broker_id: 1,
                broker_epoch: epoch,
                timestamp_ms: 300,
            },
        )
        .unwrap();
        assert_eq!(image.broker(1).unwrap().last_heartbeat_ms, 500);
        let r = apply(
            &mut image,
            MetadataCommand::BrokerHeartbeat {
                broker_id: 1,
                broker_epoch: 0,
                timestamp_ms: 900,
            },
        );
        assert!(matches!(r, Err(CommandError::StaleBrokerEpoch { .. })));
    }

    #[test]
    fn unregister() {
        let mut image = image_with_brokers(&[1]);
        assert_eq!(
            apply(
                &mut image,
                MetadataCommand::UnregisterBroker { broker_id: 1 }
            ),
            Ok(CommandOutput::Done)
        );
        assert!(image.broker(1).is_none());
        assert_eq!(
            apply(
                &mut image,
                MetadataCommand::UnregisterBroker { broker_id: 1 }
            ),
            Err(CommandError::BrokerIdNotRegistered(1))
        );
    }

    #[test]
    fn broker_and_cluster_configs() {
        let mut image = MetadataImage::default();
        let set = |name: &str, value: &str| ConfigOp::Set {
            name: name.into(),
            value: value.into(),
        };
        apply(
            &mut image,
            MetadataCommand::AlterBrokerConfig {
                broker_id: None,
                ops: vec![set("log.retention.ms", "1")],
            },
        )
        .unwrap();
        apply(
            &mut image,
            MetadataCommand::AlterBrokerConfig {
                broker_id: Some(3),
                ops: vec![set("a", "1"), set("b", "2")],
            },
        )
        .unwrap();
        assert_eq!(image.cluster_configs().len(), 1);
        assert_eq!(image.broker_configs(3).len(), 2);
        apply(
            &mut image,
            MetadataCommand::AlterBrokerConfig {
                broker_id: Some(3),
                ops: vec![
                    ConfigOp::Delete { name: "a".into() },
                    ConfigOp::Delete { name: "b".into() },
                ],
            },
        )
        .unwrap();
        assert!(image.broker_configs(3).is_empty());
        let r = apply(
            &mut image,
            MetadataCommand::AlterBrokerConfig {
                broker_id: Some(3),
                ops: vec![set("ok", "1"), set("", "x")],
            },
        );
        assert!(matches!(r, Err(CommandError::InvalidConfig(_))));
        assert!(image.broker_configs(3).is_empty(), "all or nothing");
        let r = apply(
            &mut image,
            MetadataCommand::AlterBrokerConfig {
                broker_id: Some(-2),
                ops: vec![],
            },
        );
        assert!(matches!(r, Err(CommandError::InvalidRequest(_))));
    }
}
