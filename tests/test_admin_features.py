"""Issue 14 point 5 with a real client: kafka-python's KafkaAdminClient reads the finalized
features (ApiVersions v3+), updates them (UpdateFeatures: a refused upgrade type, a validate-only
downgrade, a real one and back) and pages through topics with DescribeTopicPartitions."""
import kafka.admin as kadmin
import kafka.errors as kerrors
import pytest

from conftest import wait_until
from kafka_helpers import assert_no_panic, unique_topic


def features(a):
    d = a.describe_features()
    return {name: value.get("finalized") for name, value in d.items()}, d


def test_features_described_and_updated(broker):
    a = kadmin.KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        finalized, described = features(a)
        assert described["metadata.version"]["supported"] == (27, 27)
        assert described["group.version"]["supported"] == (0, 1)
        assert finalized["metadata.version"] == (27, 27)
        assert finalized["group.version"] == (1, 1)
        epoch = described["group.version"]["finalized_epoch"]
        assert epoch == 0

        # A downgrade without a downgrade type is refused; so is a level Sluice lacks.
        with pytest.raises(kerrors.InvalidUpdateVersionError):
            a.update_features({"group.version": 0})
        with pytest.raises(kerrors.InvalidUpdateVersionError):
            a.update_features({"transaction.version": 2})

        ok = a.update_features({"group.version": ("SAFE_DOWNGRADE", 0)}, validate_only=True)
        assert ok == {"group.version": "OK"}
        assert features(a)[0]["group.version"] == (1, 1), "validate_only changed nothing"

        assert a.update_features({"group.version": ("SAFE_DOWNGRADE", 0)}) == {"group.version": "OK"}
        finalized, described = features(a)
        assert finalized.get("group.version") is None, described
        assert described["metadata.version"]["finalized_epoch"] > epoch

        assert a.update_features({"group.version": 1}) == {"group.version": "OK"}
        assert features(a)[0]["group.version"] == (1, 1)
    finally:
        a.close()
    assert_no_panic(broker)


def test_describe_topic_partitions_pages(broker):
    a = kadmin.KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        first, second = unique_topic("dtp-a"), unique_topic("dtp-b")
        a.create_topics([kadmin.NewTopic(first, 3, 1), kadmin.NewTopic(second, 2, 1)])
        wait_until(lambda: {first, second} <= set(a.list_topics()), timeout=30,
                   what="the topics to show")
        seen, cursor, pages = [], None, 0
        while True:
            page = a.describe_topic_partitions([first, second], response_partition_limit=2,
                                               cursor=cursor)
            pages += 1
            for t in page["topics"]:
                assert t["error_code"] == 0, t
                seen += [(t["name"], p["partition_index"]) for p in t["partitions"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert pages < 10, "the cursor does not advance"
        expected = sorted([(first, p) for p in range(3)] + [(second, p) for p in range(2)])
        assert seen == expected
        assert pages == 3
        missing = a.describe_topic_partitions(["no-such-topic-dtp"])
        assert [t["error_code"] for t in missing["topics"]] == [3]
    finally:
        a.close()
    assert_no_panic(broker)
