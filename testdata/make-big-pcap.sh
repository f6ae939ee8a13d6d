#!/usr/bin/env bash
# Makes a large pcap by repeating bundled traffic, for end-to-end throughput
# and memory measurements (docs/PERFORMANCE.md).
#
#   testdata/make-big-pcap.sh SIZE OUT [CAPTURE.pcap...]
#
# SIZE is a byte count with an optional K, M or G suffix (powers of 1024);
# the output is the largest whole number of repetitions not above it (at
# least one). The captures (default: the three Ethernet loopback captures,
# testdata/*/*-lo.pcap) must be classic pcap with the same link type and
# timestamp resolution; they are merged by time, each shifted to start at 0.
#
# The repetitions continue the captured TCP connections instead of opening
# new ones, so a reader sees one long stream per connection, as a monitor
# running for days would:
# - the first repetition keeps the handshake (SYN), the last one the
#   teardown (FIN/RST); in between, SYN/FIN/RST packets are left out, a FIN
#   riding on data loses its FIN flag, and the sequence number the FIN used
#   is given back (later packets of that direction, and the other side's
#   acknowledgements of it, move back by one). A direction that carries no
#   payload at all (a client that half-closes at once) keeps its FIN in the
#   first repetition, as captured;
# - sequence and acknowledgement numbers of repetition k are moved on by k
#   times the payload bytes each direction carried, so reassembly sees new
#   bytes in order and never a retransmission;
# - timestamps of repetition k are moved on by k times (capture span + 1 ms),
#   so they increase through the file.
# UDP datagrams repeat unchanged apart from their timestamps. Checksums are
# left as captured: loopback captures carry partial (offloaded) checksums,
# and the rewire readers do not check them.
#
# Never commit the output: write it under /tmp or another scratch place.
set -euo pipefail

usage() {
    echo "usage: testdata/make-big-pcap.sh SIZE OUT [CAPTURE.pcap...]" >&2
    exit 2
}
[[ $# -ge 2 ]] || usage
size=$1
out=$2
shift 2

case $size in
    *[Kk]) bytes=$(( ${size%?} * 1024 )) ;;
    *[Mm]) bytes=$(( ${size%?} * 1024 * 1024 )) ;;
    *[Gg]) bytes=$(( ${size%?} * 1024 * 1024 * 1024 )) ;;
    *[0-9]) bytes=$size ;;
    *) usage ;;
esac
[[ $bytes =~ ^[0-9]+$ && $bytes -gt 0 ]] || usage

here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -eq 0 ]]; then
    set -- "$here"/upsilon/upsilon-lo.pcap "$here"/websentry/websentry-lo.pcap \
        "$here"/powerone/powerone-lo.pcap
fi

exec python3 - "$bytes" "$out" "$@" <<'PY'
import struct
import sys

limit = int(sys.argv[1])
out_path = sys.argv[2]
inputs = sys.argv[3:]

SYN, FIN, RST = 0x02, 0x01, 0x04


def read_pcap(path):
    data = open(path, "rb").read()
    if len(data) < 24:
        sys.exit(f"{path}: not a pcap file")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        sys.exit(f"{path}: not a classic pcap file (pcapng is not supported)")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    packets = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(endian + "IIII", data[off:off + 16])
        body = data[off + 16:off + 16 + incl]
        if len(body) < incl:
            sys.exit(f"{path}: truncated packet at offset {off}")
        ticks = sec * (10**9 if nano else 10**6) + frac
        packets.append((ticks, orig, body))
        off += 16 + incl
    return data[:24], endian, nano, linktype, packets


def tcp_offsets(body, linktype):
    """Returns (flow key, tcp header offset, payload length, flags) for a TCP
    packet, None for anything else."""
    if linktype == 1:  # Ethernet, maybe one VLAN tag
        if len(body) < 14:
            return None
        ethertype = struct.unpack(">H", body[12:14])[0]
        ip = 14
        if ethertype == 0x8100 and len(body) >= 18:
            ethertype = struct.unpack(">H", body[16:18])[0]
            ip = 18
    elif linktype in (101, 228, 229):  # raw IP
        ip = 0
        ethertype = 0x0800 if body[:1] and body[0] >> 4 == 4 else 0x86DD
    else:
        sys.exit(f"link type {linktype} is not supported (use an Ethernet or raw IP capture)")
    if ethertype == 0x0800:
        if len(body) < ip + 20 or body[ip + 9] != 6:
            return None
        ihl = (body[ip] & 0x0F) * 4
        total = struct.unpack(">H", body[ip + 2:ip + 4])[0]
        src, dst = body[ip + 12:ip + 16], body[ip + 16:ip + 20]
        tcp = ip + ihl
        end = ip + total
    elif ethertype == 0x86DD:
        if len(body) < ip + 40 or body[ip + 6] != 6:
            return None  # extension headers are not expected in these captures
        plen = struct.unpack(">H", body[ip + 4:ip + 6])[0]
        src, dst = body[ip + 8:ip + 24], body[ip + 24:ip + 40]
        tcp = ip + 40
        end = tcp + plen
    else:
        return None
    if len(body) < tcp + 20:
        return None
    sport, dport = struct.unpack(">HH", body[tcp:tcp + 4])
    doff = (body[tcp + 12] >> 4) * 4
    flags = body[tcp + 13]
    payload = max(0, min(end, len(body)) - (tcp + doff))
    return (src, sport, dst, dport), tcp, payload, flags


header = None
merged = []
for path in inputs:
    head, endian, nano, linktype, packets = read_pcap(path)
    if header is None:
        header, first = head, (endian, nano, linktype)
    elif (endian, nano, linktype) != first:
        sys.exit(f"{path}: byte order, timestamp resolution or link type differs from {inputs[0]}")
    if not packets:
        continue
    start = packets[0][0]
    merged.extend((t - start, orig, body) for t, orig, body in packets)
merged.sort(key=lambda p: p[0])
if not merged:
    sys.exit("no packets in the input captures")
endian, nano, linktype = first
unit = 10**9 if nano else 10**6

# Payload bytes per TCP direction, where each direction's FIN sits in
# sequence space, and each packet's TCP facts.
sent = {}
fin_at = {}
facts = []
for _, _, body in merged:
    f = tcp_offsets(body, linktype)
    facts.append(f)
    if f:
        key, tcp, payload, flags = f
        sent[key] = sent.get(key, 0) + payload
        if flags & FIN and key not in fin_at:
            seq = struct.unpack(">I", body[tcp + 4:tcp + 8])[0]
            fin_at[key] = (seq + payload) & 0xFFFFFFFF


def after(x, point):
    """Whether sequence number x lies beyond point (modulo 2^32)."""
    return 0 < ((x - point) & 0xFFFFFFFF) < 0x80000000


def reverse(key):
    src, sport, dst, dport = key
    return dst, dport, src, sport


span = merged[-1][0] + unit // 1000  # capture span + 1 ms
rec = struct.Struct(endian + "IIII")


def repetition(k, first_rep, last_rep):
    parts = []
    for (t, orig, body), f in zip(merged, facts):
        if f:
            key, tcp, payload, flags = f
            # A direction without payload keeps its captured FIN (rep 0).
            keep_fin = sent.get(key, 0) == 0
            if flags & SYN and not first_rep:
                continue
            if flags & (FIN | RST):
                keep = first_rep if keep_fin else last_rep
                if keep:
                    pass
                elif payload == 0:
                    continue
                else:
                    body = bytearray(body)
                    body[tcp + 13] = flags & ~(FIN | RST)
            seq, ack = struct.unpack(">II", body[tcp + 4:tcp + 12])
            new_seq = (seq + k * sent.get(key, 0)) & 0xFFFFFFFF
            new_ack = ack
            if flags & 0x10:
                new_ack = (ack + k * sent.get(reverse(key), 0)) & 0xFFFFFFFF
            if not last_rep:
                # Give back the sequence number of each FIN left out.
                fin = fin_at.get(key)
                if fin is not None and sent.get(key, 0) and after(seq, fin):
                    new_seq = (new_seq - 1) & 0xFFFFFFFF
                fin = fin_at.get(reverse(key))
                if (flags & 0x10 and fin is not None and sent.get(reverse(key), 0)
                        and after(ack, fin)):
                    new_ack = (new_ack - 1) & 0xFFFFFFFF
            if (new_seq, new_ack) != (seq, ack):
                body = bytearray(body)
                struct.pack_into(">II", body, tcp + 4, new_seq, new_ack)
        ticks = t + k * span
        parts.append(rec.pack(ticks // unit, ticks % unit, len(body), orig))
        parts.append(bytes(body))
    return b"".join(parts)


# Base timestamp: the first input's first packet time.
base = read_pcap(inputs[0])[4][0][0]
merged = [(t + base, o, b) for t, o, b in merged]

middle = len(repetition(1, False, False))
first_len = len(repetition(0, True, False))
last_len = len(repetition(1, False, True))
reps = max(1, (limit - 24 - first_len - last_len) // middle + 2)
if reps == 2 and 24 + first_len + last_len > limit:
    reps = 1

written = 24
with open(out_path, "wb") as out:
    out.write(header)
    for k in range(reps):
        chunk = repetition(k, k == 0, k == reps - 1)
        out.write(chunk)
        written += len(chunk)
print(f"{out_path}: {written} bytes, {reps} repetitions of {len(merged)} packets", file=sys.stderr)
PY
