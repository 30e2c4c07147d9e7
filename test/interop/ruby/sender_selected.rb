# Sender-selected distribution through Bunny (Debian's ruby-bunny): a message published with
# routing key "one" and CC/BCC headers naming more keys reaches the queues bound by all of them,
# once each; consumers see the publish's own routing key and the CC header, never BCC. Prints
# one JSON line with what it saw.
require "bunny"
require "json"

connection = Bunny.new(ARGV.fetch(0))
connection.start
channel = connection.create_channel
exchange = channel.direct("interop.ssd.#{Process.pid}", auto_delete: true)
queues = %w[one two three four five].to_h do |key|
  [key, channel.queue("", exclusive: true).bind(exchange, routing_key: key)]
end
count = 10
count.times do |i|
  exchange.publish("message #{i}", routing_key: "one",
                   headers: { "CC" => %w[two three two], "BCC" => %w[four one] })
end
channel.queue("", exclusive: true) # a round trip: every publish above has been routed
sleep 0.2
counts = queues.transform_values(&:message_count)
delivery, properties, body = queues["four"].pop
result = {
  counts: counts,
  bcc_copy: { body: body, routing_key: delivery&.routing_key, headers: properties&.headers }
}
puts JSON.generate(result)
connection.close
