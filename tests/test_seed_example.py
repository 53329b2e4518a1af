"""The kafka-python example from the project's seed, run as written against a real broker.

The consumer subscribes by topic name with no group (kafka-python's default group_id=None), so it
assigns itself every partition and needs no group coordinator.
"""
from kafka import KafkaConsumer, KafkaProducer

from kafka_helpers import assert_no_panic


def test_seed_kafka_python_example(broker):
    boot = broker.bootstrap

    producer = KafkaProducer(bootstrap_servers=boot)
    future = producer.send('my-topic', b'Hello, Kafka!')
    producer.flush()
    metadata = future.get(timeout=30)
    assert metadata.topic == 'my-topic'
    assert metadata.offset == 0
    producer.close()

    consumer = KafkaConsumer('my-topic', bootstrap_servers=boot, auto_offset_reset='earliest',
                             consumer_timeout_ms=30000)
    received = []
    for message in consumer:
        received.append(message)
        break
    consumer.close()

    assert len(received) == 1, "no message arrived before consumer_timeout_ms"
    message = received[0]
    assert message.topic == 'my-topic'
    assert message.value == b'Hello, Kafka!'
    assert message.key is None
    assert message.offset == 0
    assert_no_panic(broker)
