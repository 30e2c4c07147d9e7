"""Drives Warren's queue features with pika (Debian's python3-pika): dead-lettering with x-death,
message TTL, length limits with reject-publish, priorities and a single active consumer. Prints
one JSON line of what it saw."""
import datetime
import json
import sys
import time

import pika

url = sys.argv[1]
seen = {}
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
channel.confirm_delivery()


def get_eventually(queue, timeout=3.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        method, properties, body = channel.basic_get(queue=queue, auto_ack=True)
        if method is not None:
            return method, properties, body
        time.sleep(0.02)
    raise RuntimeError("no message in " + queue)


# Dead-lettering of a rejected message.
channel.queue_declare(queue="pyf.dead", exclusive=True)
channel.queue_declare(
    queue="pyf.src",
    exclusive=True,
    arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "pyf.dead"},
)
channel.basic_publish("", "pyf.src", b"rejected", pika.BasicProperties(expiration="60000"))
method, _, _ = channel.basic_get(queue="pyf.src", auto_ack=False)
channel.basic_reject(delivery_tag=method.delivery_tag, requeue=False)
method, properties, body = get_eventually("pyf.dead")
death = properties.headers["x-death"][0]
seen["dead"] = [
    body.decode(),
    method.routing_key,
    list(properties.headers.keys()),
    list(death.keys()),
    death["count"],
    death["reason"].decode() if isinstance(death["reason"], bytes) else death["reason"],
    isinstance(death["time"], datetime.datetime),
    properties.expiration,
]

# Message TTL: expired in the source, dead-lettered as expired.
channel.queue_declare(
    queue="pyf.ttl",
    exclusive=True,
    arguments={
        "x-message-ttl": 100,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "pyf.dead",
    },
)
channel.basic_publish("", "pyf.ttl", b"expired")
method, properties, body = get_eventually("pyf.dead")
seen["expired"] = [body.decode(), properties.headers["x-death"][0]["reason"]]

# Length limit with reject-publish: the third publish is nacked.
channel.queue_declare(
    queue="pyf.limited",
    exclusive=True,
    arguments={"x-max-length": 2, "x-overflow": "reject-publish"},
)
outcomes = []
for i in range(3):
    try:
        channel.basic_publish("", "pyf.limited", b"m%d" % i)
        outcomes.append("ack")
    except pika.exceptions.NackError:
        outcomes.append("nack")
seen["limited"] = outcomes

# Priorities.
channel.queue_declare(queue="pyf.prio", exclusive=True, arguments={"x-max-priority": 5})
for body, priority in [(b"low", 1), (b"high", 5), (b"none", None), (b"mid", 3)]:
    channel.basic_publish("", "pyf.prio", body, pika.BasicProperties(priority=priority))
order = []
for _ in range(4):
    order.append(get_eventually("pyf.prio")[2].decode())
seen["priority"] = order

# Single active consumer: everything goes to the first consumer.
channel.queue_declare(queue="pyf.sac", exclusive=True, arguments={"x-single-active-consumer": True})
got = {"first": 0, "second": 0}
channel.basic_consume("pyf.sac", lambda ch, m, p, b: got.__setitem__("first", got["first"] + 1), auto_ack=True)
channel.basic_consume("pyf.sac", lambda ch, m, p, b: got.__setitem__("second", got["second"] + 1), auto_ack=True)
for i in range(4):
    channel.basic_publish("", "pyf.sac", b"s%d" % i)
deadline = time.time() + 3
while got["first"] + got["second"] < 4 and time.time() < deadline:
    connection.process_data_events(time_limit=0.05)
seen["sac"] = got

# Consumer priorities: the higher one takes everything while it has room.
channel.queue_declare(queue="pyf.cprio", exclusive=True)
counts = {"low": 0, "high": 0}
channel.basic_consume("pyf.cprio", lambda ch, m, p, b: counts.__setitem__("low", counts["low"] + 1), auto_ack=True)
channel.basic_consume(
    "pyf.cprio",
    lambda ch, m, p, b: counts.__setitem__("high", counts["high"] + 1),
    auto_ack=True,
    arguments={"x-priority": 5},
)
for i in range(4):
    channel.basic_publish("", "pyf.cprio", b"c%d" % i)
deadline = time.time() + 3
while counts["low"] + counts["high"] < 4 and time.time() < deadline:
    connection.process_data_events(time_limit=0.05)
seen["consumer_priority"] = counts

# Queue expiry: gone once unused for x-expires.
channel.queue_declare(queue="pyf.expires", arguments={"x-expires": 150})
time.sleep(0.5)
probe = connection.channel()
try:
    probe.queue_declare(queue="pyf.expires", passive=True)
    seen["expired_queue"] = "still there"
except pika.exceptions.ChannelClosedByBroker as error:
    seen["expired_queue"] = error.reply_code

# Direct reply-to: a request and its reply without a reply queue.
rpc = connection.channel()
rpc.queue_declare(queue="pyf.rpc", exclusive=True)
replies = []
rpc.basic_consume("amq.rabbitmq.reply-to", lambda ch, m, p, b: replies.append(b.decode()), auto_ack=True)
rpc.basic_publish("", "pyf.rpc", b"ping", pika.BasicProperties(reply_to="amq.rabbitmq.reply-to"))
method, properties, body = None, None, None
deadline = time.time() + 3
while method is None and time.time() < deadline:
    method, properties, body = rpc.basic_get(queue="pyf.rpc", auto_ack=True)
rpc.basic_publish("", properties.reply_to, b"pong")
deadline = time.time() + 3
while not replies and time.time() < deadline:
    connection.process_data_events(time_limit=0.05)
seen["direct_reply_to"] = [properties.reply_to.startswith("amq.rabbitmq.reply-to."), replies]

# Warren only (run with "warren" as the second argument): the retry extension, dead-lettered
# once delivered twice, and the consumer timeout, which the test broker sets short.
if len(sys.argv) > 2 and sys.argv[2] == "warren":
    channel.queue_declare(
        queue="pyf.retry",
        exclusive=True,
        arguments={
            "x-warren-delivery-limit": 2,
            "x-warren-retry-delay-ms": 50,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "pyf.dead",
        },
    )
    channel.basic_publish("", "pyf.retry", b"retried")
    attempts = 0
    deadline = time.time() + 3
    while attempts < 2 and time.time() < deadline:
        method, _, _ = channel.basic_get(queue="pyf.retry", auto_ack=False)
        if method is None:
            time.sleep(0.02)
            continue
        attempts += 1
        channel.basic_nack(delivery_tag=method.delivery_tag, requeue=True)
    method, properties, body = get_eventually("pyf.dead")
    seen["retry"] = [attempts, body.decode(), properties.headers["x-death"][0]["reason"]]

    # The consumer timeout (the test broker runs with a short one): the channel is closed.
    timed = connection.channel()
    timed.queue_declare(queue="pyf.timeout", exclusive=True)
    timed.basic_publish("", "pyf.timeout", b"slow")
    timed.basic_consume("pyf.timeout", lambda ch, m, p, b: None, auto_ack=False)
    seen["consumer_timeout"] = "still open"

    def on_close(_channel, reason):
        seen["consumer_timeout"] = [reason.reply_code, reason.reply_text]

    # The blocking adapter raises a broker's close only on the next call; the callback sees it.
    timed._impl.add_on_close_callback(on_close)
    deadline = time.time() + 4
    while time.time() < deadline and timed.is_open:
        connection.process_data_events(time_limit=0.1)

connection.close()
print(json.dumps(seen, default=str))
