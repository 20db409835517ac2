"""gateway_case.py -- the setup the gateway edge tests share: a broker and
one gateway with the class's flags, started once per class, and the
refusal counter by reason."""
import unittest

from harness import Broker, Gateway, metric


class GatewayCase(unittest.TestCase):
    gateway_flags = {}      # a subclass's Gateway(...) keyword flags

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker()
        try:
            cls.gateway = Gateway(cls.broker, **cls.gateway_flags)
        except Exception:
            cls.broker.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.broker.stop()

    def refused(self, reason):
        """herald_gateway_refused_total{reason=...} now."""
        return metric(self.gateway.metrics(),
                      'herald_gateway_refused_total{reason="%s"}' % reason, exact=True)
