"""ws_client.py -- test helper: authenticate to a Herald gateway, print each frame as a JSON line.

Usage: python3 ws_client.py URL TOKEN [RESUME_JSON]. Exits when the gateway
closes the connection (printing {"type":"closed","code":N}) or on SIGTERM.
"""
import asyncio
import json
import signal
import sys

import websockets


async def main():
    url, token = sys.argv[1], sys.argv[2]
    auth = {"type": "auth", "token": token}
    if len(sys.argv) > 3:
        auth["resume"] = json.loads(sys.argv[3])
    async with websockets.connect(url, open_timeout=5, ping_interval=None, max_size=2 ** 22) as ws:
        await ws.send(json.dumps(auth))
        try:
            async for msg in ws:
                print(msg if isinstance(msg, str) else msg.decode(), flush=True)
        except websockets.ConnectionClosed:
            pass
        code = ws.close_code
        print(json.dumps({"type": "closed", "code": code}), flush=True)


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    asyncio.run(main())
except (KeyboardInterrupt, SystemExit):
    pass
except OSError as e:
    print(json.dumps({"type": "closed", "code": 0, "error": str(e)}), flush=True)
