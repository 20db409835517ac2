"""ws_client.py -- test helper: authenticate to a Herald gateway, print each frame as a JSON line.

Usage: python3 ws_client.py URL TOKEN [RESUME_JSON [FRAMES_JSON]]: RESUME_JSON
may be null; FRAMES_JSON is a list of frames sent after the welcome (e.g.
subscribes). Exits when the gateway
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
    if len(sys.argv) > 3 and json.loads(sys.argv[3]) is not None:
        auth["resume"] = json.loads(sys.argv[3])
    frames = json.loads(sys.argv[4]) if len(sys.argv) > 4 else []
    async with websockets.connect(url, open_timeout=5, ping_interval=None, max_size=2 ** 22) as ws:
        await ws.send(json.dumps(auth))
        try:
            async for msg in ws:
                print(msg if isinstance(msg, str) else msg.decode(), flush=True)
                if frames and json.loads(msg).get("type") == "welcome":
                    for frame in frames:
                        await ws.send(json.dumps(frame))
                    frames = []
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
