#!/usr/bin/env bash
# Three stores on three "hosts": network namespaces joined by a bridge, each store reachable only
# through its veth address, and etcd on the bridge (docs/CLUSTER.md, "Across network namespaces").
# Needs root (ip netns), etcd (Debian's etcd-server) and a release build. It checks the same things
# as the loopback tests, across real interfaces:
#   - an await on b before the seal on a, then a seal on a before the await on c;
#   - a 64 MiB object, byte for byte.
# Usage: sudo Benchmarks/cluster-netns.sh [BIN]. BIN is the folder with plasma-store and plasma;
# default: `swift build -c release --show-bin-path`, built if missing. It removes everything it made
# on exit, failed or not.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "cluster-netns.sh: needs root (ip netns, veth)"; exit 2; }
command -v etcd >/dev/null || { echo "cluster-netns.sh: needs etcd (apt-get install etcd-server)"; exit 2; }
bin=${1:-}
if [ -z "$bin" ]; then
    swift build -c release --product plasma-store >/dev/null
    swift build -c release --product plasma >/dev/null
    bin=$(swift build -c release --show-bin-path)
fi
work=$(mktemp -d /tmp/plasma-netns.XXXXXX)
bridge=plasmabr0
net=10.77.0
nodes=(a b c)
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for n in "${nodes[@]}"; do ip netns del "plasma-$n" 2>/dev/null || true; done
    ip link del "$bridge" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Polls `what` (a command) until it succeeds, for at most 30 s.
wait_for() {
    local what=$1 deadline=$(( $(date +%s) + 30 ))
    until eval "$what" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "cluster-netns.sh: timed out waiting for: $what"; exit 1; }
        sleep 0.1
    done
}

if ip link show "$bridge" >/dev/null 2>&1; then echo "cluster-netns.sh: $bridge exists (another run?)"; exit 2; fi
ip link add "$bridge" type bridge
ip addr add "$net.1/24" dev "$bridge"
ip link set "$bridge" up
host=10
for n in "${nodes[@]}"; do
    host=$((host + 1))
    ip netns add "plasma-$n"
    ip link add "veth-$n" type veth peer name eth0 netns "plasma-$n"
    ip link set "veth-$n" master "$bridge" up
    ip -n "plasma-$n" addr add "$net.$host/24" dev eth0
    ip -n "plasma-$n" link set eth0 up
    ip -n "plasma-$n" link set lo up
done

etcd --name netns --data-dir "$work/etcd" --listen-client-urls "http://$net.1:23790" \
     --advertise-client-urls "http://$net.1:23790" --listen-peer-urls "http://127.0.0.1:23800" \
     --initial-advertise-peer-urls "http://127.0.0.1:23800" --initial-cluster "netns=http://127.0.0.1:23800" \
     > "$work/etcd.log" 2>&1 &
pids+=($!)
# /health over bash's /dev/tcp: no curl needed.
etcd_healthy() {
    exec 3<>"/dev/tcp/$net.1/23790" || return 1
    printf 'GET /health HTTP/1.0\r\nHost: %s\r\n\r\n' "$net.1" >&3
    grep -q '"health":"true"' <&3
    local found=$?
    exec 3<&-
    return $found
}
wait_for etcd_healthy

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/token"
chmod 600 "$work/token"
host=10
for n in "${nodes[@]}"; do
    host=$((host + 1))
    ip netns exec "plasma-$n" "$bin/plasma-store" --memory 512M --socket "$work/$n.sock" \
        --cluster "etcd://$net.1:23790" --node-name "$n" --transfer-address "$net.$host:7420" \
        --cluster-token-file "$work/token" > "$work/store-$n.log" 2>&1 &
    pids+=($!)
done
for n in "${nodes[@]}"; do wait_for "'$bin/plasma' stats --socket '$work/$n.sock'"; done
wait_for "[ \$('$bin/plasma' cluster --cluster etcd://$net.1:23790 | grep -c 7420) = 3 ]"
"$bin/plasma" cluster --cluster "etcd://$net.1:23790"

check() {  # check NAME FROM TO SIZE ORDER
    local name=$1 from=$2 to=$3 size=$4 order=$5 id
    id=$(printf '%040x' "$RANDOM$RANDOM")
    head -c "$size" /dev/urandom > "$work/$name.in"
    if [ "$order" = await-first ]; then
        "$bin/plasma" get --socket "$work/$to.sock" --timeout 60s -o "$work/$name.out" "$id" &
        local getter=$!
        "$bin/plasma" put --socket "$work/$from.sock" "$id" "$work/$name.in" >/dev/null
        wait "$getter"
    else
        "$bin/plasma" put --socket "$work/$from.sock" "$id" "$work/$name.in" >/dev/null
        "$bin/plasma" get --socket "$work/$to.sock" --timeout 60s -o "$work/$name.out" "$id"
    fi
    cmp "$work/$name.in" "$work/$name.out"
    echo "cluster-netns.sh: $name: $size bytes sealed on $from, read on $to ($order): identical"
}
check small-await a b 4096 await-first
check small-seal a c 4096 seal-first
check large b c $((64 << 20)) seal-first
echo "cluster-netns.sh: passed"
