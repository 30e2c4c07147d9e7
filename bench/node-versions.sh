#!/usr/bin/env bash
# S1-S3 of the neutral load generator (shared/neutral-perf) against Warren on Node 20 and on
# Node 24, side by side: both brokers run at once on their own ports and data directories, and
# each scenario runs on one then the other, alternating which goes first, REPS times. Writes
# bench/results/node-versions-s1s3.jsonl (one line per run, tagged with its Node.js) and prints
# a Markdown table of medians. Run under the shared heavy lock, with dist/ built:
#   flock /tmp/warren-heavy.lock bench/node-versions.sh
# Env: NEUTRAL_PERF (default ../shared/neutral-perf beside the checkout, or /work/shared/...),
#      AMQP_PERF (the built generator; default /tmp/amqp-perf-build/amqp-perf), REPS (default 3),
#      OUT (the JSON lines file; default bench/results/node-versions-s1s3.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
project="$(pwd)"
neutral="${NEUTRAL_PERF:-/work/shared/neutral-perf}"
perf_bin="${AMQP_PERF:-/tmp/amqp-perf-build/amqp-perf}"
reps="${REPS:-3}"
out="${OUT:-bench/results/node-versions-s1s3.jsonl}"
if [ ! -x "$perf_bin" ]; then
  OUT="$(dirname "$perf_bin")" "$neutral/build.sh"
fi
node20="$(dirname "$(command -v node)")"
node24="$(.ci/fetch-node 24)"
declare -A bin=([20]="$node20" [24]="$node24")
declare -A port=([20]=5702 [24]=5703)

start() {
  PATH="${bin[$1]}:$PATH" BENCH_DIR="/tmp/amqp-bench-node$1" WRN_PORT="${port[$1]}" \
    PROJECT="$project" BENCH_NICE=-10 "$neutral/bench/warren.sh" start
}
stop() {
  BENCH_DIR="/tmp/amqp-bench-node$1" PROJECT="$project" "$neutral/bench/warren.sh" stop || true
}
trap 'stop 20; stop 24' EXIT
rm -rf /tmp/amqp-bench-node20 /tmp/amqp-bench-node24
start 20
start 24
# peer_bench.py watches its other brokers' pids (rabbit.sh/garage.sh pid): give it the idle
# Warren of the other version for both, so the report counts that peer's CPU as "idle peers".
for version in 20 24; do
  other=$((44 - version))
  mkdir -p "/tmp/amqp-bench-node$version/rabbit" "/tmp/amqp-bench-node$version/garage"
  cp "/tmp/amqp-bench-node$other/warren/warren.pid" "/tmp/amqp-bench-node$version/rabbit/beam.pid"
  cp "/tmp/amqp-bench-node$other/warren/warren.pid" "/tmp/amqp-bench-node$version/garage/garagemq.pid"
done
sleep 5

: > "$out"
for rep in $(seq 1 "$reps"); do
  for scenario in S1 S2 S3; do
    order=(20 24)
    if [ $((rep % 2)) = 0 ]; then order=(24 20); fi
    for version in "${order[@]}"; do
      runs="$(mktemp)"
      BENCH_DIR="/tmp/amqp-bench-node$version" WRN_PORT="${port[$version]}" AMQP_PERF="$perf_bin" \
        PROJECT="$project" python3 "$neutral/bench/peer_bench.py" --out "$runs" --reps 1 \
        --only "$scenario" --brokers warren
      node -e '
        const [file, version, rep, bin] = process.argv.slice(1);
        const fs = require("node:fs");
        const nodeVersion = require("node:child_process").execFileSync(`${bin}/node`, ["--version"]).toString().trim();
        for (const line of fs.readFileSync(file, "utf8").split("\n").filter(Boolean)) {
          const run = JSON.parse(line);
          fs.appendFileSync(process.argv[5], JSON.stringify({ node: nodeVersion, ...run, rep: Number(rep) }) + "\n");
        }
      ' "$runs" "$version" "$rep" "${bin[$version]}" "$out"
      rm -f "$runs"
    done
  done
done

node -e '
  const fs = require("node:fs");
  const runs = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const median = (values) => {
    const sorted = values.filter((v) => typeof v === "number").sort((a, b) => a - b);
    return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)];
  };
  const range = (values) => `${Math.min(...values)}–${Math.max(...values)}`;
  console.log("| scenario | Node.js | published/s | consumed/s (min–max) | p50 µs | p99 µs | broker CPU % | foreign CPU % |");
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const scenario of ["S1", "S2", "S3"]) {
    for (const node of [...new Set(runs.map((r) => r.node))].sort()) {
      const mine = runs.filter((r) => r.scenario === scenario && r.node === node).map((r) => r.result);
      if (mine.length === 0) continue;
      const consumed = mine.map((r) => Math.round(r.consumed_per_s));
      console.log(`| ${scenario} | ${node} | ${Math.round(median(mine.map((r) => r.published_per_s)))} | ${Math.round(median(consumed))} (${range(consumed)}) | ${median(mine.map((r) => r.latency_us?.p50))} | ${median(mine.map((r) => r.latency_us?.p99))} | ${median(mine.map((r) => r.cpu?.broker_pct))} | ${median(mine.map((r) => r.cpu?.foreign_pct))} |`);
    }
  }
' "$out"
