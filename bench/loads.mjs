// The warren-perf loads the benchmark scripts share (bench:compare, bench:sweep, bench:ab), so a
// scenario means the same flags wherever its name appears. `rate` names the throughput that
// counts: what consumers received or, with confirms, what was confirmed.

function flags(text) {
  return text.split(' ');
}

const PERSISTENT = '--size 1024 --persistent --durable --confirm 256';

export const LOADS = {
  transient1to1: {
    name: 'transient 16 B, 1→1, autoack',
    rate: 'receivedPerSecond',
    args: flags('--size 16 --autoack'),
  },
  transient1KiB: {
    name: 'transient 1 KiB, 1→1, multi-ack 100, prefetch 1000',
    rate: 'receivedPerSecond',
    args: flags('--size 1024 --multi-ack 100 --prefetch 1000'),
  },
  persistent1: {
    name: 'persistent 1 KiB, confirms, 1 producer',
    rate: 'confirmedPerSecond',
    args: flags(`${PERSISTENT} --multi-ack 100 --prefetch 1000`),
  },
  persistent16: {
    name: 'persistent 1 KiB, confirms, 16 producers → 4 queues',
    rate: 'confirmedPerSecond',
    args: flags(
      `${PERSISTENT} --producers 16 --consumers 4 --queues 4 --multi-ack 100 --prefetch 1000`,
    ),
  },
  fourByFour: {
    name: 'transient 256 B, 4 queues × 4 producers/consumers',
    rate: 'receivedPerSecond',
    args: flags(
      '--size 256 --queues 4 --producers 4 --consumers 4 --multi-ack 100 --prefetch 1000',
    ),
  },
  fanout: {
    name: 'fanout 16 B to 8 queues (deliveries/s)',
    rate: 'receivedPerSecond',
    args: flags(
      '--size 16 --exchange bench.fanout --type fanout --queues 8 --consumers 8 --autoack',
    ),
  },
  ttlDeadLetter: {
    name: 'persistent 1 KiB, confirms, queue with x-message-ttl and a dead-letter exchange',
    rate: 'confirmedPerSecond',
    args: [
      ...flags(`${PERSISTENT} --multi-ack 100 --prefetch 1000 --queue bench.ttl --queue-args`),
      JSON.stringify({ 'x-message-ttl': 60_000, 'x-dead-letter-exchange': 'amq.fanout' }),
    ],
  },
  fixedRate: {
    name: 'fixed rate 5,000/s, persistent 1 KiB, confirms',
    rate: 'receivedPerSecond',
    args: flags(`${PERSISTENT} --rate 5000 --multi-ack 10 --prefetch 100`),
  },
};
