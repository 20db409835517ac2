// api.test.mjs -- herald.js onAny, state events, URL lists, resume keys and h.send (node --test, ws).
//
// Against a real broker and gateways, except h.send: the gateway side of
// {"type":"send"} (issue 12, helper `upstream`) is not on main yet, so a
// fake gateway in this file (ws's WebSocketServer) answers auth with a
// welcome, records the frames and refuses some sends as the contract in
// /work/wt/status/upstream.md says.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket, { WebSocketServer } from 'ws';
import { connect } from '../../clients/js/herald.js';
import { startBroker, startGateway, makeToken, waitUntil, record, freePort } from './lib/harness.mjs';

let broker;
let gateway;
let n = 0;
const fresh = (p) => `${p}-${process.pid}-${++n}`;
const FAST = { backoffBase: 20, backoffCap: 200, storage: null };

function memoryStorage() {
  const mem = new Map();
  return { mem, getItem: (k) => (mem.has(k) ? mem.get(k) : null), setItem: (k, v) => mem.set(k, v) };
}

// Everything a connection says about its state, in order.
function recordStates(h) {
  const log = { states: [], connecting: [], connected: [], disconnected: [], reconnecting: [], disconnect: [] };
  h.on('state', (s) => log.states.push(`${s.previous}>${s.state}`));
  for (const name of ['connecting', 'connected', 'disconnected', 'reconnecting', 'disconnect']) {
    h.on(name, (info) => log[name].push(info));
  }
  h.on('error', () => {});
  return log;
}

before(async () => {
  broker = await startBroker();
  gateway = await startGateway(broker);
});

after(async () => {
  if (gateway) await gateway.stop();
  if (broker) await broker.stop();
});

test('onAny gets every event of the connection with its name, reserved names included', async () => {
  const user = fresh('any');
  const h = connect(gateway.url, { token: makeToken(user), WebSocket, ...FAST });
  const any = [];
  const named = [];
  const errors = [];
  h.onAny((event, data, meta) => any.push({ event, data, offset: meta.offset }));
  h.on('bid', (data) => named.push(data));
  h.on('error', (e) => errors.push(e));
  const states = [];
  h.on('state', (s) => states.push(s.state));
  try {
    await waitUntil(() => h.state === 'connected', 'connected');
    await broker.post('bid', user, 1);
    await broker.post('no_handler_for_this', user, 2);
    await broker.send({ event: 'banner', broadcast: true, data: 3 });
    await broker.post('state', user, 4); // a producer event named like a lifecycle event
    await waitUntil(() => any.length === 4, 'four events through onAny');
    assert.deepEqual(any.map((e) => [e.event, e.data]),
      [['bid', 1], ['no_handler_for_this', 2], ['banner', 3], ['state', 4]],
      'onAny sees user events, events nobody named and broadcasts, in order, with their names');
    assert.ok(any.every((e) => typeof e.offset === 'number'), 'with their meta');
    assert.deepEqual(named, [1], 'on(name) handlers still get their own events');
    assert.deepEqual(states, ['connecting', 'connected'], "the producer event 'state' did not reach on('state')");
    assert.equal(errors.length, 0, 'a reserved name is no error when an onAny handler took it');
  } finally {
    h.close();
  }
});

test('a gateway kill: one disconnected, a reconnecting per retry, connected again', async () => {
  const user = fresh('kill');
  const h = connect(gateway.url, { token: makeToken(user), WebSocket, ...FAST });
  const log = recordStates(h);
  try {
    await waitUntil(() => log.connected.length === 1, 'connected');
    assert.equal(log.connecting.length, 1, 'connecting once, at the start');
    await gateway.kill();
    // the gateway stays down until several retries failed
    await waitUntil(() => log.reconnecting.length >= 3, 'three retries while the gateway is down');
    gateway = await startGateway(broker, { port: gateway.port });
    await waitUntil(() => log.connected.length === 2, 'connected again', 20000);
    assert.equal(log.disconnected.length, 1, 'exactly one disconnected for the lost connection');
    assert.equal(log.disconnected[0].reconnect, true, 'which says herald.js reconnects');
    assert.ok(log.disconnect.length >= 3, `the per-socket disconnect fired for each failed attempt too (${log.disconnect.length})`);
    assert.deepEqual(log.reconnecting.map((r) => r.attempt).slice(0, 3), [1, 2, 3], 'reconnecting counts the attempts');
    assert.deepEqual(log.states, ['null>connecting', 'connecting>connected', 'connected>reconnecting',
      'reconnecting>connected'], 'one state event per change, none per failed retry');
    assert.equal(log.connected[1].resumed, true, 'the reconnect resumed');
    assert.equal(h.state, 'connected', 'h.state agrees');
    h.close();
    assert.equal(log.disconnected.length, 2, 'close() of a connected connection is its one disconnected');
    assert.deepEqual(log.disconnected[1], { code: 1000, reason: 'client closed', reconnect: false, delay: 0 },
      'with code 1000 and no reconnect');
    assert.equal(log.states.at(-1), 'connected>disconnected', 'and the state is disconnected');
  } finally {
    h.close();
  }
});

test('closes by the server: 1001 reconnects after one disconnected, 4003 stops after one', async () => {
  const user = fresh('server');
  const h = connect(gateway.url, { token: () => makeToken(user), WebSocket, ...FAST });
  const log = recordStates(h);
  try {
    await waitUntil(() => log.connected.length === 1, 'connected');
    await gateway.stop(); // SIGTERM: 1001 to every connection
    await waitUntil(() => log.disconnected.length === 1, 'disconnected on the shutdown');
    assert.equal(log.disconnected[0].code, 1001, 'the gateway said 1001');
    gateway = await startGateway(broker, { port: gateway.port });
    await waitUntil(() => log.connected.length === 2, 'connected again', 20000);
    assert.equal(log.disconnected.length, 1, 'one disconnected for the 1001, whatever the retries');

    await waitUntil(async () => (await broker.controlRequest({ op: 'presence', users: [user] })).online[user], 'online');
    await broker.controlRequest({ op: 'disconnect', user });
    await waitUntil(() => h.state === 'disconnected', 'stopped after 4003');
    assert.equal(log.disconnected.length, 2, 'one more disconnected for the backend disconnect');
    assert.deepEqual([log.disconnected[1].code, log.disconnected[1].reconnect], [4003, false],
      'code 4003, no reconnect');
    assert.equal(log.states.at(-1), 'connected>disconnected', 'the state went to disconnected');
    assert.equal(log.reconnecting.filter((r) => r.code === 4003).length, 0, 'no retry after 4003');
  } finally {
    h.close();
  }
});

test('a bad token at the first connect: one disconnected (4001), never connected', async () => {
  const h = connect(gateway.url, { token: makeToken('eve', { secret: 'wrong' }), WebSocket, ...FAST });
  const log = recordStates(h);
  await waitUntil(() => h.state === 'disconnected', 'stopped');
  assert.equal(log.connected.length, 0, 'never connected');
  assert.equal(log.disconnected.length, 1, 'one disconnected tells the app it stopped');
  assert.deepEqual([log.disconnected[0].code, log.disconnected[0].reconnect], [4001, false], '4001, no reconnect');
  assert.deepEqual(log.states, ['null>connecting', 'connecting>disconnected'], 'connecting, then disconnected');
});

test('a list of gateway URLs: the next one after a kill, resuming the same position', async () => {
  const other = await startGateway(broker);
  const user = fresh('rotate');
  const storage = memoryStorage();
  const h = connect([gateway.url, other.url], { token: makeToken(user), WebSocket, ...FAST, storage });
  const log = record(h, ['n']);
  const seen = [];
  h.on('connected', (i) => seen.push(i.url));
  try {
    await waitUntil(() => log.connect.length === 1, 'connect');
    assert.equal(h.url, gateway.url, 'the first URL is tried first');
    await broker.post('n', user, 1);
    await waitUntil(() => log.events.length === 1, 'event 1');
    await gateway.kill();
    await broker.post('n', user, 2); // while no gateway holds the user: history only
    await waitUntil(() => log.connect.length === 2, 'connected to the other gateway', 20000);
    assert.equal(h.url, other.url, 'the reconnect went to the next URL of the list');
    assert.deepEqual(seen, [gateway.url, other.url], 'connected reports the URL of each gateway');
    assert.equal(log.connect[1].resumed, true, 'with the position from the first gateway');
    assert.equal(log.connect[1].recovered, true, 'and nothing lost');
    await waitUntil(() => log.events.length === 2, 'the missed event replayed');
    assert.deepEqual(log.events.map((e) => e.data), [1, 2], 'every event once, across the two URLs');
    assert.deepEqual(Array.from(storage.mem.keys()),
      [`herald.resume:${[gateway.url, other.url].sort().join(',')}:${user}`],
      'one stored position for the list, keyed by the set of its URLs and the user');
  } finally {
    h.close();
  }
  // a reload with the list in another order finds the same position
  const again = connect([other.url, gateway.url], { token: makeToken(user), WebSocket, ...FAST, storage });
  const log2 = record(again, []);
  try {
    await waitUntil(() => log2.connect.length === 1, 'reloaded page connects');
    assert.equal(log2.connect[0].resumed, true, 'the same set of URLs in another order resumes');
  } finally {
    again.close();
    await other.stop();
    gateway = await startGateway(broker, { port: gateway.port });
  }
});

test('options.app keys the stored position: two apps on one origin do not share it', async () => {
  const user = fresh('apps');
  const storage = memoryStorage();
  const one = connect(gateway.url, { token: makeToken(user), WebSocket, ...FAST, storage, app: 'shop' });
  const log1 = record(one, ['m']);
  await waitUntil(() => log1.connect.length === 1, 'app one connects');
  await broker.post('m', user, 'a');
  await waitUntil(() => log1.events.length === 1, 'app one got its event');
  one.close();
  assert.ok(storage.mem.has(`herald.resume:shop:${user}`), "app one's position is kept under its app name");

  const two = connect(gateway.url, { token: makeToken(user), WebSocket, ...FAST, storage, app: 'admin' });
  const log2 = record(two, []);
  try {
    await waitUntil(() => log2.connect.length === 1, 'app two connects');
    assert.equal(log2.connect[0].resumed, false, "app two does not resume from app one's position");
  } finally {
    two.close();
  }
  const back = connect([gateway.url, 'ws://127.0.0.1:1/ws'], { token: makeToken(user), WebSocket, ...FAST, storage, app: 'shop' });
  const log3 = record(back, []);
  try {
    await waitUntil(() => log3.connect.length === 1, 'app one again');
    assert.equal(log3.connect[0].resumed, true, 'app one resumes from its own key, whatever its URL list');
  } finally {
    back.close();
  }
});

// --- h.send, against a fake gateway (see the banner) ------------------------

async function startFakeGateway() {
  const port = await freePort();
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  const frames = [];
  wss.on('connection', (ws) => {
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw));
      frames.push(msg);
      if (msg.type === 'auth') {
        ws.send(JSON.stringify({ type: 'welcome', user: 'u', epoch: '00000000000000aa', offset: 0, recovered: false }));
      } else if (msg.type === 'send' && msg.event === 'not_allowed') {
        ws.send(JSON.stringify({ type: 'error', reason: 'upstream', event: msg.event }));
      } else if (msg.type === 'send' && msg.event === 'too_fast') {
        ws.send(JSON.stringify({ type: 'error', reason: 'rate', event: msg.event }));
      }
    });
  });
  await new Promise((r) => wss.once('listening', r));
  return { url: `ws://127.0.0.1:${port}/ws`, frames, close: () => new Promise((r) => wss.close(r)) };
}

test('h.send: the frame, not before connected, the 8 KiB bound, refusals as errors', async () => {
  const fake = await startFakeGateway();
  const h = connect(fake.url, { token: makeToken('u'), WebSocket, ...FAST });
  const errors = [];
  const log = recordStates(h);
  h.on('error', (e) => errors.push(e));
  try {
    assert.equal(h.send('typing', { order: 17 }), false, 'before the welcome nothing is sent (and nothing queued)');
    await waitUntil(() => h.state === 'connected', 'connected to the fake gateway');
    assert.equal(h.send('typing', { order: 17 }), true, 'connected: handed to the socket');
    assert.equal(h.send('seen'), true, 'data may be left out');
    await waitUntil(() => fake.frames.filter((f) => f.type === 'send').length === 2, 'two send frames');
    const sends = fake.frames.filter((f) => f.type === 'send');
    assert.deepEqual(sends[0], { type: 'send', event: 'typing', data: { order: 17 } }, 'the contract frame, exactly');
    assert.deepEqual(sends[1], { type: 'send', event: 'seen' }, 'without data: no data key (the gateway reads null)');

    assert.throws(() => h.send('bad name!', 1), TypeError, 'an event name outside [A-Za-z0-9_.:-] throws');
    assert.throws(() => h.send('', 1), TypeError, 'so does an empty one');

    assert.equal(h.send('big', 'x'.repeat(9000)), false, 'a frame over 8 KiB is not sent');
    assert.equal(errors.at(-1).reason, 'too_large', "it is an 'error' with reason too_large");
    assert.equal(errors.at(-1).event, 'big', 'naming the event');

    h.send('not_allowed', 1);
    h.send('too_fast', 1);
    await waitUntil(() => errors.length === 3, 'the two refusals');
    assert.deepEqual(errors.slice(1).map((e) => [e.reason, e.event]), [['upstream', 'not_allowed'], ['rate', 'too_fast']],
      "the gateway's refusals are errors with reason and event");
    assert.ok(fake.frames.filter((f) => f.type === 'send').every((f) => f.event !== 'big'), 'the big frame never left');
    assert.equal(log.disconnected.length, 0, 'refusals leave the connection open');
    h.close();
    assert.equal(h.send('typing', 1), false, 'after close() nothing is sent');
  } finally {
    h.close();
    await fake.close();
  }
});
