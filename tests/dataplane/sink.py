#!/usr/bin/env python3
"""sink.py — a small IPFIX-over-TCP slave for the dataplane tests.

Accepts connections on 127.0.0.1:PORT, splits the stream into IPFIX messages
by their length field, learns (options) templates per connection, and for
every data record notes its exporter (IE 131 + 217) and its conversation key
(the 5-tuple with both endpoints sorted, so A->B and B->A give one key).

Speaks docs/ack-protocol.md when started with --ack: reads the hello
(options template 400: session id, first message number, flags), numbers the
messages that follow, discards replays below the durable mark, and after
making a batch of messages durable (appended to --log and fsynced) writes
an FDAK frame. Without --ack it is a plain IPFIX collector that sends
nothing back.

Durable state is the --log file (JSON lines, one per accepted message); a
restarted sink re-reads it, so a SIGKILL loses only what was never acked.
Usage: sink.py --port P --log FILE [--ack] [--commit-ms MS] [--slow SECONDS_PER_MSG]
             [--rcvbuf BYTES] [--stall SECONDS]
"""
import argparse
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time

IE_SRC4, IE_DST4, IE_SRC6, IE_DST6 = 8, 12, 27, 28
IE_SPORT, IE_DPORT, IE_PROTO, IE_EXPORTER, IE_CPORT = 7, 11, 4, 131, 217
PEN_FD = 32473


def addr_text(b):
    if len(b) == 4:
        return socket.inet_ntop(socket.AF_INET, b)
    if b[:12] == b"\0" * 10 + b"\xff\xff":
        return socket.inet_ntop(socket.AF_INET, b[12:])
    return socket.inet_ntop(socket.AF_INET6, b)


class Conn:
    def __init__(self, sock, sink):
        self.sock = sock
        self.sink = sink
        self.buf = bytearray()
        self.templates = {}
        self.session = None
        self.next_num = None
        self.want_ack = False
        self.unacked = False
        self.seq_next = None  # RFC 7011 §3.1: data records sent before this message
        self.seq_err = 0

    def feed(self, data):
        self.buf += data
        while len(self.buf) >= 16:
            ver, length = struct.unpack_from("!HH", self.buf, 0)
            if ver != 10 or length < 16:
                raise ValueError("stream desync")
            if len(self.buf) < length:
                break
            msg = bytes(self.buf[:length])
            del self.buf[:length]
            self.message(msg)

    def message(self, msg):
        recs = []
        hello = None
        seq = struct.unpack_from("!I", msg, 8)[0]
        if self.seq_next is not None and seq != self.seq_next:
            self.seq_err += 1
        ndata = 0
        off = 16
        while off + 4 <= len(msg):
            sid, slen = struct.unpack_from("!HH", msg, off)
            if slen < 4 or off + slen > len(msg):
                raise ValueError("bad set")
            body = msg[off + 4: off + slen]
            if sid in (2, 3):
                self.parse_templates(body, sid == 3)
            elif sid >= 256:
                t = self.templates.get(sid)
                if t is not None:
                    for r in self.parse_data(body, t):
                        ndata += 1
                        if sid == 400:
                            hello = r
                        else:
                            recs.append(r)
            off += slen
        self.seq_next = (seq + ndata) & 0xffffffff
        if hello is not None:
            self.session = hello.get((10, PEN_FD))
            self.next_num = hello.get((11, PEN_FD))
            self.want_ack = bool(hello.get((12, PEN_FD), 0) & 1) and self.sink.ack
            return
        if not recs and self.next_num is None:
            return  # template-only message before/without a hello
        if self.next_num is not None and self.session is not None:
            num = self.next_num
            self.next_num += 1
            if num < self.sink.durable.get(self.session, 0):
                self.sink.dedup += 1
                return
            self.sink.durable[self.session] = num + 1
            self.unacked = True
        self.sink.accept(self.session, recs, self.seq_err)
        self.seq_err = 0

    def parse_templates(self, body, options):
        off = 0
        while off + 4 <= len(body):
            tid, cnt = struct.unpack_from("!HH", body, off)
            off += 4
            if options:
                off += 2
            fields = []
            for _ in range(cnt):
                ie, ln = struct.unpack_from("!HH", body, off)
                off += 4
                pen = 0
                if ie & 0x8000:
                    pen = struct.unpack_from("!I", body, off)[0]
                    off += 4
                    ie &= 0x7FFF
                fields.append((ie, pen, ln))
            self.templates[tid] = fields
            if tid < 256:
                break

    def parse_data(self, body, fields):
        off = 0
        minlen = sum(1 if ln == 0xFFFF else ln for _, _, ln in fields)
        while len(body) - off >= max(minlen, 1):
            r = {}
            for ie, pen, ln in fields:
                if ln == 0xFFFF:
                    ln = body[off]
                    off += 1
                    if ln == 255:
                        ln = struct.unpack_from("!H", body, off)[0]
                        off += 2
                v = body[off: off + ln]
                off += ln
                if pen == 0 and ie in (IE_SRC4, IE_DST4, IE_SRC6, IE_DST6, IE_EXPORTER):
                    r[ie] = v
                elif ln <= 8:
                    r[(ie, pen) if pen else ie] = int.from_bytes(v, "big")
            yield r


def msg_is_template_only(msg):
    off = 16
    while off + 4 <= len(msg):
        sid, slen = struct.unpack_from("!HH", msg, off)
        if sid >= 256:
            return False
        off += max(slen, 4)
    return True


class Sink:
    def __init__(self, args):
        self.ack = args.ack
        self.slow = args.slow
        self.logf = open(args.log, "a+")
        self.durable = {}
        self.dedup = 0
        self.logf.seek(0)
        for line in self.logf:
            try:
                m = json.loads(line)
            except ValueError:
                continue  # torn last line of a killed sink
            if m.get("s") is not None:
                self.durable[m["s"]] = max(self.durable.get(m["s"], 0), m["n"] + 1)
        self.pending = []
        self.last_sync = time.monotonic()

    def accept(self, session, recs, seq_err=0):
        exps = {}
        keys = []
        for r in recs:
            src = r.get(IE_SRC4) or r.get(IE_SRC6) or b""
            dst = r.get(IE_DST4) or r.get(IE_DST6) or b""
            a = (addr_text(src), r.get(IE_SPORT, 0))
            b = (addr_text(dst), r.get(IE_DPORT, 0))
            lo, hi = sorted([a, b])
            keys.append("%s/%d-%s/%d-%d" % (lo[0], lo[1], hi[0], hi[1], r.get(IE_PROTO, 0)))
            e = "%s:%d" % (addr_text(r.get(IE_EXPORTER, b"\0" * 16)), r.get(IE_CPORT, 0))
            exps[e] = exps.get(e, 0) + 1
        n = self.durable.get(session, 1) - 1 if session is not None else None
        self.pending.append(json.dumps({"s": session, "n": n, "r": len(recs), "e": exps, "k": keys, "q": seq_err}))
        if self.slow:
            time.sleep(self.slow)

    def sync(self, conns):
        if not self.pending:
            return
        self.logf.write("\n".join(self.pending) + "\n")
        self.logf.flush()
        os.fsync(self.logf.fileno())
        self.pending = []
        for c in conns:
            if c.want_ack and c.unacked and c.session is not None:
                frame = b"FDAK" + bytes([1, 0, 0, 0]) + struct.pack("!Q", self.durable[c.session])
                try:
                    c.sock.send(frame)
                except OSError:
                    pass
                c.unacked = False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ack", action="store_true")
    ap.add_argument("--slow", type=float, default=0.0)
    ap.add_argument("--discard", action="store_true", help="bench: read and drop bytes")
    ap.add_argument("--stall", type=float, default=0.0,
                    help="accept and read nothing for this long after start")
    ap.add_argument("--rcvbuf", type=int, default=0,
                    help="SO_RCVBUF of accepted sockets (small: the sender's writes come up short)")
    ap.add_argument("--commit-ms", type=float, default=10.0,
                    help="group commit (fsync + ack) interval")
    args = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if args.rcvbuf:  # inherited by accepted sockets; set before listen() to bound the window
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(16)
    ls.setblocking(False)
    if args.stall:  # connections wait in the backlog, their bytes in a small buffer
        time.sleep(args.stall)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    sink = Sink(args)
    conns = {}
    while not stop:
        for key, _ in sel.select(timeout=0.01):
            if key.data is None:
                s, _ = ls.accept()
                s.setblocking(False)
                c = Conn(s, sink)
                conns[s] = c
                sel.register(s, selectors.EVENT_READ, c)
                continue
            c = key.data
            try:
                data = c.sock.recv(1 << 20)
            except OSError:
                data = b""
            if data and args.discard:
                continue
            try:
                if not data:
                    raise EOFError
                c.feed(data)
            except (EOFError, ValueError) as e:
                if isinstance(e, ValueError):
                    print("sink %d: %s" % (args.port, e), file=sys.stderr)
                sink.sync(list(conns.values()))
                sel.unregister(c.sock)
                c.sock.close()
                del conns[c.sock]
        # group commit every --commit-ms
        now = time.monotonic()
        if now - sink.last_sync >= args.commit_ms / 1000.0:
            sink.sync(list(conns.values()))
            sink.last_sync = now
    sink.sync(list(conns.values()))
    sink.logf.close()


if __name__ == "__main__":
    main()
