//! Every API at every version the broker advertises: the request is answered (not a closed
//! connection) and the response decodes at that version. Catches responses that set a field
//! the requested version does not have.

mod common;

use common::{batch, Client, TestBroker};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn versions(c: &mut Client, key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let av = c.send(&ApiVersionsRequest::default(), 0);
    let entry = av
        .api_keys
        .iter()
        .find(|k| k.api_key == key as i16)
        .expect("advertised");
    entry.min_version..=entry.max_version
}

fn topic_id(c: &mut Client, topic: &str) -> uuid::Uuid {
    let md = c.send(&MetadataRequest::default().with_topics(None), 12);
    md.topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.as_str()) == Some(topic))
        .expect("topic")
        .topic_id
}

#[test]
fn every_api_at_every_version() {
    let broker = TestBroker::start(&[]);
    let mut c = broker.connect();

    for v in versions(&mut c, ApiKey::ApiVersions) {
        let mut req = ApiVersionsRequest::default();
        if v >= 3 {
            req = req
                .with_client_software_name(StrBytes::from_static_str("sluice-test"))
                .with_client_software_version(StrBytes::from_static_str("1.0"));
        }
        assert_eq!(c.send(&req, v).error_code, 0, "ApiVersions v{v}");
    }

    for v in versions(&mut c, ApiKey::CreateTopics) {
        let topic = format!("created-v{v}");
        let req = CreateTopicsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(name(&topic))
                .with_num_partitions(2)
                .with_replication_factor(1)
                .with_configs(vec![CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str("retention.ms"))
                    .with_value(Some(StrBytes::from_static_str("3600000")))])]);
        let resp = c.send(&req, v);
        assert_eq!(resp.topics[0].error_code, 0, "CreateTopics v{v}");
    }
    let id = topic_id(&mut c, "created-v7");
    let id_v2 = topic_id(&mut c, "created-v2");

    for v in versions(&mut c, ApiKey::Metadata) {
        let topics = if v >= 10 {
            // v10+ can name a topic by id alone.
            vec![MetadataRequestTopic::default().with_topic_id(id_v2)]
        } else {
            vec![MetadataRequestTopic::default().with_name(Some(name("created-v2")))]
        };
        let mut req = MetadataRequest::default().with_topics(Some(topics));
        if v >= 4 {
            req = req.with_allow_auto_topic_creation(true);
        }
        if (8..=10).contains(&v) {
            req = req.with_include_cluster_authorized_operations(true);
        }
        if v >= 8 {
            req = req.with_include_topic_authorized_operations(true);
        }
        let resp = c.send(&req, v);
        assert_eq!(resp.topics[0].error_code, 0, "Metadata v{v}");
        assert_eq!(resp.topics[0].partitions.len(), 2, "Metadata v{v}");
        // Auto-creation through Metadata.
        let auto = format!("auto-v{v}");
        let mut req = MetadataRequest::default().with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name(&auto))),
        ]));
        if v >= 4 {
            req = req.with_allow_auto_topic_creation(true);
        }
        assert_eq!(
            c.send(&req, v).topics[0].error_code,
            0,
            "Metadata v{v} auto-create"
        );
    }

    let mut expected_offset = 0;
    for v in versions(&mut c, ApiKey::Produce) {
        let mut td =
            TopicProduceData::default().with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch(&[b"x", b"y"], Compression::Snappy)))]);
        td = if v >= 13 {
            td.with_topic_id(id)
        } else {
            td.with_name(name("created-v7"))
        };
        let req = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![td]);
        let resp = c.send(&req, v);
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!(
            (p.error_code, p.base_offset),
            (0, expected_offset),
            "Produce v{v}"
        );
        expected_offset += 2;
    }

    for v in versions(&mut c, ApiKey::Fetch) {
        let mut ft = FetchTopic::default().with_partitions(vec![FetchPartition::default()
            .with_partition(0)
            .with_fetch_offset(0)
            .with_partition_max_bytes(1 << 20)]);
        ft = if v >= 13 {
            ft.with_topic_id(id)
        } else {
            ft.with_topic(name("created-v7"))
        };
        let mut req = FetchRequest::default()
            .with_max_wait_ms(0)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_topics(vec![ft]);
        if v < 15 {
            req = req.with_replica_id(BrokerId(-1));
        }
        if v >= 7 {
            req = req.with_session_epoch(-1);
        }
        let resp = c.send(&req, v);
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.error_code, 0, "Fetch v{v}");
        assert_eq!(p.high_watermark, expected_offset, "Fetch v{v}");
        assert!(
            !p.records.as_ref().expect("records").is_empty(),
            "Fetch v{v}"
        );
    }

    for v in versions(&mut c, ApiKey::ListOffsets) {
        for (ts, want) in [(-2i64, 0i64), (-1, expected_offset)] {
            let req = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(vec![ListOffsetsTopic::default()
                    .with_name(name("created-v7"))
                    .with_partitions(vec![ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_timestamp(ts)])]);
            let resp = c.send(&req, v);
            let p = &resp.topics[0].partitions[0];
            assert_eq!(
                (p.error_code, p.offset),
                (0, want),
                "ListOffsets v{v} ts {ts}"
            );
        }
    }

    for v in versions(&mut c, ApiKey::DescribeConfigs) {
        let mut req = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("created-v7")),
            DescribeConfigsResource::default()
                .with_resource_type(4)
                .with_resource_name(StrBytes::from_static_str("1")),
        ]);
        req = req.with_include_synonyms(true);
        if v >= 3 {
            req = req.with_include_documentation(true);
        }
        let resp = c.send(&req, v);
        assert_eq!(resp.results[0].error_code, 0, "DescribeConfigs v{v}");
        let retention = resp.results[0]
            .configs
            .iter()
            .find(|e| e.name.as_str() == "retention.ms")
            .expect("retention.ms");
        assert_eq!(
            retention.value.as_ref().map(|s| s.to_string()).as_deref(),
            Some("3600000")
        );
        assert_eq!(retention.config_source, 1, "DYNAMIC_TOPIC_CONFIG");
        assert_eq!(resp.results[1].error_code, 0, "DescribeConfigs broker v{v}");
    }

    for v in versions(&mut c, ApiKey::AlterConfigs) {
        let req = AlterConfigsRequest::default().with_resources(vec![
            kafka_protocol::messages::alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("created-v7"))
                .with_configs(vec![
                    kafka_protocol::messages::alter_configs_request::AlterableConfig::default()
                        .with_name(StrBytes::from_static_str("retention.ms"))
                        .with_value(Some(StrBytes::from_string(format!("{}", 1000 + v)))),
                ]),
        ]);
        assert_eq!(
            c.send(&req, v).responses[0].error_code,
            0,
            "AlterConfigs v{v}"
        );
    }

    for v in versions(&mut c, ApiKey::IncrementalAlterConfigs) {
        let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
            kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("created-v7"))
                .with_configs(vec![
                    kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig::default()
                        .with_name(StrBytes::from_static_str("cleanup.policy"))
                        .with_config_operation(2)
                        .with_value(Some(StrBytes::from_static_str("compact"))),
                ]),
        ]);
        assert_eq!(
            c.send(&req, v).responses[0].error_code,
            0,
            "IncrementalAlterConfigs v{v}"
        );
    }

    for v in versions(&mut c, ApiKey::CreatePartitions) {
        let req = CreatePartitionsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(vec![CreatePartitionsTopic::default()
                .with_name(name("created-v2"))
                .with_count(3 + i32::from(v))]);
        assert_eq!(
            c.send(&req, v).results[0].error_code,
            0,
            "CreatePartitions v{v}"
        );
    }

    for v in versions(&mut c, ApiKey::DeleteRecords) {
        let req = DeleteRecordsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(vec![DeleteRecordsTopic::default()
                .with_name(name("created-v7"))
                .with_partitions(vec![DeleteRecordsPartition::default()
                    .with_partition_index(0)
                    .with_offset(i64::from(v) + 1)])]);
        let resp = c.send(&req, v);
        let p = &resp.topics[0].partitions[0];
        assert_eq!(
            (p.error_code, p.low_watermark),
            (0, i64::from(v) + 1),
            "DeleteRecords v{v}"
        );
    }

    for v in versions(&mut c, ApiKey::DescribeCluster) {
        let resp = c.send(
            &DescribeClusterRequest::default().with_include_cluster_authorized_operations(true),
            v,
        );
        assert_eq!(resp.error_code, 0, "DescribeCluster v{v}");
        assert_eq!(resp.brokers.len(), 1);
    }

    for v in versions(&mut c, ApiKey::DeleteTopics) {
        let topic = format!("auto-v{v}");
        let req = if v >= 6 {
            DeleteTopicsRequest::default().with_topics(vec![
                DeleteTopicState::default().with_name(Some(name(&topic)))
            ])
        } else {
            DeleteTopicsRequest::default().with_topic_names(vec![name(&topic)])
        }
        .with_timeout_ms(5000);
        assert_eq!(
            c.send(&req, v).responses[0].error_code,
            0,
            "DeleteTopics v{v}"
        );
    }
}
