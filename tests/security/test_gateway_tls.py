"""test_gateway_tls.py -- --tls-cert/--tls-key: wss:// on --listen with a
self-signed certificate made here by openssl; SIGHUP with a new certificate
in the same files keeps an open connection alive and serves the new one to
new connections; a reload with a key that does not match is refused
(counted) and the certificate before it keeps serving."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import unittest

from harness import (BIN, SECRET, Broker, Process, free_port, http_get, make_token, metric,
                     wait_until)
from wsraw import RawWS


def make_cert(directory, name):
    cert, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=" + name, "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def der(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def sample(text, key):
    for line in text.decode().splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class GatewayTLS(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="herald-tls-")
        self.one = make_cert(self.dir, "one")
        self.two = make_cert(self.dir, "two")
        self.cert, self.key = os.path.join(self.dir, "live.crt"), os.path.join(self.dir, "live.key")
        shutil.copy(self.one[0], self.cert)
        shutil.copy(self.one[1], self.key)
        self.broker = Broker()
        self.port, self.mport = free_port(), free_port()
        argv = [os.path.join(BIN, "herald-gateway"), "--listen", "127.0.0.1:%d" % self.port,
                "--metrics", "127.0.0.1:%d" % self.mport, "--tls-cert", self.cert,
                "--tls-key", self.key, "--broker", self.broker.publish,
                "--control", self.broker.control]
        self.gateway = Process(argv, env={"HERALD_SECRET": SECRET}, name="gateway-tls")
        self.metrics_url = "http://127.0.0.1:%d/metrics" % self.mport
        wait_until(lambda: not self.gateway.alive()
                   or http_get("http://127.0.0.1:%d/healthz" % self.mport)[0] == 200,
                   what="gateway up")
        self.assertTrue(self.gateway.alive(), self.gateway.output())

    def tearDown(self):
        self.gateway.stop()
        self.broker.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self, trusted):
        """A wss client trusting only `trusted`: (RawWS, the server's DER certificate)."""
        ctx = ssl.create_default_context(cafile=trusted)
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        tls = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        return RawWS(self.port, sock=tls), tls.getpeercert(binary_form=True)

    def reloads(self, result):
        return sample(http_get(self.metrics_url)[1],
                      'herald_gateway_tls_reloads_total{result="%s"}' % result)

    def new_cert_served(self, cert):
        try:
            ws, peer = self.connect(cert)
            ws.close()
            return peer == der(cert)
        except (ssl.SSLError, OSError):
            return False

    def test_wss_and_reload_on_sighup(self):
        ws, peer = self.connect(self.one[0])
        self.assertEqual(peer, der(self.one[0]))
        self.assertEqual(ws.status, 101)
        self.assertEqual(ws.auth(make_token("tls"))["user"], "tls")
        # plain ws:// on the TLS port is not served
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as plain:
            plain.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                answer = plain.recv(100)
            except (ConnectionError, socket.timeout):
                answer = b""
            self.assertFalse(answer.startswith(b"HTTP/1.1 101"))

        # a renewed certificate in the same files, then SIGHUP
        shutil.copy(self.two[0], self.cert)
        shutil.copy(self.two[1], self.key)
        self.gateway.signal(signal.SIGHUP)
        wait_until(lambda: self.reloads("ok") == 1, what="the reload counted")
        wait_until(lambda: self.new_cert_served(self.two[0]), what="new connections see the new certificate")
        with self.assertRaises(ssl.SSLError):
            self.connect(self.one[0])          # the old one is gone for new connections
        # the connection opened before the reload is still alive
        ws.send_json({"type": "ping"})
        self.assertEqual(ws.recv_json()["type"], "pong")

        # a broken renewal: certificate one with key two
        shutil.copy(self.one[0], self.cert)
        self.gateway.signal(signal.SIGHUP)
        wait_until(lambda: self.reloads("failed") == 1, what="the refused reload counted")
        self.assertTrue(self.new_cert_served(self.two[0]), "the previous certificate keeps serving")
        self.assertIn("not reloaded", self.gateway.output())
        ws.send_json({"type": "ping"})
        self.assertEqual(ws.recv_json()["type"], "pong")
        ws.close()


if __name__ == "__main__":
    unittest.main()
