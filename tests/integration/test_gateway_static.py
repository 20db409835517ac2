"""The gateway serves the browser client at /herald.js, importable cross-origin."""
import unittest
import urllib.request

from harness import Broker, Gateway


class HeraldJsTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker()
        self.gateway = Gateway(self.broker)

    def tearDown(self):
        self.gateway.stop()
        self.broker.stop()

    def test_herald_js_is_served_as_a_module_any_origin_may_import(self):
        with urllib.request.urlopen(self.gateway.http + "/herald.js", timeout=5) as r:
            body = r.read().decode()
            self.assertEqual(r.status, 200, "GET /herald.js answers 200")
            self.assertIn("javascript", r.headers["Content-Type"], "served as JavaScript")
            self.assertEqual(r.headers["Access-Control-Allow-Origin"], "*",
                             "pages on the app's origin may import the module from the gateway")
        with open("../../clients/js/herald.js") as f:
            self.assertEqual(body, f.read(), "the built-in copy is clients/js/herald.js byte for byte")
        self.assertIn("export", body, "it is an ES module")


if __name__ == "__main__":
    unittest.main()
