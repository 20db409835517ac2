"""test_gateway_health.py -- /healthz tells the truth about the broker link.

A gateway pointed at a broker that is not there answers /healthz 503 with
the reason, shows herald_gateway_broker_link_up 0 and logs that it has no
link; once a broker starts on that endpoint it answers 200 (link_up 1,
"broker link up" logged); when the broker is killed, 503 again ("broker
link lost"); a stopped (SIGSTOP) broker counts as lost once it has said
nothing for the documented 3 s.
"""
import signal
import types
import unittest

import harness
from harness import Broker, Gateway, free_port, http_get, metric, wait_until


def link_up(gateway):
    return metric(gateway.metrics(), "herald_gateway_broker_link_up", exact=True)


class GatewayHealthTest(unittest.TestCase):
    def test_no_broker_then_broker_then_killed(self):
        ports = {k: free_port() for k in ("ingest", "publish", "control", "undelivered", "http")}
        endpoints = types.SimpleNamespace(publish="tcp://127.0.0.1:%d" % ports["publish"],
                                          control="tcp://127.0.0.1:%d" % ports["control"])
        gateway = Gateway(endpoints)
        broker = None
        try:
            status, body = http_get(gateway.http + "/healthz")
            self.assertEqual(status, 503)
            self.assertIn(b"no broker link: not connected to " + endpoints.publish.encode(), body)
            self.assertEqual(link_up(gateway), 0.0)
            wait_until(lambda: "no broker link yet" in gateway.output(), what="the no-link log line")

            broker = Broker(ports=ports)
            gateway.wait_linked()
            self.assertEqual(http_get(gateway.http + "/healthz"), (200, b"ok\n"))
            self.assertEqual(link_up(gateway), 1.0)
            wait_until(lambda: "broker link up" in gateway.output(), what="the link-up log line")

            broker.signal(signal.SIGSTOP)
            try:
                status, body = wait_until(
                    lambda: (lambda r: r if r[0] == 503 else None)(http_get(gateway.http + "/healthz")),
                    what="503 while the broker is stopped")
                self.assertIn(b"nothing from", body)
            finally:
                broker.signal(signal.SIGCONT)
            gateway.wait_linked()

            broker.kill()
            status, body = wait_until(
                lambda: (lambda r: r if r[0] == 503 else None)(http_get(gateway.http + "/healthz")),
                what="503 after the broker was killed")
            self.assertIn(b"no broker link", body)
            self.assertEqual(link_up(gateway), 0.0)
            wait_until(lambda: "broker link lost" in gateway.output(), what="the link-lost log line")
        finally:
            gateway.stop()
            if broker:
                broker.stop()


if __name__ == "__main__":
    unittest.main()
