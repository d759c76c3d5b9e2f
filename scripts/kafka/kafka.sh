#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft: broker + controller, no ZooKeeper, no Docker) from Kafka's
# own jars on Maven Central.
#   kafka.sh fetch | start | stop | status | reset | topics ARGS… | consumer-groups ARGS…
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), CASCADE_HOME (<repo>/.cascade),
# KAFKA_HEAP_OPTS (-Xms256m -Xmx512m), KAFKA_START_TIMEOUT seconds (90). With KAFKA_BROKERS set,
# `start` starts nothing: the external cluster is used.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
home="${CASCADE_HOME:-$repo/.cascade}"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
jars="$home/kafka/jars-$version"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
data="$home/kafka/data-$port"
pidfile="$data/broker.pid"
timeout="${KAFKA_START_TIMEOUT:-90}"

say() { printf '[kafka] %s\n' "$*" >&2; }

fetch() {
  if [[ -f "$jars/.complete" ]]; then return 0; fi
  say "fetching Apache Kafka $version jars from Maven Central into $jars"
  rm -rf "$jars"
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$jars"
  touch "$jars/.complete"
  say "fetched $(find "$jars" -name '*.jar' | wc -l) jars ($(du -sh "$jars" | cut -f1))"
}

java_run() { java -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$data" -cp "$jars/*" "$@"; }

# A real protocol answer (ApiVersions via the admin client), not just an open port.
answers() {
  [[ -f "$jars/.complete" ]] || return 1
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || return 1
  timeout 30 java -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="${TMPDIR:-/tmp}" -cp "$jars/*" \
    org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "127.0.0.1:$port" >/dev/null 2>&1
}

ours_running() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

write_config() {
  mkdir -p "$data/logs"
  cat >"$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data/logs
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=${KAFKA_OFFSETS_PARTITIONS:-10}
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
message.max.bytes=8388608
replica.fetch.max.bytes=8388608
log.retention.hours=168
log.segment.bytes=104857600
PROPS
}

start() {
  if [[ -n "${KAFKA_BROKERS:-}" ]]; then say "KAFKA_BROKERS is set ($KAFKA_BROKERS): using that cluster, starting nothing"; return 0; fi
  fetch
  if answers; then say "reusing the broker already answering on 127.0.0.1:$port"; echo "reused 127.0.0.1:$port"; return 0; fi
  if ours_running; then say "our broker (pid $(cat "$pidfile")) is running but not answering; restarting it"; stop; fi
  write_config
  if [[ ! -f "$data/logs/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(java_run kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    java_run kafka.tools.StorageTool format --cluster-id="$cluster_id" --config "$data/server.properties" --ignore-formatted >/dev/null
    say "formatted KRaft storage in $data/logs (cluster $cluster_id)"
  fi
  say "starting Kafka $version on 127.0.0.1:$port (controller $controller_port)"
  # shellcheck disable=SC2086
  nohup java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$data" \
    -cp "$jars/*" kafka.Kafka "$data/server.properties" >"$data/stdout.log" 2>&1 &
  echo $! >"$pidfile"
  local started=$SECONDS
  until answers; do
    if ! ours_running; then say "the broker exited during start:"; tail -n 40 "$data/broker.log" "$data/stdout.log" >&2 || true; rm -f "$pidfile"; return 1; fi
    if (( SECONDS - started > timeout )); then say "no answer after ${timeout}s:"; tail -n 40 "$data/broker.log" >&2 || true; stop; return 1; fi
    sleep 1
  done
  say "ready in $((SECONDS - started))s (pid $(cat "$pidfile"))"
  echo "started 127.0.0.1:$port"
}

stop() {
  if ! [[ -f "$pidfile" ]]; then say "no broker of ours on port $port"; return 0; fi
  local pid; pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then say "broker $pid did not stop in 30s: killing it"; kill -KILL "$pid"; fi
    say "stopped broker $pid"
  fi
  rm -f "$pidfile"
}

status() {
  if answers; then
    if ours_running; then echo "answering on 127.0.0.1:$port (ours, pid $(cat "$pidfile"))"; else echo "answering on 127.0.0.1:$port (not started by this script)"; fi
  else
    echo "no broker answering on 127.0.0.1:$port"; return 3
  fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$data"; say "removed $data" ;;
  topics) shift; fetch; java_run org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" "$@" ;;
  consumer-groups) shift; fetch; java_run org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "127.0.0.1:$port" "$@" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset|topics ARGS|consumer-groups ARGS" >&2; exit 2 ;;
esac
