"""test_testing.py -- herald.testing's Recorder: the real checks, nothing sent, assertions that say what was sent."""
import unittest

from support import SECRET, herald
from herald.testing import Recorder, recording
from test_token import decode


class RecorderTest(unittest.TestCase):
    def test_recording_the_module_client(self):
        before = herald.client()
        with recording(online=["carol"], secret=SECRET) as sent:
            self.assertTrue(herald.notify(["carol", "dave"], "bid", {"amount": 120}, id="b-1"))
            herald.publish("order:42", "bid", {"amount": 120})
            herald.broadcast("banner", "hi")
            self.assertEqual(herald.presence(["carol", "erin"]), {"carol": True, "erin": False})
            self.assertEqual(herald.notify("carol", "x", None, confirm=True)["offset"], 4)
            decode(herald.token("carol"))    # a real token, signed with the given secret
        self.assertIs(herald.client(), before, "the module's client is put back")
        self.assertEqual(sent.assert_notified("dave", "bid", data={"amount": 120}, id="b-1")["to"],
                         ["carol", "dave"])
        sent.assert_published("order:42", "bid")
        sent.assert_broadcast("banner", data="hi")
        sent.assert_not_notified("erin")
        with self.assertRaises(AssertionError) as caught:
            sent.assert_notified("carol", "bid", data={"amount": 99})
        self.assertIn("'amount': 120", str(caught.exception), "the failure lists what was sent")
        with self.assertRaises(AssertionError):
            sent.assert_not_notified("carol")

    def test_real_rules_apply(self):
        rec = Recorder()
        with self.assertRaises(ValueError):
            rec.notify("carol", "no spaces")
        with self.assertRaises(ValueError):
            rec.notify("carol", "x", "z" * 70000)
        with self.assertRaises(TypeError):
            rec.notify("carol", "x", object())
        self.assertEqual(rec.sent, [], "nothing refused was recorded")
        self.assertEqual(rec.disconnect("carol"), {"online": False, "sent": True})
        self.assertEqual(rec.disconnected, ["carol"])


if __name__ == "__main__":
    unittest.main()
