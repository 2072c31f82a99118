"""Writes registry-framed records with Confluent's Python client, the
independent producer of sink/registry_integration_test.go.

usage: registry_produce.py BROKERS REGISTRY_URL TOPIC_PREFIX PHASE

Phase 1 writes PREFIX-avro's first records; phase 2 the rest:
  PREFIX-avro   Avro (fastavro): 3 records of v1 (phase 1), 2 of v2 (a new
                optional field, a compatible evolution), then 1 of an
                incompatible schema registered after the subject's
                compatibility is set to NONE (the sink must dead-letter it).
  PREFIX-json   JSON Schema: 3 records.
  PREFIX-proto  Protobuf (messages built at run time from descriptors, no
                protoc; a reference and the well-known Timestamp): 3
                records of the file's second message.
Prints one JSON line with the schema IDs used.
"""

import datetime
import decimal
import faulthandler
import json
import sys

from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

# A hang prints every thread's stack to stderr and exits, well inside the
# Go test's deadline, so CI shows where it stuck.
faulthandler.dump_traceback_later(90, exit=True)

brokers, registry, prefix, phase = sys.argv[1:5]
# The client has no request timeout by default: one request lost on a
# loaded machine (CI runs this beside the fault suite) hung phase 2 until
# the test's deadline. With one, the client retries it (max.retries 3);
# registering the same schema again returns the same ID.
client = SchemaRegistryClient({"url": registry, "timeout": 15})
producer = Producer({"bootstrap.servers": brokers})
ids = {}

AVRO_V1 = {
    "type": "record", "name": "Trade", "namespace": "it",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "qty", "type": "int"},
        {"name": "sym", "type": "string"},
        {"name": "px", "type": "double"},
        {"name": "side", "type": {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL"]}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 4}},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {"name": "venue", "type": {"type": "record", "name": "Venue", "fields": [
            {"name": "mic", "type": "string"}, {"name": "lat", "type": ["null", "double"], "default": None}]}},
    ],
}
AVRO_V2 = json.loads(json.dumps(AVRO_V1))
AVRO_V2["fields"].append({"name": "trader", "type": ["null", "string"], "default": None})
AVRO_BAD = json.loads(json.dumps(AVRO_V1))
AVRO_BAD["fields"][2] = {"name": "sym", "type": "long"}  # string -> long: incompatible

now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=123456) - datetime.timedelta(hours=1)


def avro_rec(i, **extra):
    r = {"id": i, "qty": i * 10, "sym": "SYM%d" % i, "px": 1.5 * i, "side": "BUY" if i % 2 else "SELL",
         "note": None if i % 2 else "n%d" % i, "price": decimal.Decimal("1234.5678") + i, "ts": now,
         "day": datetime.date(2026, 11, 26), "tags": ["a", "b%d" % i], "attrs": {"k": i},
         "venue": {"mic": "XNAS", "lat": None}}
    r.update(extra)
    return r


def flush():
    left = producer.flush(60)
    if left:
        sys.exit("%d records still unsent after 60 s" % left)


def send(topic, ser, value):
    producer.produce(topic, key=b"k", value=ser(value, SerializationContext(topic, MessageField.VALUE)))


topic = prefix + "-avro"
subject = topic + "-value"
if phase == "1":
    ser = AvroSerializer(client, json.dumps(AVRO_V1))
    for i in range(1, 4):
        send(topic, ser, avro_rec(i))
    flush()
    print(json.dumps({"avro_v1": client.register_schema(subject, Schema(json.dumps(AVRO_V1), "AVRO"))}))
    sys.exit(0)
# BACKWARD is a Confluent registry's default; Apicurio's ccompat API
# starts a subject with no compatibility rule, so it is set here.
client.set_compatibility(subject_name=subject, level="BACKWARD")
ser = AvroSerializer(client, json.dumps(AVRO_V2))
for i in range(4, 6):
    send(topic, ser, avro_rec(i, trader="t1"))
flush()
ids["avro_v2"] = client.register_schema(subject, Schema(json.dumps(AVRO_V2), "AVRO"))
# The registry refuses the incompatible schema under BACKWARD ...
try:
    client.register_schema(subject, Schema(json.dumps(AVRO_BAD), "AVRO"))
    ids["bad_refused"] = False
except Exception:
    ids["bad_refused"] = True
# ... so a careless producer turns the check off first.
client.set_compatibility(subject_name=subject, level="NONE")
ser = AvroSerializer(client, json.dumps(AVRO_BAD))
send(topic, ser, avro_rec(99, sym=99))
ids["avro_bad"] = client.register_schema(subject, Schema(json.dumps(AVRO_BAD), "AVRO"))

JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#", "title": "Quote", "type": "object",
    "properties": {
        "id": {"type": "integer"}, "sym": {"type": "string"}, "bid": {"type": "number"},
        "ok": {"type": "boolean"}, "ts": {"type": "string", "format": "date-time"},
        "levels": {"type": "array", "items": {"type": "number"}},
        "book": {"type": "object", "properties": {"depth": {"type": "integer"}, "venue": {"type": "string"}}},
    },
    "required": ["id", "sym"],
}
topic = prefix + "-json"
ser = JSONSerializer(json.dumps(JSON_SCHEMA), client)
for i in range(1, 4):
    send(topic, ser, {"id": i, "sym": "Q%d" % i, "bid": 10.25 * i, "ok": i % 2 == 0, "ts": now.isoformat(),
                      "levels": [1.5, 2.5], "book": {"depth": i, "venue": "ARCA"}})

# Protobuf messages built from descriptors at run time. The serializer
# registers them its default way: it/common.proto as a reference (subject
# it/common.proto) and it/order.proto, each a serialized descriptor (which
# a Confluent registry, and the stand-in, keep as .proto text). Order is
# the file's second message, so its records carry message index [1].
F = descriptor_pb2.FieldDescriptorProto
common = descriptor_pb2.FileDescriptorProto(name="it/common.proto", package="it.common", syntax="proto3")
venue = common.message_type.add(name="Venue")
venue.field.add(name="mic", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
venue.field.add(name="lat", number=2, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
fdp = descriptor_pb2.FileDescriptorProto(name="it/order.proto", package="it", syntax="proto3",
                                         dependency=["google/protobuf/timestamp.proto", "it/common.proto"])
fdp.message_type.add(name="Header").field.add(name="source", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
m = fdp.message_type.add(name="Order")
leg = m.nested_type.add(name="Leg")
leg.field.add(name="qty", number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
leg.field.add(name="sym", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
e = fdp.enum_type.add(name="Kind")
e.value.add(name="KIND_UNSPECIFIED", number=0)
e.value.add(name="LIMIT", number=1)
for num, (name, typ, label, tname) in enumerate([
        ("id", F.TYPE_INT64, F.LABEL_OPTIONAL, None),
        ("sym", F.TYPE_STRING, F.LABEL_OPTIONAL, None),
        ("qty", F.TYPE_INT32, F.LABEL_OPTIONAL, None),
        ("px", F.TYPE_DOUBLE, F.LABEL_OPTIONAL, None),
        ("kind", F.TYPE_ENUM, F.LABEL_OPTIONAL, ".it.Kind"),
        ("fills", F.TYPE_DOUBLE, F.LABEL_REPEATED, None),
        ("ts", F.TYPE_MESSAGE, F.LABEL_OPTIONAL, ".google.protobuf.Timestamp"),
        ("legs", F.TYPE_MESSAGE, F.LABEL_REPEATED, ".it.Order.Leg"),
        ("venue", F.TYPE_MESSAGE, F.LABEL_OPTIONAL, ".it.common.Venue")], start=1):
    f = m.field.add(name=name, number=num, type=typ, label=label)
    if tname:
        f.type_name = tname
pool = descriptor_pool.DescriptorPool()
pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
pool.Add(common)
pool.Add(fdp)
Order = message_factory.GetMessageClass(pool.FindMessageTypeByName("it.Order"))
topic = prefix + "-proto"
ser = ProtobufSerializer(Order, client, {"use.deprecated.format": False})
for i in range(1, 4):
    o = Order(id=i << 40, sym="P%d" % i, qty=i, px=0.5 * i, kind=1, fills=[1.0, 2.0])
    o.ts.FromDatetime(now.replace(tzinfo=None))
    o.legs.add(qty=1.5 * i, sym="L%d" % i)
    o.venue.mic = "XNAS"
    send(topic, ser, o)
latest = client.get_latest_version(topic + "-value")
ids["proto"] = latest.schema_id
ids["proto_schema"] = latest.schema.schema_str

flush()
print(json.dumps(ids))
