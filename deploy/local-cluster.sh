#!/usr/bin/env bash
# A Herald cluster on this machine: one ZooKeeper and N heraldd on loopback.
#
#   deploy/local-cluster.sh up     [--nodes N] [--dir DIR] [--racks R] [--bin DIR]
#   deploy/local-cluster.sh status [--dir DIR]
#   deploy/local-cluster.sh down   [--dir DIR] [--purge]
#
# up      builds if needed (deploy/build.sh; --bin DIR uses binaries already
#         built there instead), starts ZooKeeper (its own data directory and a
#         free port) and N brokers (`--zookeeper 127.0.0.1:PORT/herald-local
#         --node-id i`, free ports), waits until every broker is registered,
#         then prints the brokers and how to use them. --racks R puts broker i
#         on rack "rack-(i mod R)". Running `up` again on the same DIR after
#         `down` restarts the same cluster (same data, new ports).
# status  the processes, then `herald cluster status` (its exit status: 1 when
#         some partition has no leader).
# down    stops the brokers, then ZooKeeper, by the process ids kept in DIR
#         (SIGTERM, SIGKILL after a deadline). Data and logs stay for the next
#         `up`; --purge removes DIR.
#
# DIR (default /tmp/herald-local, or $HERALD_LOCAL_DIR) holds everything:
#   zookeeper/  zoo.cfg, data/, zookeeper.log, pid, port
#   node-<i>/   data/, heraldd.log, pid, address (HOST:PORT it listens on)
#   env         `export HERALD_BROKER=...` for `. DIR/env`
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
nodes=3
dir=${HERALD_LOCAL_DIR:-/tmp/herald-local}
racks=0
bin=""
purge=0
stop_deadline=15 # seconds a process gets between SIGTERM and SIGKILL
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=${2:?--nodes needs a number}; shift 2 ;;
    --nodes=*) nodes=${1#*=}; shift ;;
    --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
    --dir=*) dir=${1#*=}; shift ;;
    --racks) racks=${2:?--racks needs a number}; shift 2 ;;
    --racks=*) racks=${1#*=}; shift ;;
    --bin) bin=${2:?--bin needs a directory}; shift 2 ;;
    --bin=*) bin=${1#*=}; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) usage ;;
    *) echo "local-cluster: unknown argument $1" >&2; usage ;;
  esac
done
case "$nodes" in ''|*[!0-9]*) echo "local-cluster: --nodes must be a number" >&2; exit 2 ;; esac
case "$racks" in ''|*[!0-9]*) echo "local-cluster: --racks must be a number" >&2; exit 2 ;; esac
[ "$nodes" -ge 1 ] && [ "$nodes" -le 64 ] || { echo "local-cluster: --nodes must be 1..64" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
zkdir="$dir/zookeeper"
chroot=/herald-local

# --- processes ---------------------------------------------------------------

# The pid in FILE if that process still runs and is the one we started (its
# command line names DIR: a recycled pid is someone else's).
live_pid() {
  local file=$1 pid
  [ -s "$file" ] || return 1
  pid=$(cat "$file")
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/" || return 1
  echo "$pid"
}

# SIGTERM, then SIGKILL once the deadline passes; forgets the pid.
stop_process() {
  local file=$1 what=$2 pid waited=0
  if pid=$(live_pid "$file"); then
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((stop_deadline * 10)) ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$what (pid $pid) still runs after ${stop_deadline}s: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    fi
    echo "stopped $what (pid $pid)"
  fi
  rm -f "$file"
}

node_dirs() {
  local d
  for d in "$dir"/node-*; do [ -d "$d" ] && echo "$d"; done | sort -t- -k2 -n
}

running_brokers() {
  local d
  for d in $(node_dirs); do
    live_pid "$d/pid" >/dev/null && [ -s "$d/address" ] && cat "$d/address"
  done
  return 0
}

# --- binaries ----------------------------------------------------------------

find_binaries() {
  if [ -z "$bin" ]; then
    echo "== building if needed (first time: a few minutes)" >&2
    "$root/deploy/build.sh" "$root/build" >/dev/null
    bin="$root/build/apps"
  fi
  [ -x "$bin/heraldd" ] && [ -x "$bin/herald" ] || { echo "local-cluster: no heraldd/herald in $bin" >&2; exit 1; }
  # (not `| grep -q`: under pipefail, heraldd killed by SIGPIPE would fail the pipe)
  if ! grep -q -- --zookeeper <<<"$("$bin/heraldd" --help 2>/dev/null)"; then
    echo "local-cluster: $bin/heraldd has no --zookeeper (an older build?)" >&2
    exit 1
  fi
}

# --- ZooKeeper ---------------------------------------------------------------

jar_dir=/usr/share/java
# What ZooKeeperServerMain 3.8 (Debian libzookeeper-java) needs at run time
# (as tests/support/zookeeper_server.cpp); slf4j-nop keeps it quiet.
jars="zookeeper zookeeper-jute slf4j-api slf4j-nop netty-handler netty-common netty-transport netty-buffer
  netty-resolver netty-codec netty-transport-native-epoll netty-transport-native-unix-common metrics-core"

zk_classpath() {
  local cp="" j
  for j in $jars; do
    [ -r "$jar_dir/$j.jar" ] || return 1
    cp="$cp${cp:+:}$jar_dir/$j.jar"
  done
  echo "$cp"
}

# A loopback port nobody listens on now (bash's /dev/tcp connects, or not).
free_port() {
  local p tries=0
  while [ $tries -lt 200 ]; do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
    tries=$((tries + 1))
  done
  echo "local-cluster: no free port found" >&2
  return 1
}

# Serving: srvr reports the server's mode. (Not ruok: it answers imok as soon
# as the port listens, while the server still loads its data and closes every
# client connection; on a loaded machine that lasted 10 s.)
zk_ok() {
  local port=$1 answer
  answer=$( (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf srvr >&3 && timeout 1 cat <&3) 2>/dev/null || true)
  [[ "$answer" == *"Mode: "* ]]
}

start_zookeeper() {
  local cp port pid attempt
  if pid=$(live_pid "$zkdir/pid") && zk_ok "$(cat "$zkdir/port")"; then
    echo "== ZooKeeper already runs (pid $pid, 127.0.0.1:$(cat "$zkdir/port"))"
    return 0
  fi
  if ! command -v java >/dev/null || ! cp=$(zk_classpath); then
    echo "== installing java and the ZooKeeper server jars" >&2
    "$root/deploy/install-deps.sh" >/dev/null
    cp=$(zk_classpath) || { echo "local-cluster: ZooKeeper jars missing under $jar_dir" >&2; exit 1; }
  fi
  mkdir -p "$zkdir/data"
  for attempt in 1 2 3 4 5; do
    # The port of the last run first: brokers that still remember it find
    # it again.
    if [ "$attempt" -eq 1 ] && [ -s "$zkdir/port" ]; then port=$(cat "$zkdir/port"); else port=$(free_port); fi
    cat >"$zkdir/zoo.cfg" <<EOF
tickTime=500
dataDir=$zkdir/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr
EOF
    setsid java -Xmx256m -cp "$cp" org.apache.zookeeper.server.ZooKeeperServerMain "$zkdir/zoo.cfg" \
      >"$zkdir/zookeeper.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$zkdir/pid"
    echo "$port" >"$zkdir/port"
    # A JVM start took 20 s on a loaded 2-core machine: wait up to 90 s
    # while java runs (a taken port makes it exit at once).
    local deadline=$((SECONDS + 90))
    while [ $SECONDS -lt $deadline ]; do
      zk_ok "$port" && { echo "== ZooKeeper runs: pid $pid, 127.0.0.1:$port (data $zkdir/data)"; return 0; }
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    # Exited (the port was taken meanwhile) or never answered: another port.
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$zkdir/pid"
  done
  echo "local-cluster: ZooKeeper did not start; see $zkdir/zookeeper.log" >&2
  exit 1
}

# --- brokers -----------------------------------------------------------------

start_broker() {
  local i=$1 d="$dir/node-$1" pid flags=()
  mkdir -p "$d/data"
  if pid=$(live_pid "$d/pid"); then
    echo "== broker $i already runs (pid $pid)"
    return 0
  fi
  rm -f "$d/address"
  [ "$racks" -gt 0 ] && flags+=("--rack=rack-$((i % racks))")
  setsid "$bin/heraldd" --data-dir="$d/data" --node-id="$i" --listen=127.0.0.1:0 --port-file="$d/address" \
    --cluster-listen=127.0.0.1:0 --zookeeper="127.0.0.1:$(cat "$zkdir/port")$chroot" "${flags[@]}" \
    >"$d/heraldd.out" 2>"$d/heraldd.log" </dev/null &
  echo $! >"$d/pid"
}

wait_brokers() {
  local i d pid first="" out deadline=$((SECONDS + 120))
  for i in $(seq 1 "$nodes"); do
    d="$dir/node-$i"
    while [ ! -s "$d/address" ]; do
      if ! pid=$(live_pid "$d/pid"); then
        echo "local-cluster: broker $i exited; the end of $d/heraldd.log:" >&2
        tail -n 20 "$d/heraldd.log" >&2
        exit 1
      fi
      [ $SECONDS -lt $deadline ] || { echo "local-cluster: broker $i did not listen in time ($d/heraldd.log)" >&2; exit 1; }
      sleep 0.1
    done
    [ -n "$first" ] || first=$(cat "$d/address")
  done
  # Registered: every broker appears, answering, in the cluster's metadata.
  while :; do
    out=$("$bin/herald" --broker "$first" cluster status 2>/dev/null || true)
    echo "$out" | grep -q "^brokers: $nodes ($nodes answering)" && break
    [ $SECONDS -lt $deadline ] || {
      echo "local-cluster: not every broker registered within 120 s; cluster status says:" >&2
      echo "$out" >&2
      exit 1
    }
    sleep 0.2
  done
  echo "export HERALD_BROKER=$first" >"$dir/env"
}

print_brokers() {
  local d i pid addr
  printf '%-6s  %-21s  %-8s  %s\n' BROKER ADDRESS PID LOG
  for d in $(node_dirs); do
    i=${d##*/node-}
    pid=$(live_pid "$d/pid" || echo "-")
    addr=$([ "$pid" != "-" ] && [ -s "$d/address" ] && cat "$d/address" || echo "(stopped)")
    printf '%6s  %-21s  %-8s  %s\n' "$i" "$addr" "$pid" "$d/heraldd.log"
  done
}

# --- commands ----------------------------------------------------------------

case "$cmd" in
  up)
    find_binaries
    start_zookeeper
    for i in $(seq 1 "$nodes"); do start_broker "$i"; done
    echo "== starting $nodes broker(s), waiting until every one is registered"
    wait_brokers
    echo "$bin" >"$dir/bin"
    first=$(running_brokers | head -n 1)
    echo
    print_brokers
    cat <<EOF

ZooKeeper: 127.0.0.1:$(cat "$zkdir/port")$chroot (pid $(cat "$zkdir/pid"))
Use it (any broker will do):
  $bin/herald --broker $first topic create orders --partitions 6 --replication-factor $((nodes < 3 ? nodes : 3))
  seq 1 1000 | $bin/herald --broker $first produce orders
  $bin/herald --broker $first consume orders --from-beginning --timeout-ms 2000
  $bin/herald --broker $first cluster status
or \`. $dir/env\` and leave out --broker. Then: $0 status|down --dir $dir
EOF
    ;;
  status)
    [ -s "$dir/bin" ] && bin=$(cat "$dir/bin") || bin="$root/build/apps"
    if pid=$(live_pid "$zkdir/pid"); then
      echo "ZooKeeper: 127.0.0.1:$(cat "$zkdir/port")$chroot (pid $pid)"
    else
      echo "ZooKeeper: not running"
    fi
    print_brokers
    first=$(running_brokers | head -n 1)
    [ -n "$first" ] || { echo "no broker runs in $dir" >&2; exit 1; }
    echo
    exec "$bin/herald" --broker "$first" cluster status
    ;;
  down)
    for d in $(node_dirs); do stop_process "$d/pid" "broker ${d##*/node-}"; done
    stop_process "$zkdir/pid" "ZooKeeper"
    if [ "$purge" -eq 1 ]; then
      # Only a directory this script laid out (never a typo'd home directory).
      if [ -d "$zkdir" ] && [ -z "$(ls -A "$dir" | grep -vE '^(zookeeper|node-[0-9]+|env|bin)$')" ]; then
        rm -rf "$dir"
        echo "removed $dir"
      else
        echo "local-cluster: $dir holds files this script did not make; not removed" >&2
        exit 1
      fi
    fi
    ;;
  *) usage ;;
esac
