#!/usr/bin/env bash
# bench/hostile_rss.sh BUILD_DIR [options] [-- extra heraldd flags]
# Runs every hostile client pattern (tests/hostile/hostile_client) against a
# fresh heraldd each, on a bounded tmpfs data dir, capped at 4 GiB of address
# space (prlimit --as: a 2 GiB claim against BASP really allocates, and the
# machine is shared), and prints a table: broker RSS before / peak (VmHWM) /
# after, whether a normal client (herald produce + consume, 10 s timeout) was
# served while the pattern ran and after it, and what the server did to the
# hostile connections. Figures: bench/README.md, "Hostile clients".
#   --proto basp|framed   what the raw patterns speak (default framed); the
#                         broker's --port-file address is the target
#   --client-listen       the raw patterns target heraldd's --client-listen (written to
#                         --client-port-file) instead of --port-file's address: the
#                         interim of issue 11 when BASP still had --listen
#   --auto                --client-listen when this heraldd has that flag (the tests
#                         use it, so they need no edit when --listen becomes framed)
#   --cluster-target      the raw patterns target the BASP cluster listener of a broker
#                         started as node 1 of a static cluster whose node 2 is absent
#                         (--cluster-listen, after issue 11's switch); add
#                         --cluster-tls-* flags after -- for the mutual-TLS case
#   --tls CA_DIR          TLS on the client listener (--tls-cert/--tls-key from CA_DIR, made by
#                         deploy/make-test-ca.sh); the normal client and the client-library
#                         patterns speak TLS (--tls-ca CA_DIR/ca.crt), the raw ones send their
#                         bytes before any handshake, the tls-* ones inside it; noread is the
#                         client library's (a TLS client that stops reading). Default patterns:
#                         random oversize partial reset tls-silent tls-slowhello tls-stall
#                         tls-oversize noread sessions
#   --patterns "a b"      a subset (default: all)
#   --hold-ms MS          how long each pattern holds (default 5000; slowloris, tls-slowhello:
#                         --slowloris-ms, default 40000 to outlast a 30 s frame timeout)
#   --connections N       connections (requests, sessions) per pattern (default: each pattern's own)
#   --check MIB           exit 1 unless every peak < MIB, the broker survived and
#                         the normal client was served during and after every pattern
#   --expect-closed "a b" with --check: these patterns must end with no hostile
#                         connection left open by the server (still_open=0)
#   --expect-goodbye "a b" with --check: every connection of these patterns got a
#                         goodbye frame before its close (framed listener)
#   --during-optional "a b"  with --check: for these patterns the normal client need
#                         not be served while they run (only after); the framed
#                         listener no longer needs it for bigframes and noread (the
#                         budget ends its largest stalled holder after 1 s)
#   --listeners N         with --check: the broker listens on exactly N TCP sockets
#                         (1: no BASP port beside the client listener; with
#                         --client-listen the interim BASP --listen adds one)
# Root is needed for the tmpfs mount; without it a plain temp dir is used.
set -u
build=$1; shift
proto=framed
patterns="oversize negative truncated random slowloris reset hellos pings partial bigframes noread sessions"
hold_ms=5000
slow_ms=40000
check=0
conns=0
client_listen=0
cluster_target=0
expect_closed=""
expect_goodbye=""
want_listeners=""
during_optional=""
tls_dir=""
patterns_set=0
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --proto) proto=$2; shift 2 ;;
    --patterns) patterns=$2; patterns_set=1; shift 2 ;;
    --tls) tls_dir=$2; shift 2 ;;
    --client-listen) client_listen=1; shift ;;
    --auto) client_listen=auto; shift ;;
    --cluster-target) cluster_target=1; shift ;;
    --hold-ms) hold_ms=$2; shift 2 ;;
    --slowloris-ms) slow_ms=$2; shift 2 ;;
    --check) check=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --expect-closed) expect_closed=$2; shift 2 ;;
    --expect-goodbye) expect_goodbye=$2; shift 2 ;;
    --listeners) want_listeners=$2; shift 2 ;;
    --during-optional) during_optional=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
tlsd=(); tlsc=(); tlst=()
if [ -n "$tls_dir" ]; then
  tlsd=(--tls-cert $tls_dir/broker.crt --tls-key $tls_dir/broker.key)
  tlsc=(--tls-ca $tls_dir/ca.crt); tlst=(--tls-ca $tls_dir/ca.crt)
  [ $patterns_set = 1 ] || patterns="random oversize partial reset tls-silent tls-slowhello tls-stall tls-oversize noread sessions"
fi
heraldd=$build/apps/heraldd
herald=$build/apps/herald
tool=$build/tests/hostile/hostile_client
if [ $client_listen = auto ]; then
  client_listen=0; $heraldd --help 2>&1 | grep -q -e --client-listen && client_listen=1
fi
[ $client_listen = 1 ] && [ -n "$want_listeners" ] && want_listeners=$((want_listeners + 1))
root=$(mktemp -d /tmp/herald-hostile-XXXXXX)
failed=0
# HOSTILE_KEEP=1 keeps the brokers' logs (the tmpfs is copied out first).
# A broker or hostile tool of an interrupted pattern must not outlive the script.
trap 'kill ${pid:-} ${tool_pid:-} 2>/dev/null; for m in $root/*/; do [ "${HOSTILE_KEEP:-0}" = 1 ] && cp $m/log ${m%/}.log 2>/dev/null; mountpoint -q "$m" && umount -l "$m"; done; [ "${HOSTILE_KEEP:-0}" = 1 ] && echo "logs kept in $root" >&2 || rm -rf "$root"' EXIT

rss() { awk -v k="$2:" '$1 == k {print int($2 / 1024)}' /proc/$1/status 2>/dev/null; }
now_ms() { date +%s%3N; }
# TCP sockets in LISTEN state (0A) that the process holds.
listeners() {
  local n=0 i
  for i in $(ls -l /proc/$1/fd 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p'); do
    awk -v i=$i '$4 == "0A" && $10 == i {f = 1} END {exit !f}' /proc/net/tcp /proc/net/tcp6 && n=$((n + 1))
  done
  echo $n
}
field() { sed -n "s/.* $1=\([0-9-]*\).*/\1/p" $2 | head -1; }
has() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }
# A loopback port nobody listens on now (the cluster flags need fixed ports).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    awk -v h=$(printf '%04X' $p) '$4 == "0A" && substr($2, length($2) - 3) == h {f = 1} END {exit f}' /proc/net/tcp \
      && { echo $p; return; }
  done
}
# One record through the broker and back; prints "ok <ms>" or "FAIL <ms>".
normal_client() {  # addr, tag
  local t0=$(now_ms) out
  out=$( (echo "$2" | timeout 10 $herald "${tlsc[@]}" --broker $1 produce hostile --acks all >/dev/null 2>&1 &&
          timeout 10 $herald "${tlsc[@]}" --broker $1 consume hostile --from-beginning --max-messages 1 --timeout-ms 5000) 2>/dev/null)
  local ms=$(( $(now_ms) - t0 ))
  [ -n "$out" ] && echo "ok $ms" || echo "FAIL $ms"
}

printf "%-10s %-6s %7s %8s %7s  %-12s %-12s %s\n" pattern proto "before" "peak" "after" "client-during" "client-after" "server's answer to the hostile connections (MiB; client: served and ms)"
for p in $patterns; do
  d=$root/$p; mkdir -p $d
  if [ "$(id -u)" = 0 ]; then mount -t tmpfs -o size=64m tmpfs $d; fi
  cl=(); [ $client_listen = 1 ] && cl=(--client-listen 127.0.0.1:0 --client-port-file $d/cport)
  listen=127.0.0.1:0
  if [ $cluster_target = 1 ]; then
    cp=$(free_port); kp=$(free_port); listen=127.0.0.1:$cp
    cl=(--node-id 1 --cluster-listen 127.0.0.1:$kp --peer 1=127.0.0.1:$cp/127.0.0.1:$kp
        --peer 2=127.0.0.1:$(free_port)/127.0.0.1:$(free_port))
  fi
  prlimit --as=$((4 << 30)) $heraldd --data-dir $d/data --listen $listen --port-file $d/port \
    --disk-reserve-bytes 0 "${cl[@]}" "${tlsd[@]}" "${extra[@]}" > $d/log 2>&1 &
  pid=$!
  for i in $(seq 200); do [ -s $d/port ] && break; sleep 0.05; done
  addr=$(head -1 $d/port)
  taddr=$addr; [ $client_listen = 1 ] && taddr=$(head -1 $d/cport)
  # The client library speaks whatever --listen speaks.
  case $p in sessions|noread-client) taddr=$addr ;; esac
  [ -n "$tls_dir" ] && [ $p = noread ] && taddr=$addr
  [ $cluster_target = 1 ] && taddr=127.0.0.1:$kp
  $herald "${tlsc[@]}" --broker $addr topic create hostile --partitions 1 --replication-factor 1 >/dev/null 2>&1
  warm=$(normal_client $addr warmup)
  before=$(rss $pid VmRSS)
  nlisten=$(listeners $pid)
  hold=$hold_ms; case $p in slowloris|tls-slowhello) hold=$slow_ms ;; esac
  $tool --target $taddr --proto $proto --pattern $p --hold-ms $hold --connections $conns "${tlst[@]}" \
    > $d/tool.out 2> $d/tool.err &
  tool_pid=$!
  sleep 1
  during=$(normal_client $addr during)
  wait $tool_pid; tool_pid=
  sleep 1
  alive=1; kill -0 $pid 2>/dev/null || alive=0
  if [ $alive = 1 ]; then
    after=$(rss $pid VmRSS); peak=$(rss $pid VmHWM)
    client_after=$(normal_client $addr after)
  else
    after=-; peak=-; client_after="DEAD"
  fi
  answer=$(sed -e 's/^pattern=[a-z]* //' -e 's/proto=[a-z]* //' $d/tool.out | head -1)
  [ -s $d/tool.err ] && answer="$answer $(head -c 200 $d/tool.err | tr '\n' ' ')"
  answer="$answer tcp_listeners=$nlisten"
  [ $alive = 0 ] && answer="BROKER DIED ($(tail -1 $d/log | head -c 120)); $answer"
  printf "%-10s %-6s %7s %8s %7s  %-12s %-12s %s\n" $p $proto "$before" "$peak" "$after" "$(echo $during | tr ' ' ':')" \
    "$(echo $client_after | tr ' ' ':')" "$answer"
  if [ "$check" != 0 ]; then
    during_ok=${during%% *}; has "$during_optional" $p && during_ok=ok
    if [ $alive = 0 ] || [ "$peak" -ge "$check" ] || [ "$during_ok" != ok ] || [ "${client_after%% *}" != ok ] \
       || [ "${warm%% *}" != ok ]; then
      echo "CHECK FAILED for $p: peak $peak MiB (bound $check), client during '$during', after '$client_after'" >&2
      failed=1
    fi
    if has "$expect_closed" $p && [ "$(field still_open $d/tool.out)" != 0 ]; then
      echo "CHECK FAILED for $p: the server left $(field still_open $d/tool.out) hostile connections open" >&2
      failed=1
    fi
    if has "$expect_goodbye" $p && [ "$(field goodbyes $d/tool.out)" != "$(field opened $d/tool.out)" ]; then
      echo "CHECK FAILED for $p: $(field goodbyes $d/tool.out) goodbyes for $(field opened $d/tool.out) connections" >&2
      failed=1
    fi
    if [ -n "$want_listeners" ] && [ "$nlisten" != "$want_listeners" ]; then
      echo "CHECK FAILED for $p: the broker listens on $nlisten TCP sockets, expected $want_listeners" >&2
      failed=1
    fi
  fi
  { kill $pid; wait $pid; } 2>/dev/null; pid=
  [ "${HOSTILE_KEEP:-0}" = 1 ] && cp $d/log $d.log 2>/dev/null
  mountpoint -q $d && umount -l $d
done
exit $failed
