"""wsraw.py -- a hand-written WebSocket client for attacks a real client
library will not make: any handshake headers, unmasked frames, a peer that
stops reading and never answers a ping. Blocking sockets with timeouts."""
import base64
import json
import os
import socket
import struct
import time


class RawWS:
    def __init__(self, port, path="/ws", version="13", origin=None, headers=None,
                 host="127.0.0.1", timeout=5.0, sock=None, source=None):
        """source: a local address to connect from (any 127.x.y.z on Linux
        loopback), to play several client addresses."""
        self.sock = sock or socket.create_connection(
            (host, port), timeout=timeout, source_address=(source, 0) if source else None)
        self.sock.settimeout(timeout)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port),
                 "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: " + key]
        if version is not None:
            lines.append("Sec-WebSocket-Version: " + version)
        if origin is not None:
            lines.append("Origin: " + origin)
        lines += list(headers or [])
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.status, self.headers = self._read_head()

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                if not self.buf:
                    return None, {}
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        parts = lines[0].split(" ")
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return status, headers

    def send_frame(self, payload, opcode=1, mask=True):
        if isinstance(payload, str):
            payload = payload.encode()
        head = bytes([0x80 | opcode])
        n = len(payload)
        m = 0x80 if mask else 0
        if n < 126:
            head += bytes([m | n])
        elif n < 65536:
            head += bytes([m | 126]) + struct.pack(">H", n)
        else:
            head += bytes([m | 127]) + struct.pack(">Q", n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            head += key
        self.sock.sendall(head + payload)

    def send_json(self, obj):
        self.send_frame(json.dumps(obj))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self):
        """(opcode, payload) of the next frame."""
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._need(8))[0]
        key = self._need(4) if b1 & 0x80 else None
        payload = self._need(n)
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return b0 & 0x0F, payload

    def recv_json(self):
        """The next text frame as a dict (pings are answered)."""
        while True:
            op, payload = self.recv_frame()
            if op == 1:
                return json.loads(payload)
            if op == 9:
                self.send_frame(payload, opcode=10)
            elif op == 8:
                raise EOFError("close %r" % payload)

    def close_code(self, timeout=5.0):
        """Reads until the server's close frame; its code, or None when the
        connection ended without one."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                op, payload = self.recv_frame()
                if op == 8:
                    return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
        except (EOFError, ConnectionError):
            return None
        raise AssertionError("no close within %.1fs" % timeout)

    def auth(self, token):
        self.send_json({"type": "auth", "token": token})
        welcome = self.recv_json()
        if welcome.get("type") != "welcome":
            raise AssertionError("expected welcome, got %r" % (welcome,))
        return welcome

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
