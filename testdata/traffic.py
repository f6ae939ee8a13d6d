#!/usr/bin/env python3
"""Loopback traffic for the rewire test captures (run by make-captures.sh).

Usage: traffic.py SCENARIO OUTDIR

Each scenario runs a real server and a real client over loopback sockets in
this one process, so tcpdump/dumpcap see genuine kernel TCP/UDP traffic.
Every send() is its own segment (TCP_NODELAY and a short pause between
sends), which is how the "record split across segments" and "two records in
one segment" cases are made. The exact bytes each side sent are written to
OUTDIR/<scenario>.expected.json so the Rust tests compare reassembly against
what was really sent.

Scenarios: upsilon, websentry, powerone, powerone-loss.
"""

import json
import os
import socket
import sys
import threading
import time

GAP = 0.05  # pause between sends so each send leaves as its own segment


def crc16_modbus(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def ws_frame(payload, bad_crc=False):
    """WebSentry frame: magic 70 83 9e, CRC-16/MODBUS of the payload (big
    endian), payload length (big endian), payload."""
    crc = crc16_modbus(payload)
    if bad_crc:
        crc ^= 0x0101
    return bytes([0x70, 0x83, 0x9E, crc >> 8, crc & 0xFF,
                  len(payload) >> 8, len(payload) & 0xFF]) + payload


def p1_frame(body):
    """Power-One frame: body starts with FF and the length byte; the last
    byte is the sum of all other bytes modulo 256."""
    return body + bytes([sum(body) & 0xFF])


class Recorder:
    """Remembers what each side of each flow sent."""

    def __init__(self):
        self.flows = []
        self.lock = threading.Lock()

    def tcp(self, server_port, family):
        flow = {"transport": "tcp", "server_port": server_port,
                "family": "ipv6" if family == socket.AF_INET6 else "ipv4",
                "client_to_server": bytearray(), "server_to_client": bytearray()}
        with self.lock:
            self.flows.append(flow)
        return flow

    def udp(self, port):
        flow = {"transport": "udp", "server_port": port, "family": "ipv4",
                "datagrams": []}
        with self.lock:
            self.flows.append(flow)
        return flow

    def dump(self, path):
        out = []
        for f in self.flows:
            g = dict(f)
            for k in ("client_to_server", "server_to_client"):
                if k in g:
                    g[k] = bytes(g[k]).hex()
            if "datagrams" in g:
                g["datagrams"] = [d.hex() for d in g["datagrams"]]
            out.append(g)
        with open(path, "w") as fh:
            json.dump({"flows": out}, fh, indent=1)
            fh.write("\n")


def send_parts(sock, flow, key, parts):
    for p in parts:
        sock.sendall(p)
        flow[key] += p
        time.sleep(GAP)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def tcp_pair(port, family, server_fn, client_fn, rec):
    """Runs server_fn(conn, flow) in a thread and client_fn(sock, flow) here."""
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    flow = rec.tcp(port, family)
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1)

    def serve():
        conn, _ = ls.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server_fn(conn, flow)
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(4096):
            pass
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    c = socket.socket(family, socket.SOCK_STREAM)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.connect((host, port))
    client_fn(c, flow)
    c.shutdown(socket.SHUT_WR)
    while c.recv(4096):
        pass
    c.close()
    t.join()
    ls.close()


# --- UPSilon 2000 --------------------------------------------------------

SEED = b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000\r"


def upsilon(rec):
    # RupsMon's status port 2570: the client connects, the server streams
    # status lines, one per second on a real system (faster here).
    split = b"(238.9 238.9 238.9 008 50.0 27.5 --.- 00001000\r"
    two = (b"(237.1 237.1 238.7 012 50.1 27.4 --.- 00001000\r"
           b"(236.9 236.9 238.7 012 50.0 27.4 --.- 00001001\r")
    parts = [
        SEED,                                                     # one record
        b"(000.0 000.0 238.7 007 50.1 27.4 --.- 10001000\r",      # utility fail
        split[:17], split[17:],                                   # split record
        two,                                                      # two in one
        b"\x00\x00" + SEED,                                       # NULs first
        b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000\r\x00",  # NUL after
    ]

    def server(conn, flow):
        send_parts(conn, flow, "server_to_client", parts)

    tcp_pair(2570, socket.AF_INET, server, lambda c, f: None, rec)

    # Monw32's UDP heartbeat listener on 11541.
    flow = rec.udp(11541)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 11541))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for d in (b"ups000cnt001", b"ups000cnt001", b"upsdiscnt001", b"ups000cnt001"):
        tx.sendto(d, ("127.0.0.1", 11541))
        flow["datagrams"].append(d)
        rx.recv(64)
        time.sleep(GAP)
    tx.close()
    rx.close()

    # The SMS gateway on 8652: UPSilon sends an HTTP GET, the server answers.
    request = (b"GET /smssend_hide.cgi?$sms_recptmobile=0123456789&$sms_content="
               b"DESKTOP-294DAYV: This is a test message!&$sms_code=1 HTTP/1.1\r\n"
               b"User-Agent: RUPS2K SMS\r\n"
               b"Host: 127.0.0.1\r\n"
               b"Connection: Keep-Alive\r\n\r\n")
    body = b"<html><body>OK</body></html>"
    response = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n\r\n" + body)

    def sms_server(conn, flow):
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = conn.recv(4096)
            if not chunk:
                return
            got += chunk
        send_parts(conn, flow, "server_to_client", [response])

    def sms_client(c, flow):
        send_parts(c, flow, "client_to_server", [request])
        recv_exact(c, len(response))

    tcp_pair(8652, socket.AF_INET, sms_server, sms_client, rec)


# --- WebSentry -----------------------------------------------------------

WS_INIT = bytes.fromhex("00ff000205040 10d0090c20c02b3012002 07".replace(" ", ""))


def websentry(rec):
    init = ws_frame(WS_INIT)
    assert init.hex() == "70839ee8e6001200ff00020504010d0090c20c02b30120020 7".replace(" ", "")
    # Query humidity (0x0600), room temperature (0x0601), version string (0x0101).
    query = ws_frame(bytes.fromhex("02 0600 0f 0601 0f 0101 0f".replace(" ", "")))
    answer = ws_frame(bytes.fromhex(
        "02 0600 06 0216 0601 06 0275 0101 07 07 352e31352e3132".replace(" ", "")))
    set_ = ws_frame(bytes.fromhex("032501030032"))        # set humidity to 50 %
    set_ack = ws_frame(bytes.fromhex("03250100"))
    query2 = ws_frame(bytes.fromhex("02 0603 0f".replace(" ", "")))
    answer2 = ws_frame(bytes.fromhex("02 0603 06 0250".replace(" ", "")))
    bad = ws_frame(bytes.fromhex("02 0604 0f".replace(" ", "")), bad_crc=True)

    def server(conn, flow):
        recv_exact(conn, len(init))
        send_parts(conn, flow, "server_to_client", [query])
        recv_exact(conn, len(answer))
        send_parts(conn, flow, "server_to_client", [set_ + query2])  # two in one
        recv_exact(conn, len(set_ack) + len(answer2))
        send_parts(conn, flow, "server_to_client", [bad])             # bad CRC

    def client(c, flow):
        send_parts(c, flow, "client_to_server", [init[:5], init[5:]])  # split
        recv_exact(c, len(query))
        send_parts(c, flow, "client_to_server", [answer])
        recv_exact(c, len(set_) + len(query2))
        send_parts(c, flow, "client_to_server", [set_ack + answer2])  # two in one
        recv_exact(c, len(bad))

    tcp_pair(1030, socket.AF_INET, server, client, rec)


# --- Power-One PCU behind a serial-to-network adapter --------------------

P1_SET_TIME = p1_frame(bytes.fromhex("FF0D0100010107 0B030F0F0D".replace(" ", "")))
P1_TIME_DONE = bytes.fromhex("FF08000100010710")
P1_SET_PASSWORD = p1_frame(bytes.fromhex("FF0C010001010838383838"))
P1_PASSWORD_DONE = bytes.fromhex("FF08000100010811")
assert P1_TIME_DONE == p1_frame(P1_TIME_DONE[:-1])
assert P1_PASSWORD_DONE == p1_frame(P1_PASSWORD_DONE[:-1])


def powerone_exchange(rounds, family, rec, burst=0):
    """`rounds` request/reply pairs one at a time, then `burst` requests
    pipelined (several segments in flight, so a dropped one is overtaken)."""
    pairs = [(P1_SET_TIME, P1_TIME_DONE), (P1_SET_PASSWORD, P1_PASSWORD_DONE)]

    def server(conn, flow):
        for i in range(rounds):
            req, rep = pairs[i % 2]
            recv_exact(conn, len(req))
            send_parts(conn, flow, "server_to_client", [rep])
        for i in range(burst):
            req, rep = pairs[i % 2]
            recv_exact(conn, len(req))
            conn.sendall(rep)
            flow["server_to_client"] += rep
            time.sleep(0.002)

    def client(c, flow):
        for i in range(rounds):
            req, rep = pairs[i % 2]
            if i == 1:
                send_parts(c, flow, "client_to_server", [req[:4], req[4:]])  # split
            else:
                send_parts(c, flow, "client_to_server", [req])
            recv_exact(c, len(rep))
        for i in range(burst):
            req, _ = pairs[i % 2]
            c.sendall(req)
            flow["client_to_server"] += req
            time.sleep(0.002)
        recv_exact(c, sum(len(pairs[i % 2][1]) for i in range(burst)))

    tcp_pair(4001, family, server, client, rec)


def powerone(rec):
    powerone_exchange(4, socket.AF_INET6, rec)


def powerone_loss(rec):
    # Many small segments so the random drops of make-captures.sh hit some.
    powerone_exchange(20, socket.AF_INET, rec, burst=30)


def main():
    scenario, outdir = sys.argv[1], sys.argv[2]
    rec = Recorder()
    {"upsilon": upsilon, "websentry": websentry, "powerone": powerone,
     "powerone-loss": powerone_loss}[scenario](rec)
    rec.dump(os.path.join(outdir, scenario + ".expected.json"))


if __name__ == "__main__":
    main()
