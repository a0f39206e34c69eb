#!/usr/bin/env python3
"""Delays packets like `tc netem delay D J`, for kernels built without sch_netem.

Run inside a network namespace, after an iptables rule sends the packets to delay to
NFQUEUE number QUEUE (`-j NFQUEUE --queue-num QUEUE --queue-bypass`):

    python3 netdelay.py QUEUE DELAY_MS JITTER_MS

It speaks the kernel's nfnetlink_queue protocol over a raw netlink socket (standard library
only), holds each packet DELAY_MS +/- JITTER_MS (uniform, as netem without a distribution
table; packets may pass each other, as with netem's jitter), then accepts it. Loss is left
to iptables (`-m statistic --mode random --probability P -j DROP`). It prints "ready" once
bound and runs until killed. Used by chaos/links.ts (the fault suite's scenario 7).
"""
import heapq
import random
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NF_ACCEPT = 1
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
SO_RCVBUFFORCE = 33


def attribute(kind, payload):
    length = 4 + len(payload)
    return struct.pack('=HH', length, kind) + payload + b'\0' * ((4 - length % 4) % 4)


def message(kind, flags, queue, attributes, family=socket.AF_UNSPEC, seq=0):
    body = struct.pack('=BB', family, 0) + struct.pack('>H', queue) + b''.join(attributes)
    return struct.pack('=IHHII', 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, flags, seq, 0) + body


def expect_ack(sock, seq):
    data = sock.recv(65536)
    length, kind, _flags, got_seq, _pid = struct.unpack_from('=IHHII', data, 0)
    if kind == NLMSG_ERROR:
        (error,) = struct.unpack_from('=i', data, 16)
        if error != 0:
            raise OSError(-error, 'nfqueue config refused (seq %d)' % got_seq)


def main():
    queue, delay_ms, jitter_ms = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((0, 0))
    config = [
        attribute(NFQA_CFG_CMD, struct.pack('>BxH', NFQNL_CFG_CMD_BIND, socket.AF_INET)),
        attribute(NFQA_CFG_PARAMS, struct.pack('>IB', 0, NFQNL_COPY_META)),
        attribute(NFQA_CFG_QUEUE_MAXLEN, struct.pack('>I', 50000)),
    ]
    for seq, attr in enumerate(config, start=1):
        sock.send(message(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, queue, [attr], socket.AF_INET, seq))
        expect_ack(sock, seq)
    print('ready', flush=True)

    held = []  # (due, packet id)
    while True:
        timeout = None
        if held:
            timeout = max(0.0, held[0][0] - time.monotonic())
        readable, _, _ = select.select([sock], [], [], timeout)
        if readable:
            try:
                data = sock.recv(1 << 20)
            except OSError:
                data = b''  # ENOBUFS: the kernel dropped some; they count as loss
            offset = 0
            while offset + 16 <= len(data):
                length, kind, _flags, _seq, _pid = struct.unpack_from('=IHHII', data, offset)
                if length < 16:
                    break
                if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    at = offset + 20
                    end = offset + length
                    while at + 4 <= end:
                        attr_len, attr_kind = struct.unpack_from('=HH', data, at)
                        if attr_len < 4:
                            break
                        if attr_kind & 0x3FFF == NFQA_PACKET_HDR:
                            (packet_id,) = struct.unpack_from('>I', data, at + 4)
                            wait = max(0.0, delay_ms + random.uniform(-jitter_ms, jitter_ms)) / 1000.0
                            heapq.heappush(held, (time.monotonic() + wait, packet_id))
                            break
                        at += (attr_len + 3) & ~3
                offset += (length + 3) & ~3
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, packet_id = heapq.heappop(held)
            verdict = attribute(NFQA_VERDICT_HDR, struct.pack('>II', NF_ACCEPT, packet_id))
            sock.send(message(NFQNL_MSG_VERDICT, NLM_F_REQUEST, queue, [verdict]))


if __name__ == '__main__':
    main()
