#!/usr/bin/env bash
# Starts or stops a private RabbitMQ node on side ports for differential tests and benchmarks,
# with its own data dir, epmd and config, never touching a system node.
#   scripts/rabbitmq-side-node.sh start [dir]   installs rabbitmq-server if missing, starts, waits
#   scripts/rabbitmq-side-node.sh stop [dir]
# Ports: AMQP ${RABBITMQ_SIDE_PORT:-5682}, distribution 25682, epmd 4380. Prints the AMQP URL.
set -euo pipefail
action=${1:?start or stop}
dir=${2:-${TMPDIR:-/tmp}/warren-rabbitmq-side}
port=${RABBITMQ_SIDE_PORT:-5682}

export RABBITMQ_NODENAME=warrenside@localhost
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$port
export RABBITMQ_DIST_PORT=25682
export ERL_EPMD_PORT=4380
export HOME=$dir/home
export RABBITMQ_MNESIA_BASE=$dir/mnesia
export RABBITMQ_LOG_BASE=$dir/log
export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
export RABBITMQ_CONFIG_FILE=$dir/rabbitmq
export RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf
export RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
export RABBITMQ_PID_FILE=$dir/rabbitmq.pid
bin=/usr/lib/rabbitmq/bin

case $action in
  start)
    if [ ! -x $bin/rabbitmq-server ]; then
      echo "installing rabbitmq-server from Debian's packages" >&2
      if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >&2
      else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >&2; fi
    fi
    mkdir -p "$HOME" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
    # Already running (an earlier start): use it rather than fail on the taken ports.
    if [ -f "$HOME/.erlang.cookie" ] && $bin/rabbitmqctl status > /dev/null 2>&1; then
      echo "amqp://guest:guest@127.0.0.1:$port"
      exit 0
    fi
    echo '[].' > "$RABBITMQ_ENABLED_PLUGINS_FILE"
    # Loopback only; guest may connect from loopback as on any default node.
    printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users.guest = true\n' "$port" > "$RABBITMQ_CONFIG_FILE.conf"
    : > "$RABBITMQ_CONF_ENV_FILE"
    echo '[].' > "$RABBITMQ_ADVANCED_CONFIG_FILE"
    setsid $bin/rabbitmq-server > "$dir/server.out" 2>&1 < /dev/null &
    # await_startup fails at once until the node has registered with epmd, so retry it.
    for _ in $(seq 1 60); do
      if $bin/rabbitmqctl await_startup --timeout 60 > /dev/null 2>&1; then break; fi
      sleep 1
    done
    $bin/rabbitmqctl await_startup --timeout 5 > /dev/null
    echo "amqp://guest:guest@127.0.0.1:$port"
    ;;
  stop)
    $bin/rabbitmqctl shutdown > /dev/null 2>&1 || true
    pkill -f "epmd.*-port $ERL_EPMD_PORT" 2>/dev/null || pkill -f "epmd -daemon" 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 start|stop [dir]" >&2
    exit 2
    ;;
esac
