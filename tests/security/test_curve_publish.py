"""test_curve_publish.py -- with CURVE, only the producer role may publish on control.

A broker with --curve-cert/--curve-allow and certificates of each role: the
control op publish from a gateway's or a worker's key is answered
{"error":"forbidden"} (counted in herald_broker_confirms_refused_total and
herald_broker_control_forbidden_total) and routes nothing; a producer's is
confirmed with its offset.
"""
import os
import shutil
import tempfile
import unittest

from harness import Broker, Control, keygen, metric, wait_until


class CurvePublish(unittest.TestCase):
    def test_only_producers_publish(self):
        d = tempfile.mkdtemp(prefix="herald-curve-pub-")
        allow = os.path.join(d, "allow")
        os.mkdir(allow)
        server = keygen(d, "broker")
        certs = {}
        for name, role in (("gw", "gateway"), ("prod", "producer"), ("work", "worker")):
            certs[name] = keygen(d, name, role)
            shutil.copy(certs[name], allow)
        broker = Broker(curve_cert=server, curve_allow=allow)
        try:
            req = {"op": "publish", "event": "bid", "to": "alice", "idempotency_key": "c-1"}
            gw = Control(broker, curve=(certs["gw"], server))
            self.assertEqual(gw.request(req), {"error": "forbidden"})
            gw.close()
            text = broker.metrics()
            self.assertEqual(metric(text, 'herald_broker_confirms_refused_total{reason="forbidden"}'), 1)
            self.assertEqual(metric(text, "herald_broker_control_forbidden_total"), 1)
            self.assertEqual(metric(text, "herald_broker_events_accepted_total"), 0,
                             "a refused publish routes nothing (nor claims its key)")
            prod = Control(broker, curve=(certs["prod"], server))
            ok = prod.request(req)
            self.assertEqual(set(ok), {"offset", "epoch"}, ok)
            self.assertEqual(ok["offset"], 1)
            prod.close()
            # a worker's key is not admitted on control at all (ZAP): no answer
            work = Control(broker, curve=(certs["work"], server), timeout_ms=500)
            with self.assertRaises(AssertionError):
                work.request(req)
            work.close()
            wait_until(lambda: metric(broker.metrics(),
                                      'herald_broker_auth_refused_total{socket="control",reason="role"}') >= 1,
                       what="the worker refused by ZAP")
        finally:
            broker.stop()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
