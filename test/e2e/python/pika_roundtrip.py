"""Drives Warren with pika (Debian's python3-pika): declare, publish with confirms, consume,
basic.get, nack/requeue, and a channel error. Prints one JSON line of what it saw."""
import json
import sys

import pika

url = sys.argv[1]
seen = {}
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
channel.confirm_delivery()
result = channel.queue_declare(queue="", exclusive=True)
queue = result.method.queue
seen["server_named"] = queue.startswith("amq.gen-")
channel.exchange_declare(exchange="pika.topic", exchange_type="topic", auto_delete=True)
channel.queue_bind(queue=queue, exchange="pika.topic", routing_key="py.#")
for i in range(5):
    channel.basic_publish(
        exchange="pika.topic",
        routing_key="py.msg.%d" % i,
        body=("body-%d" % i).encode(),
        properties=pika.BasicProperties(
            content_type="text/plain", delivery_mode=2, headers={"i": i, "s": "x", "l": [1, "a"]}, priority=2
        ),
    )
seen["declare_count"] = channel.queue_declare(queue=queue, passive=True).method.message_count
method, properties, body = channel.basic_get(queue=queue, auto_ack=False)
seen["get"] = [body.decode(), method.redelivered, method.message_count, properties.headers, properties.content_type]
channel.basic_nack(delivery_tag=method.delivery_tag, requeue=True)
bodies = []
for method, properties, body in channel.consume(queue=queue, inactivity_timeout=2):
    if method is None:
        break
    bodies.append([body.decode(), method.redelivered])
    channel.basic_ack(delivery_tag=method.delivery_tag)
    if len(bodies) == 5:
        break
channel.cancel()
seen["consumed"] = bodies
try:
    channel.queue_declare(queue="no-such-queue", passive=True)
    seen["passive_missing"] = "no error"
except pika.exceptions.ChannelClosedByBroker as error:
    seen["passive_missing"] = [error.reply_code, error.reply_text]
other = connection.channel()
other.queue_delete(queue=queue)
connection.close()
print(json.dumps(seen))
