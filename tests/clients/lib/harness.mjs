// harness.mjs -- start real herald-broker / herald-gateway on free ports for Node tests.
//
// The Node twin of tests/integration/harness.py: binaries from $HERALD_BIN,
// logs to files, waits poll a condition with a deadline, stop() is idempotent.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { openSync, readFileSync, closeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..', '..');
export const BIN = process.env.HERALD_BIN || path.join(ROOT, 'build', 'bin');
export const SECRET = 'test-secret-not-for-production';

// A TCP port nobody listens on right now (loopback).
const handedOut = new Set();

// A loopback port nobody listens on, below the kernel's ephemeral range
// (32768+), so no outgoing connection can take it before our process binds.
export async function freePort() {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (handedOut.has(port)) continue;
    const free = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) {
      handedOut.add(port);
      return port;
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls cond() (sync or async) until truthy; throws after timeoutMs.
export async function waitUntil(cond, what, timeoutMs = 10000, intervalMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export async function httpStatus(url) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return r.status;
  } catch (e) {
    return 0;
  }
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

// An HS256 JWT minted with node:crypto (independent of the code under test).
export function makeToken(user, { secret = SECRET, ttl = 300, claims = {} } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ sub: user, iat: now, exp: now + ttl, ...claims }));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

// A child process with its output in a log file.
export class Child {
  constructor(argv, { env = {}, name = 'proc' } = {}) {
    this.name = name;
    this.logPath = `/tmp/herald-nodetest-${name}-${process.pid}-${Math.random().toString(36).slice(2)}.log`;
    const fd = openSync(this.logPath, 'w');
    this.proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    closeSync(fd);
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, sig) => resolve({ code, sig })));
    this.done = false;
    this.exited.then(() => { this.done = true; });
    Child.all.add(this);
  }

  alive() { return !this.done; }

  output() {
    try { return readFileSync(this.logPath, 'utf8'); } catch (e) { return ''; }
  }

  // SIGTERM, then SIGKILL after timeoutMs.
  async stop(timeoutMs = 5000) {
    Child.all.delete(this);
    if (this.done) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => { if (!this.done) this.proc.kill('SIGKILL'); }, timeoutMs);
    await this.exited;
    clearTimeout(t);
  }

  async kill() {
    Child.all.delete(this);
    if (this.done) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}
Child.all = new Set();

// Last resort: a test that throws still leaves no process behind.
process.on('exit', () => { for (const c of Child.all) { try { c.proc.kill('SIGKILL'); } catch (e) { /* gone */ } } });

export async function startBroker(ports) {
  const p = ports || {};
  for (const k of ['ingest', 'publish', 'control', 'undelivered', 'http']) p[k] = p[k] || await freePort();
  const b = {
    ports: p,
    ingest: `tcp://127.0.0.1:${p.ingest}`,
    publish: `tcp://127.0.0.1:${p.publish}`,
    control: `tcp://127.0.0.1:${p.control}`,
    undelivered: `tcp://127.0.0.1:${p.undelivered}`,
    http: `http://127.0.0.1:${p.http}`,
  };
  b.child = new Child([path.join(BIN, 'herald-broker'), '--ingest', b.ingest, '--publish', b.publish,
    '--control', b.control, '--undelivered', b.undelivered, '--http', `127.0.0.1:${p.http}`], { name: 'broker' });
  await waitUntil(async () => !b.child.alive() || await httpStatus(`${b.http}/healthz`) === 200, 'broker /healthz');
  if (!b.child.alive()) throw new Error(`broker exited at start:\n${b.child.output()}`);
  // One control request (an object) through python3's zmq + msgpack (Node
  // has no ZeroMQ here); resolves to the broker's reply.
  b.controlRequest = (req) => new Promise((resolve, reject) => {
    const script = 'import sys,json,zmq,msgpack\n' +
      's=zmq.Context().socket(zmq.REQ); s.setsockopt(zmq.LINGER,0); s.setsockopt(zmq.RCVTIMEO,5000)\n' +
      's.connect(sys.argv[1]); s.send(msgpack.packb(json.loads(sys.argv[2])))\n' +
      'print(json.dumps(msgpack.unpackb(s.recv(), raw=False)))\n';
    const p = spawn('/usr/bin/python3', ['-c', script, b.control, JSON.stringify(req)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`control request failed: ${err}`))));
  });
  // Publishes one envelope (a channel event, a broadcast, ...) through
  // control's confirmed publish; resolves to the broker's reply.
  b.send = (envelope) => b.controlRequest({ op: 'publish', ...envelope });
  b.stop = () => b.child.stop();
  b.kill = () => b.child.kill();
  // Publishes one event through the broker's HTTP API; resolves to the status.
  b.post = async (event, to, data) => {
    const r = await fetch(`${b.http}/message/${encodeURIComponent(event)}/${encodeURIComponent(to)}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(data),
    });
    await r.arrayBuffer();
    return r.status;
  };
  return b;
}

export async function startGateway(broker, { port, secret = SECRET, args = [] } = {}) {
  const g = { port: port || await freePort() };
  g.url = `ws://127.0.0.1:${g.port}/ws`;
  g.http = `http://127.0.0.1:${g.port}`;
  g.child = new Child([path.join(BIN, 'herald-gateway'), '--listen', `127.0.0.1:${g.port}`,
    '--broker', broker.publish, '--control', broker.control, ...args], { env: { HERALD_SECRET: secret }, name: 'gateway' });
  // 503 until the broker link is live: wait for HTTP, not for the link
  await waitUntil(async () => !g.child.alive() || [200, 503].includes(await httpStatus(`${g.http}/healthz`)), 'gateway /healthz');
  if (!g.child.alive()) throw new Error(`gateway exited at start:\n${g.child.output()}`);
  g.stop = () => g.child.stop();
  g.kill = () => g.child.kill();
  return g;
}

// Collects what a herald.js connection emits, for assertions with waitUntil.
export function record(h, names) {
  const log = { connect: [], disconnect: [], error: [], events: [] };
  h.on('connect', (info) => log.connect.push(info));
  h.on('disconnect', (info) => log.disconnect.push(info));
  h.on('error', (err) => log.error.push(err));
  for (const n of names) h.on(n, (data, meta) => log.events.push({ data, meta }));
  return log;
}

// A loopback TCP relay in front of targetPort that can leave the connections
// it carries half-open, as a Wi-Fi switch or a phone out of coverage does:
// freeze() stops forwarding both ways and closes nothing. With
// { frozen: true } every new connection is accepted and then never
// forwarded (a gateway that accepts but never answers). close() ends it all.
export async function startRelay(targetPort, { frozen = false } = {}) {
  const port = await freePort();
  const live = new Set();
  const all = new Set();
  const srv = net.createServer({ pauseOnConnect: true }, (c) => {
    const u = net.connect(targetPort, '127.0.0.1', () => {
      if (r.frozen) return;        // connected upstream, but nothing flows
      c.pipe(u); u.pipe(c); c.resume();
    });
    const pair = { c, u };
    live.add(pair); all.add(pair);
    c.on('error', () => {}); u.on('error', () => {});
    c.on('close', () => { u.destroy(); live.delete(pair); all.delete(pair); });
    u.on('close', () => { c.destroy(); live.delete(pair); all.delete(pair); });
  });
  await new Promise((resolve) => srv.listen(port, '127.0.0.1', resolve));
  const r = {
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    frozen,
    accepted: () => all.size,
    freeze() {
      for (const { c, u } of live) { c.unpipe(u); u.unpipe(c); c.pause(); u.pause(); }
      live.clear();               // frozen for good; later connections are new pairs
    },
    async close() {
      for (const { c, u } of all) { c.destroy(); u.destroy(); }
      await new Promise((resolve) => srv.close(resolve));
    },
  };
  return r;
}
