#!/usr/bin/env bash
# Remakes the committed test captures from real loopback traffic.
#
# Needs root (network namespaces), python3, tcpdump, dumpcap/editcap (Debian:
# tcpdump tshark), nftables, xxd and hexdump (Debian: xxd bsdextrautils).
# Every scenario runs in its own network namespace so nothing else on the
# machine ends up in the files, and so the retransmission scenario can drop
# packets without touching the host.
#
# Usage: testdata/make-captures.sh            (writes into testdata/)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
here=$(pwd)

[ "$(id -u)" -eq 0 ] || { echo "make-captures.sh: needs root (ip netns)" >&2; exit 1; }
for tool in python3 tcpdump dumpcap editcap nft ip xxd hexdump; do
  command -v "$tool" >/dev/null || { echo "make-captures.sh: missing $tool" >&2; exit 1; }
done

ns=rewire-capture-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

# start_capture OUT ARGS... : runs a capture tool inside the namespace.
start_capture() {
  local tool=$1; shift
  ip netns exec "$ns" "$tool" "$@" >/dev/null 2>&1 &
  pids+=("$!")
}

stop_captures() {
  sleep 1
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}

# scenario NAME DIR FILTER [loss]
scenario() {
  local name=$1 dir=$2 filter=$3 loss=${4:-}
  mkdir -p "$here/$dir"
  local out=$here/$dir/$name
  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  if [ -n "$loss" ]; then
    # No sch_netem here, so nftables drops at random instead: about one in
    # six segments of the flow on the way out (before tcpdump sees it: the
    # capture shows later data first, then the kernel's retransmission) and
    # one in six on the way in (after tcpdump saw it: the capture shows the
    # segment twice).
    ip netns exec "$ns" nft -f - <<'EOF'
table inet loss {
  chain out {
    type filter hook output priority 0;
    tcp dport 4001 tcp flags & (syn|fin|rst) == 0 numgen random mod 6 == 0 drop;
    tcp sport 4001 tcp flags & (syn|fin|rst) == 0 numgen random mod 6 == 0 drop;
  }
  chain in {
    type filter hook input priority 0;
    tcp dport 4001 tcp flags & (syn|fin|rst) == 0 numgen random mod 6 == 0 drop;
    tcp sport 4001 tcp flags & (syn|fin|rst) == 0 numgen random mod 6 == 0 drop;
  }
}
EOF
    start_capture tcpdump -Z root -U -n -i lo -w "$out.pcap" "$filter"
  else
    # Ethernet-on-lo as pcap (microseconds) and pcap with nanosecond stamps,
    # Linux cooked v1 and v2 from the "any" device, and dumpcap's pcapng.
    start_capture tcpdump -Z root -U -n -i lo -w "$out-lo.pcap" "$filter"
    start_capture tcpdump -Z root -U -n -i lo --time-stamp-precision=nano -w "$out-lo-nano.pcap" "$filter"
    start_capture tcpdump -Z root -U -n -i any -y LINUX_SLL -w "$out-any-sll.pcap" "$filter"
    start_capture tcpdump -Z root -U -n -i any -y LINUX_SLL2 -w "$out-any-sll2.pcap" "$filter"
    start_capture dumpcap -q -i lo -f "$filter" -w "$out-lo.pcapng"
  fi
  sleep 2
  ip netns exec "$ns" python3 "$here/traffic.py" "$name" "$here/$dir"
  stop_captures
  ip netns del "$ns"
}

scenario upsilon upsilon "tcp port 2570 or tcp port 8652 or udp port 11541"
scenario websentry websentry "tcp port 1030"
scenario powerone powerone "tcp port 4001"

# The retransmission capture: retried until tcpdump recorded at least one
# duplicate and one out-of-order segment (tshark's TCP analysis says so).
for attempt in 1 2 3 4 5; do
  scenario powerone-loss powerone "tcp port 4001" loss
  retrans=$(tshark -n -r powerone/powerone-loss.pcap -Y tcp.analysis.retransmission 2>/dev/null | wc -l)
  ooo=$(tshark -n -r powerone/powerone-loss.pcap -Y "tcp.analysis.out_of_order or tcp.analysis.lost_segment" 2>/dev/null | wc -l)
  echo "powerone-loss attempt $attempt: $retrans retransmissions, $ooo out-of-order/lost"
  [ "$retrans" -gt 0 ] && [ "$ooo" -gt 0 ] && break
done

# pcapng copies of the tcpdump files made by editcap (pcapng with the
# nanosecond if_tsresol of the source), and raw IP captures made by cutting
# the 14-byte Ethernet header of lo and relabelling the link type.
editcap -F pcapng websentry/websentry-lo-nano.pcap websentry/websentry-lo-nano.pcapng
editcap -F pcapng powerone/powerone-loss.pcap powerone/powerone-loss.pcapng
editcap -F pcap -C 14 -T rawip upsilon/upsilon-lo.pcap upsilon/upsilon-rawip.pcap
editcap -F pcap -C 14 -T rawip4 websentry/websentry-lo.pcap websentry/websentry-rawip4.pcap
editcap -F pcap -C 14 -T rawip6 powerone/powerone-lo.pcap powerone/powerone-rawip6.pcap

# Serial-monitor style hex dumps of the Power-One exchanges, and the raw bytes.
python3 - "$here/powerone" <<'EOF'
import sys, json
out = sys.argv[1]
flow = json.load(open(out + "/powerone.expected.json"))["flows"][0]
c2s = bytes.fromhex(flow["client_to_server"])
s2c = bytes.fromhex(flow["server_to_client"])
open(out + "/requests.bin", "wb").write(c2s)
open(out + "/replies.bin", "wb").write(s2c)
EOF
xxd powerone/requests.bin > powerone/requests.xxd.hex
hexdump -C powerone/requests.bin > powerone/requests.hexdump-c.hex
# A WebSentry exporter raw log (--raw-log) holding the captured frames, in
# the exporter's layout (Go's json.MarshalIndent with tabs; Python's
# json.dumps(indent="\t") writes the same bytes for these values).
python3 - "$here/websentry" <<'EOF'
import base64, json, sys
out = sys.argv[1]
flow = json.load(open(out + "/websentry.expected.json"))["flows"][0]
def frames(stream):
    b, res = bytes.fromhex(stream), []
    while b:
        n = 7 + (b[5] << 8 | b[6])
        res.append(b[:n]); b = b[n:]
    return res
c, s = frames(flow["client_to_server"]), frames(flow["server_to_client"])
order = [("C", c[0]), ("S", s[0]), ("C", c[1]), ("S", s[1]), ("S", s[2]),
         ("C", c[2]), ("C", c[3]), ("S", s[3])]
session = {"Start": "2024-01-20T10:39:54.264483473-08:00", "DurSec": 1.513274211,
           "Frames": [{"N": i + 1, k: base64.b64encode(f).decode()} for i, (k, f) in enumerate(order)]}
empty = {"Start": "2024-01-20T18:40:05.1Z", "DurSec": 0.000217, "Frames": None}
with open(out + "/rawlog.json", "w") as fh:
    for v in (session, empty):
        fh.write(json.dumps(v, indent="\t") + "\n")
EOF
echo "make-captures.sh: done"
