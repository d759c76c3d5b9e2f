#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft: broker + controller in one JVM, no ZooKeeper, no Docker) run from
# Kafka's own jars, fetched from Maven Central with Maven (see pom.xml).
#
#   kafka.sh fetch                      download the jars once into $CASCADE_HOME/kafka/jars-<version>
#   kafka.sh start                      reuse a broker answering on 127.0.0.1:$KAFKA_PORT, or start ours
#   kafka.sh stop                       stop the broker this script started from this data dir (pid file)
#   kafka.sh status                     does a broker answer on the port, and is it ours?
#   kafka.sh reset                      stop, then delete the data dir
#   kafka.sh topics ARGS…               TopicCommand         --bootstrap-server 127.0.0.1:$KAFKA_PORT ARGS…
#   kafka.sh consumer-groups ARGS…      ConsumerGroupCommand --bootstrap-server …
#   kafka.sh offsets ARGS…              GetOffsetShell       --bootstrap-server …
#   kafka.sh api-versions               BrokerApiVersionsCommand --bootstrap-server …
#
# Environment (defaults): KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), CASCADE_HOME (<repo>/.cascade),
# KAFKA_VERSION (kafka.version in pom.xml), KAFKA_HEAP_OPTS (-Xms256m -Xmx512m), KAFKA_JVM_PERFORMANCE_OPTS (G1,
# C1-only JIT; see jvm_perf_opts), KAFKA_OPTS (extra JVM options),
# KAFKA_START_TIMEOUT (90 s), KAFKA_STOP_TIMEOUT (30 s), KAFKA_OFFSETS_PARTITIONS (10), KAFKA_LOG_LEVEL (WARN).
# With KAFKA_BROKERS set, `start` starts nothing (the external cluster is used) and the tool commands talk to it.
#
# `start` prints exactly one line on stdout: "started 127.0.0.1:<port>", "reused 127.0.0.1:<port>" or
# "external <KAFKA_BROKERS>" (callers parse it); everything else goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
home="${CASCADE_HOME:-$repo/.cascade}"
version="${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")}"
# Both end up in paths this script deletes (rm -rf): only plain values are accepted.
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "kafka.sh: KAFKA_VERSION must look like 4.1.0, got '$version'" >&2; exit 2; }
jars="$home/kafka/jars-$version"
port="${KAFKA_PORT:-9092}"
[[ "$port" =~ ^[0-9]{1,5}$ ]] || { echo "kafka.sh: KAFKA_PORT must be a port number, got '$port'" >&2; exit 2; }
controller_port="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
[[ "$controller_port" =~ ^[0-9]{1,5}$ ]] || { echo "kafka.sh: KAFKA_CONTROLLER_PORT must be a port number, got '$controller_port'" >&2; exit 2; }
data="$home/kafka/data-$port"
pidfile="$data/broker.pid"
start_timeout="${KAFKA_START_TIMEOUT:-90}"
stop_timeout="${KAFKA_STOP_TIMEOUT:-30}"
log_level="${KAFKA_LOG_LEVEL:-WARN}"
# C1-only JIT (TieredStopAtLevel=1): measured here, ready ~1 s sooner and ~40% less CPU than the default tiered
# JIT, which matters on a 2-core machine shared with the test run; a test broker does not need C2's peak speed.
jvm_perf_opts="-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true"

say() { printf '[kafka] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
now_ms() { if [[ -n "${EPOCHREALTIME:-}" ]]; then local t="${EPOCHREALTIME/,/.}"; echo $(( ${t%.*} * 1000 + 10#${t#*.} / 1000 )); else echo $(( $(date +%s) * 1000 )); fi; }
secs_since_between() { local ms=$(( $2 - $1 )); printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100)); }
secs_since() { secs_since_between "$1" "$(now_ms)"; }
with_timeout() { if have timeout; then timeout "$@"; else shift; "$@"; fi; }

[[ "$port" =~ ^[0-9]+$ && "$controller_port" =~ ^[0-9]+$ ]] || die "KAFKA_PORT / KAFKA_CONTROLLER_PORT must be numbers"
[[ -n "$version" ]] || die "no <kafka.version> in $here/pom.xml"

# Serialise kafka.sh runs that touch the same thing (two test runners calling `start` at once). flock is optional.
held_locks=" "
lock() { # lock FD NAME (re-entrant within one run)
  have flock || return 0
  [[ "$held_locks" == *" $2 "* ]] && return 0
  held_locks+="$2 "
  mkdir -p "$home/kafka"
  eval "exec $1>\"\$home/kafka/.$2.lock\""
  flock -w $((start_timeout + stop_timeout + 600)) "$1" || die "timed out waiting for another kafka.sh ($2)"
}

# --- jars -------------------------------------------------------------------------------------------------------
fetched() { [[ -f "$jars/.complete" ]]; }

fetch() {
  if fetched; then [[ "${1:-}" == quiet ]] || say "Kafka $version jars already in $jars ($(jar_summary))"; return 0; fi
  lock 8 fetch
  if fetched; then return 0; fi # a concurrent run fetched them while we waited
  have mvn || die "Maven (mvn) is needed to fetch Kafka's jars from Maven Central"
  local partial="$jars.partial" t0; t0="$(now_ms)"
  say "fetching Apache Kafka $version (kafka_2.13 + kafka-tools + log4j2) from Maven Central into $jars"
  say "  mvn -q -f $here/pom.xml -Dkafka.version=$version dependency:copy-dependencies -DoutputDirectory=$partial"
  rm -rf "$partial"
  local rc=0
  # (mvn -q still prints colour resets: strip them)
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" -Dkafka.version="$version" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$partial" 2>&1 \
    | { sed 's/\x1b\[[0-9;]*m//g' | grep -v '^[[:space:]]*$' >&2 || true; } || rc=$?
  if (( rc != 0 )); then
    rm -rf "$partial"
    die "mvn failed: is org.apache.kafka:kafka_2.13:$version on Maven Central, and is Maven Central reachable?"
  fi
  date -u +%Y-%m-%dT%H:%M:%SZ >"$partial/.complete"
  rm -rf "$jars" && mv "$partial" "$jars"
  say "fetched $(jar_summary) in $(secs_since "$t0")"
}

jar_summary() { echo "$(find "$jars" -name '*.jar' | wc -l | tr -d ' ') jars, $(du -sh "$jars" | cut -f1)"; }

need_java() {
  have java || die "java (17+) is needed to run Kafka $version"
  local spec; spec="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = //p')"
  [[ "${spec%%.*}" -ge 17 ]] 2>/dev/null || die "Kafka 4 needs Java 17+, found ${spec:-unknown}"
}

# A short-lived JVM running one of Kafka's command-line tools, logging warnings to stderr only.
tool() {
  # shellcheck disable=SC2086
  java -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 ${KAFKA_TOOL_OPTS:-} \
    -Dlog4j2.configurationFile="$here/log4j2-tools.properties" -Dkafka.log.level="$log_level" \
    -cp "$jars/*" "$@"
}

# --- probes -----------------------------------------------------------------------------------------------------
port_open() { with_timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# A real protocol answer, not just an open port: send a Metadata v4 request (no topics; v4 is served by
# Kafka 2.x through 4.x) and require the response to list at least one live broker. A KRaft broker only lists
# itself once it is registered and unfenced, i.e. ready for clients. Pure bash, a few milliseconds, no JVM.
answers() {
  local hex
  hex="$(with_timeout 5 bash -c '
      exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
      # size=19 | api_key=3 (Metadata) | version=4 | correlation_id=0xca5 | client_id="prbe" | topics=[] | allow_auto_create=false
      printf "\x00\x00\x00\x13\x00\x03\x00\x04\x00\x00\x0c\xa5\x00\x04prbe\x00\x00\x00\x00\x00" >&3
      # size(4) correlation_id(4) throttle_time_ms(4) brokers.length(4)
      head -c 16 <&3 | od -An -v -tx1 | tr -d " \n"' _ "$port" 2>/dev/null)" || return 1
  [[ ${#hex} -eq 32 && "${hex:8:8}" == 00000ca5 && "${hex:24:8}" != 00000000 ]]
}

# The group coordinator is ready: FindCoordinator (creates __consumer_offsets on a new broker) answers without
# error, then OffsetFetch v2 for a probe group no longer says COORDINATOR_LOAD_IN_PROGRESS. Without this, the
# first consumer after a start sees "coordinator not available / loading" and kafkajs restarts it with an error.
coordinator_ready() {
  local hex
  hex="$(with_timeout 5 bash -c '
      exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
      # FindCoordinator v1: size=25 | api_key=10 | version=1 | correlation_id | client_id | key="kafka.sh" | key_type=0 (group)
      printf "\x00\x00\x00\x19\x00\x0a\x00\x01\x00\x00\x0c\xa6\x00\x04prbe\x00\x08kafka.sh\x00" >&3
      # size(4) correlation_id(4) throttle_time_ms(4) error_code(2)
      head -c 14 <&3 | od -An -v -tx1 | tr -d " \n"' _ "$port" 2>/dev/null)" || return 1
  [[ ${#hex} -eq 28 && "${hex:8:8}" == 00000ca6 && "${hex:24:4}" == 0000 ]] || return 1
  hex="$(with_timeout 5 bash -c '
      exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
      # OffsetFetch v2: size=28 | api_key=9 | version=2 | correlation_id | client_id | group_id="kafka.sh" | topics=null (all)
      printf "\x00\x00\x00\x1c\x00\x09\x00\x02\x00\x00\x0c\xa7\x00\x04prbe\x00\x08kafka.sh\xff\xff\xff\xff" >&3
      # size(4) correlation_id(4) topics.length(4) error_code(2)
      head -c 14 <&3 | od -An -v -tx1 | tr -d " \n"' _ "$port" 2>/dev/null)" || return 1
  [[ ${#hex} -eq 28 && "${hex:8:8}" == 00000ca7 && "${hex:24:4}" == 0000 ]]
}

# The pid of the broker started from this data dir, if the pid file names a live `kafka.Kafka <our config>`.
ours_pid() {
  [[ -f "$pidfile" ]] || return 1
  local pid; pid="$(cat "$pidfile" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  local args
  if [[ -r "/proc/$pid/cmdline" ]]; then args="$(tr '\0' ' ' <"/proc/$pid/cmdline")"; else args="$(ps -p "$pid" -o args= 2>/dev/null || true)"; fi
  [[ "$args" == *"kafka.Kafka $data/server.properties"* ]] || return 1
  echo "$pid"
}

# --- broker -----------------------------------------------------------------------------------------------------
write_config() {
  mkdir -p "$data/logs"
  cat >"$data/server.properties" <<PROPS
# Written by scripts/kafka/kafka.sh on every start; edit the script, not this file.
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
transaction.state.log.num.partitions=${KAFKA_OFFSETS_PARTITIONS:-10}
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
message.max.bytes=8388608
replica.fetch.max.bytes=8388608
log.retention.hours=168
log.segment.bytes=104857600
PROPS
}

format_storage() {
  [[ -f "$data/logs/meta.properties" ]] && return 0
  local cluster_id
  cluster_id="$(tool kafka.tools.StorageTool random-uuid | tail -n 1)"
  # `--cluster-id=` form: a random id may start with '-'. The static controller.quorum.voters above means no
  # --standalone / --initial-controllers (those are for a dynamic quorum, controller.quorum.bootstrap.servers).
  tool kafka.tools.StorageTool format --cluster-id="$cluster_id" --config "$data/server.properties" --ignore-formatted >&2
  say "formatted KRaft storage in $data/logs (cluster id $cluster_id)"
}

wait_answering() { # wait_answering SECONDS [PID]: until a broker answers; fails early if PID exits
  local deadline=$(( $(now_ms) + $1 * 1000 ))
  until answers; do
    if [[ -n "${2:-}" ]] && ! kill -0 "$2" 2>/dev/null; then return 2; fi
    (( $(now_ms) < deadline )) || return 1
    sleep 0.2
  done
}

show_log() {
  local f shown=no
  for f in "$data/broker.log" "$data/stdout.log"; do
    [[ -s "$f" ]] && { say "--- last lines of $f"; tail -n "${1:-40}" "$f" >&2; shown=yes; }
  done
  [[ "$shown" == yes ]] || say "(the broker wrote no log yet: $data/broker.log, $data/stdout.log)"
}

start() {
  if [[ -n "${KAFKA_BROKERS:-}" ]]; then
    say "KAFKA_BROKERS is set: using the external cluster $KAFKA_BROKERS, starting nothing"
    echo "external $KAFKA_BROKERS"; return 0
  fi
  lock 9 "port-$port"
  local pid
  if answers; then
    if pid="$(ours_pid)"; then say "reusing our broker on 127.0.0.1:$port (pid $pid)"
    else say "reusing the broker already answering on 127.0.0.1:$port (not started from $data; kafka.sh stop leaves it alone)"; fi
    echo "reused 127.0.0.1:$port"; return 0
  fi
  if pid="$(ours_pid)"; then
    # Still starting (an interrupted `start`) or just busy: give it the start timeout before restarting it.
    say "our broker (pid $pid) runs but does not answer on 127.0.0.1:$port yet: waiting up to ${start_timeout}s"
    if wait_answering "$start_timeout" "$pid"; then
      say "reusing our broker on 127.0.0.1:$port (pid $pid)"; echo "reused 127.0.0.1:$port"; return 0
    fi
    if pid="$(ours_pid)"; then say "restarting our unresponsive broker (pid $pid)"; show_log 20; stop_pid "$pid"; fi
  elif port_open "$port"; then
    say "127.0.0.1:$port is taken by a process that does not answer as a Kafka broker yet: waiting up to ${start_timeout}s"
    wait_answering "$start_timeout" || die "127.0.0.1:$port is in use by something that is not a Kafka broker; choose another KAFKA_PORT"
    say "reusing the broker now answering on 127.0.0.1:$port"; echo "reused 127.0.0.1:$port"; return 0
  fi
  if port_open "$controller_port"; then die "controller port 127.0.0.1:$controller_port is in use; set KAFKA_CONTROLLER_PORT"; fi
  fetch quiet
  need_java
  write_config
  format_storage
  say "starting Kafka $version on 127.0.0.1:$port (controller 127.0.0.1:$controller_port, data $data)"
  local t0; t0="$(now_ms)"
  # Own session (setsid) so the caller's Ctrl-C or process-group kill does not take the broker down; the lock
  # descriptors are closed so the broker never holds them.
  local detach=(); have setsid && detach=(setsid)
  # shellcheck disable=SC2086
  ${detach[@]+"${detach[@]}"} nohup java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} ${KAFKA_JVM_PERFORMANCE_OPTS:-$jvm_perf_opts} ${KAFKA_OPTS:-} \
    -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$data" -Dkafka.log.level="$log_level" \
    -cp "$jars/*" kafka.Kafka "$data/server.properties" </dev/null >"$data/stdout.log" 2>&1 8>&- 9>&- &
  pid=$!
  echo "$pid" >"$pidfile"
  local rc=0
  wait_answering "$start_timeout" "$pid" || rc=$?
  if (( rc == 2 )); then
    say "the broker exited during start (after $(secs_since "$t0"))"; show_log; rm -f "$pidfile"; exit 1
  elif (( rc != 0 )); then
    say "the broker did not answer within ${start_timeout}s (KAFKA_START_TIMEOUT)"; show_log; stop_pid "$pid"; exit 1
  fi
  local t1; t1="$(now_ms)"
  local deadline=$(( t0 + start_timeout * 1000 ))
  until coordinator_ready; do
    if (( $(now_ms) >= deadline )); then say "the group coordinator did not become ready within ${start_timeout}s"; show_log; stop_pid "$pid"; exit 1; fi
    sleep 0.2
  done
  say "ready in $(secs_since "$t0") (Metadata answered after $(secs_since_between "$t0" "$t1"), group coordinator +$(secs_since "$t1"); pid $pid, log $data/broker.log)"
  echo "started 127.0.0.1:$port"
}

stop_pid() { # SIGTERM (controlled shutdown), then SIGKILL after KAFKA_STOP_TIMEOUT
  local pid="$1" t0; t0="$(now_ms)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( t0 + stop_timeout * 1000 ))
  while kill -0 "$pid" 2>/dev/null && (( $(now_ms) < deadline )); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "broker $pid did not stop within ${stop_timeout}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$pidfile"
  say "stopped broker $pid in $(secs_since "$t0")"
}

stop() {
  lock 9 "port-$port"
  local pid
  if pid="$(ours_pid)"; then stop_pid "$pid"; return 0; fi
  if [[ -f "$pidfile" ]]; then say "removing stale pid file $pidfile (no broker of ours runs)"; rm -f "$pidfile"; fi
  if answers; then say "a broker answers on 127.0.0.1:$port but was not started from $data: leaving it alone"
  else say "no broker of ours on port $port"; fi
}

status() {
  local pid answering=no
  answers && answering=yes
  if pid="$(ours_pid)"; then echo "127.0.0.1:$port answering=$answering ours=yes pid=$pid data=$data"
  else echo "127.0.0.1:$port answering=$answering ours=no"; fi
  [[ -n "${KAFKA_BROKERS:-}" ]] && echo "KAFKA_BROKERS=$KAFKA_BROKERS (start uses that cluster)"
  [[ "$answering" == yes ]] || return 3
}

reset() {
  lock 9 "port-$port"
  stop
  if pgrep -f "kafka.Kafka $data/server.properties" >/dev/null 2>&1; then
    die "a broker without our pid file still uses $data: not deleting it"
  fi
  rm -rf "$data"
  say "removed $data"
}

bootstrap() { echo "${KAFKA_BROKERS:-127.0.0.1:$port}"; }
cli() { fetch quiet; need_java; tool "$@"; }

cmd="${1:-}"; [[ $# -gt 0 ]] && shift
case "$cmd" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) reset ;;
  topics) cli org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap)" "$@" ;;
  consumer-groups) cli org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$(bootstrap)" "$@" ;;
  offsets) cli org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$(bootstrap)" "$@" ;;
  api-versions) cli org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$(bootstrap)" "$@" ;;
  *) sed -n '2,23s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
