"""The gateway serves the browser client at /herald.js, importable cross-origin, with an ETag."""
import hashlib
import http.client
import unittest
import urllib.parse
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

    def test_etag_and_304(self):
        with open("../../clients/js/herald.js", "rb") as f:
            source = f.read()
        tag = '"%s"' % hashlib.sha256(source).hexdigest()[:16]
        url = urllib.parse.urlsplit(self.gateway.http)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
        try:
            conn.request("GET", "/herald.js")
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, "a plain GET gets the whole file")
            self.assertEqual(body, source, "the bytes of clients/js/herald.js")
            self.assertEqual(r.headers["ETag"], tag,
                             "the ETag is the quoted start of the file's SHA-256")
            self.assertEqual(r.headers["Cache-Control"], "no-cache",
                             "no-cache, not no-store: a browser may keep it and revalidate")

            # on the same keep-alive connection: the browser's revalidation
            conn.request("GET", "/herald.js", headers={"If-None-Match": tag})
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 304, "If-None-Match with the current tag gets 304")
            self.assertEqual(body, b"", "a 304 carries no body")
            self.assertEqual(r.headers["ETag"], tag, "the 304 repeats the ETag")
            self.assertEqual(r.headers["Access-Control-Allow-Origin"], "*",
                             "and the CORS header a cross-origin module import needs")
            self.assertIsNone(r.headers["Content-Length"], "a 304 sends no Content-Length of 0")

            conn.request("GET", "/herald.js", headers={"If-None-Match": '"old", W/' + tag})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 304, "a list naming the tag (weak form) also gets 304")

            conn.request("GET", "/herald.js", headers={"If-None-Match": '"0000000000000000"'})
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, "an old tag gets the whole file again")
            self.assertEqual(body, source, "the connection was still usable after the 304s")

            conn.request("GET", "/healthz")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.headers["Cache-Control"], "no-store", "/healthz stays no-store")
            self.assertIsNone(r.headers["ETag"], "and has no ETag")
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
