// herald.test.mjs -- herald.js against a real broker and gateway (node --test, ws as WebSocket).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import herald, { connect } from '../../clients/js/herald.js';
import { startBroker, startGateway, startRelay, makeToken, waitUntil, record, freePort } from './lib/harness.mjs';

let broker;
let gateway;
let n = 0;
const fresh = (p) => `${p}-${process.pid}-${++n}`;

// A WebSocket constructor that counts how often herald.js opened a socket.
function countingWebSocket() {
  class Counting extends WebSocket {
    constructor(...args) {
      super(...args);
      Counting.count += 1;
    }
  }
  Counting.count = 0;
  return Counting;
}

// Fast backoff so tests do not wait on the production schedule.
const FAST = { backoffBase: 20, backoffCap: 200, storage: null };

before(async () => {
  broker = await startBroker();
  gateway = await startGateway(broker);
});

after(async () => {
  if (gateway) await gateway.stop();
  if (broker) await broker.stop();
});

test('module exports connect both named and as the default export', () => {
  assert.equal(typeof connect, 'function', 'named export connect exists');
  assert.equal(herald.connect, connect, 'default export {connect} is the same function');
});

test('events arrive with data and meta after connect', async () => {
  const user = fresh('carol');
  const h = connect(gateway.url, { token: makeToken(user), WebSocket, ...FAST });
  const log = record(h, ['bid']);
  try {
    await waitUntil(() => log.connect.length === 1, 'connect');
    const c = log.connect[0];
    assert.equal(c.user, user, "connect reports the token's user");
    assert.equal(c.resumed, false, 'a first connection does not resume');
    assert.equal(c.recovered, false, 'a first connection has nothing to recover');
    assert.match(c.epoch, /^[0-9a-f]{16}$/, 'the epoch is 16 hex digits');
    assert.equal(await broker.post('bid', user, { amount: 120, vendor: 'v1' }), 200, 'the broker sees the user online');
    await waitUntil(() => log.events.length === 1, 'bid event');
    const { data, meta } = log.events[0];
    assert.deepEqual(data, { amount: 120, vendor: 'v1' }, 'the handler gets the JSON data');
    assert.equal(meta.event, 'bid', 'meta names the event');
    assert.ok(meta.offset > c.offset - 1, 'meta carries the broker offset');
    assert.equal(h.offset, meta.offset, 'the connection remembers the last offset it saw');
  } finally {
    h.close();
  }
});

test('reconnects after the gateway is killed and restarted, resuming without loss or duplicates', async () => {
  const user = fresh('vera');
  const h = connect(gateway.url, { token: makeToken(user), WebSocket, ...FAST });
  const log = record(h, ['n']);
  try {
    await waitUntil(() => log.connect.length === 1, 'first connect');
    await broker.post('n', user, 1);
    await waitUntil(() => log.events.length === 1, 'event 1');

    await gateway.kill();
    await waitUntil(() => log.disconnect.length >= 1, 'disconnect after the gateway died');
    assert.equal(log.disconnect[0].reconnect, true, 'an abnormal close schedules a reconnect');
    // Sent while the user has no connection: kept in the broker's history.
    assert.equal(await broker.post('n', user, 2), 404, 'the user is offline while the gateway is down');
    assert.equal(await broker.post('n', user, 3), 404, 'still offline');

    gateway = await startGateway(broker, { port: gateway.port });
    await waitUntil(() => log.connect.length === 2, 'reconnect to the restarted gateway', 20000);
    const c = log.connect[1];
    assert.equal(c.resumed, true, 'the reconnect sent resume {epoch, offset}');
    assert.equal(c.recovered, true, 'the gateway replayed everything missed');
    await waitUntil(() => log.events.length === 3, 'missed events replayed');
    assert.equal(await broker.post('n', user, 4), 200, 'online again');
    await waitUntil(() => log.events.length === 4, 'live event after resume');
    assert.deepEqual(log.events.map((e) => e.data), [1, 2, 3, 4], 'every event once, in order, across the outage');
  } finally {
    h.close();
  }
});

test('after a gateway shutdown (1001) a token function is called again for the reconnect', async () => {
  const user = fresh('tess');
  let calls = 0;
  const token = async () => {
    calls += 1;
    return makeToken(user, { ttl: 60 + calls });
  };
  const h = connect(gateway.url, { token, WebSocket, ...FAST });
  const log = record(h, ['x']);
  try {
    await waitUntil(() => log.connect.length === 1, 'connect');
    assert.equal(calls, 1, 'the token function is called for the first connection');
    await gateway.stop(); // SIGTERM: the gateway closes its connections with 1001
    await waitUntil(() => log.disconnect.length >= 1, 'disconnect on gateway shutdown');
    assert.equal(log.disconnect[0].code, 1001, 'a gateway shutting down closes with 1001');
    assert.equal(log.disconnect[0].reconnect, true, '1001 means reconnect elsewhere');
    gateway = await startGateway(broker, { port: gateway.port });
    await waitUntil(() => log.connect.length === 2, 'reconnect', 20000);
    assert.ok(calls >= 2, `the token function was called again for the reconnect (${calls} calls)`);
  } finally {
    h.close();
  }
});

test('an invalid token string stops reconnecting; a token function keeps trying', async () => {
  const Counting = countingWebSocket();
  const bad = connect(gateway.url, { token: makeToken('eve', { secret: 'wrong' }), WebSocket: Counting, ...FAST });
  const log = record(bad, []);
  await waitUntil(() => log.disconnect.length === 1, 'close after the bad token');
  assert.equal(log.disconnect[0].code, 4001, 'the gateway closed with 4001');
  assert.equal(log.disconnect[0].reconnect, false, 'a fixed invalid token is not retried');
  assert.equal(bad.state, 'disconnected', 'the connection is closed for good');
  assert.ok(log.error.length >= 1, "an 'error' explains why it stopped");

  let calls = 0;
  const fn = connect(gateway.url, {
    token: () => { calls += 1; return makeToken('eve', { secret: 'wrong' }); }, WebSocket, ...FAST,
  });
  const log2 = record(fn, []);
  try {
    await waitUntil(() => log2.disconnect.length >= 2, 'two refused attempts');
    assert.equal(log2.disconnect[0].reconnect, true, 'with a token function, 4001 is retried with a new token');
    assert.ok(calls >= 2, 'and the function was asked again');
  } finally {
    fn.close();
  }
  assert.equal(Counting.count, 1, 'the fixed bad token opened exactly one socket');
});

test('an expired token: a string stops with 4002, a function fetches a fresh one and connects', async () => {
  const user = fresh('exp');
  const fixed = connect(gateway.url, { token: makeToken(user, { ttl: -10 }), WebSocket, ...FAST });
  const flog = record(fixed, []);
  await waitUntil(() => flog.disconnect.length === 1, 'close for the expired token');
  assert.equal(flog.disconnect[0].code, 4002, 'the gateway closed with 4002 (expired)');
  assert.equal(flog.disconnect[0].reconnect, false, 'an expired fixed token is not retried');

  let calls = 0;
  const h = connect(gateway.url, {
    token: () => (++calls === 1 ? makeToken(user, { ttl: -10 }) : makeToken(user)), WebSocket, ...FAST,
  });
  const log = record(h, []);
  try {
    await waitUntil(() => log.connect.length === 1, 'connect with the refreshed token');
    assert.equal(log.disconnect[0].code, 4002, 'the first, expired token was refused');
    assert.equal(calls, 2, 'the function was called once more and its fresh token accepted');
  } finally {
    h.close();
  }
});

test('close() stops reconnecting, also while a reconnect is pending', async () => {
  const Counting = countingWebSocket();
  const user = fresh('cleo');
  const h = connect(gateway.url, { token: makeToken(user), WebSocket: Counting, backoffBase: 500, backoffCap: 500, storage: null });
  const log = record(h, []);
  await waitUntil(() => log.connect.length === 1, 'connect');
  await gateway.kill();
  await waitUntil(() => log.disconnect.length >= 1, 'disconnect');
  h.close();
  const opened = Counting.count;
  gateway = await startGateway(broker, { port: gateway.port });
  // A second, independent client connecting proves the gateway is back and
  // time has passed beyond the first client's 500 ms backoff ceiling.
  const probeUser = fresh('probe');
  const probe = connect(gateway.url, { token: makeToken(probeUser), WebSocket, ...FAST });
  const plog = record(probe, []);
  await waitUntil(() => plog.connect.length === 1, 'probe connect');
  await waitUntil(async () => (await broker.post('x', probeUser, 0)) === 200, 'probe online');
  await new Promise((r) => setTimeout(r, 600)); // beyond the backoff ceiling; proves an absence, asserts no timing
  probe.close();
  assert.equal(Counting.count, opened, 'no socket was opened after close()');
  assert.equal(h.state, 'disconnected', 'the connection reports disconnected');
  assert.equal(await broker.post('x', user, 0), 404, 'the closed client is not online anywhere');
});

test('a stored position resumes a new connection (page reload)', async () => {
  const user = fresh('rita');
  const mem = new Map();
  const storage = { getItem: (k) => (mem.has(k) ? mem.get(k) : null), setItem: (k, v) => mem.set(k, v) };
  const first = connect(gateway.url, { token: makeToken(user), WebSocket, ...FAST, storage });
  const log1 = record(first, ['m']);
  await waitUntil(() => log1.connect.length === 1, 'first page connects');
  await broker.post('m', user, 'a');
  await waitUntil(() => log1.events.length === 1, 'first page gets a');
  first.close();
  await waitUntil(async () => (await broker.post('probe', user, 0)) === 404, 'no page of the user open');
  assert.equal(await broker.post('m', user, 'b'), 404, 'b is sent while no page is open');

  const second = connect(gateway.url, { token: makeToken(user), WebSocket, ...FAST, storage });
  const log2 = record(second, ['m']);
  try {
    await waitUntil(() => log2.connect.length === 1, 'reloaded page connects');
    assert.equal(log2.connect[0].resumed, true, 'the reloaded page resumed from storage');
    assert.equal(log2.connect[0].recovered, true, 'nothing was lost');
    await waitUntil(() => log2.events.length >= 1, 'missed event');
    assert.deepEqual(log2.events.map((e) => e.data), ['b'], 'only the missed event is replayed');
  } finally {
    second.close();
  }
});

test('a broker restart gives a second welcome: connect with recovered false', async () => {
  const user = fresh('bob');
  const h = connect(gateway.url, { token: makeToken(user), WebSocket, ...FAST });
  const log = record(h, ['after']);
  try {
    await waitUntil(() => log.connect.length === 1, 'connect');
    const oldEpoch = log.connect[0].epoch;
    broker = await (async () => { const ports = broker.ports; await broker.stop(); return startBroker(ports); })();
    await waitUntil(() => log.connect.length >= 2, 'second connect after the broker restart', 20000);
    const c = log.connect[log.connect.length - 1];
    assert.notEqual(c.epoch, oldEpoch, 'the new broker has a new epoch');
    assert.equal(c.recovered, false, 'events of the old epoch cannot be recovered');
    await waitUntil(async () => (await broker.post('after', user, 1)) === 200, 'user online on the new broker');
    await waitUntil(() => log.events.length >= 1, 'event from the new broker');
    assert.equal(log.events[0].data, 1, 'events of the new epoch arrive (offsets restarted)');
  } finally {
    h.close();
  }
});

test('an unreachable gateway keeps retrying with backoff until close()', async () => {
  const Counting = countingWebSocket();
  const port = await freePort();
  const h = connect(`ws://127.0.0.1:${port}/ws`, { token: makeToken('nobody'), WebSocket: Counting, ...FAST });
  const log = record(h, []);
  await waitUntil(() => log.disconnect.length >= 3, 'three failed attempts');
  h.close();
  assert.ok(log.disconnect.every((d) => d.reconnect === true), 'every failure schedules another try');
  assert.ok(log.disconnect.every((d) => d.delay >= 0 && d.delay <= 200), 'delays stay within [0, cap]');
  assert.equal(log.connect.length, 0, 'no connect was reported');
});

// Before the fix herald.js called ws.close() on a dead link and reconnected
// only when the close event came, ~30 s later in Node: the 8 s deadlines
// below fail then.
test('a link that goes silent (half-open) is dropped at once with 4101 and the client resumes elsewhere', async () => {
  const user = fresh('halfopen');
  const relay = await startRelay(gateway.port);
  const h = connect(relay.url, { token: makeToken(user), WebSocket, ...FAST, pingInterval: 300 });
  const log = record(h, ['n']);
  try {
    await waitUntil(() => log.connect.length === 1, 'first connect');
    await broker.post('n', user, 1);
    await waitUntil(() => log.events.length === 1, 'event 1');
    relay.freeze();
    await waitUntil(() => log.disconnect.length >= 1, 'disconnect after the link froze', 8000);
    assert.equal(log.disconnect[0].code, 4101, "the client reports its own code: 4101 'ping timeout'");
    assert.equal(log.disconnect[0].reason, 'ping timeout', 'with its reason');
    assert.equal(log.disconnect[0].reconnect, true, 'and reconnects');
    await waitUntil(() => log.connect.length === 2, 'reconnect through a fresh connection', 8000);
    assert.equal(log.connect[1].resumed, true, 'the reconnect resumes from the last event');
    // the frozen connection still holds the user at the gateway, so 200 either way
    await broker.post('n', user, 2);
    await waitUntil(() => log.events.length === 2, 'event 2 on the new connection');
    assert.deepEqual(log.events.map((e) => e.data), [1, 2], 'nothing lost, nothing twice');
    assert.equal(log.disconnect.length, 1, 'one disconnect: the dropped socket reports nothing later');
  } finally {
    h.close();
    await relay.close();
  }
});

test('a gateway that accepts but never welcomes is dropped with 4100 after welcomeTimeout', async () => {
  const relay = await startRelay(gateway.port, { frozen: true });
  const h = connect(relay.url, { token: makeToken(fresh('nowelcome')), WebSocket, ...FAST, welcomeTimeout: 300 });
  const log = record(h, []);
  try {
    await waitUntil(() => relay.accepted() >= 1, 'the relay accepted a connection', 8000);
    await waitUntil(() => log.disconnect.length >= 1, "disconnect after no welcome", 8000);
    assert.equal(log.disconnect[0].code, 4100, "the client reports its own code: 4100 'no welcome'");
    assert.equal(log.disconnect[0].reconnect, true, 'and keeps trying');
    await waitUntil(() => log.disconnect.length >= 2, 'a second attempt also times out', 8000);
    assert.equal(log.connect.length, 0, 'never connected');
  } finally {
    h.close();
    await relay.close();
  }
});

// The gateway closes at exp (no leeway here) unless refreshed: with a token
// function herald.js refreshes on the same socket before then.
test('a token function refreshes the token before exp: one socket outlives several tokens', async () => {
  const strict = await startGateway(broker, { args: ['--token-leeway', '0'] });
  const user = fresh('refresh');
  let calls = 0;
  const token = async () => { calls += 1; return makeToken(user, { ttl: 3 }); };
  const WS = countingWebSocket();
  const h = connect(strict.url, { token, WebSocket: WS, ...FAST, refreshBefore: 1500 });
  const log = record(h, ['n']);
  try {
    await waitUntil(() => log.connect.length === 1, 'connect');
    const firstExp = h.tokenExp;
    assert.equal(typeof firstExp, 'number', 'the token exp is known');
    await waitUntil(() => Date.now() > firstExp * 1000 + 2500, 'two seconds past the first token\'s exp', 10000);
    assert.equal(log.disconnect.length, 0, 'no disconnect: the gateway got a refreshed token in time');
    assert.ok(h.tokenExp > firstExp, 'the gateway acknowledged a later exp');
    assert.ok(calls >= 2, 'the token function was called for the refresh');
    assert.equal(WS.count, 1, 'all on one socket');
    assert.equal(await broker.post('n', user, 7), 200, 'still online');
    await waitUntil(() => log.events.length === 1, 'an event after the refresh');
  } finally {
    h.close();
    await strict.stop();
  }
});

test('a string token is not refreshed: closed with 4002 at exp and not retried', async () => {
  const strict = await startGateway(broker, { args: ['--token-leeway', '0'] });
  const h = connect(strict.url, { token: makeToken(fresh('fixed'), { ttl: 2 }), WebSocket, ...FAST });
  const log = record(h, []);
  try {
    await waitUntil(() => log.connect.length === 1, 'connect');
    await waitUntil(() => log.disconnect.length === 1, 'closed at exp', 10000);
    assert.equal(log.disconnect[0].code, 4002, 'the gateway closes with 4002 at exp');
    assert.equal(log.disconnect[0].reconnect, false, 'a fixed token cannot be renewed: no retry');
  } finally {
    h.close();
    await strict.stop();
  }
});

test('a backend disconnect (4003) is reported and not retried, even with a token function', async () => {
  const user = fresh('kicked');
  let calls = 0;
  const token = async () => { calls += 1; return makeToken(user); };
  const h = connect(gateway.url, { token, WebSocket, ...FAST });
  const log = record(h, []);
  try {
    await waitUntil(() => log.connect.length === 1, 'connect');
    await waitUntil(async () => (await broker.controlRequest({ op: 'presence', users: [user] })).online[user], 'online');
    const reply = await broker.controlRequest({ op: 'disconnect', user });
    assert.deepEqual(reply, { user, online: true, sent: true }, 'the broker published the disconnect');
    await waitUntil(() => log.disconnect.length === 1, 'disconnect event');
    assert.equal(log.disconnect[0].code, 4003, 'the app sees code 4003');
    assert.equal(log.disconnect[0].reconnect, false, 'and that herald.js will not reconnect');
    assert.equal(h.state, 'disconnected', 'the connection is closed for good');
    assert.ok(log.error.some((e) => /4003/.test(e.message)), 'an error names the reason reconnecting stopped');
    assert.equal(calls, 1, 'no new token was fetched for a reconnect');
  } finally {
    h.close();
  }
});

// --- channels (h.subscribe) and broadcasts ----------------------------------

const channelToken = (user, channels) => makeToken(user, { claims: { channels } });

test('subscribe: channel events reach the handler with meta.channel; the user position is apart', async () => {
  const user = fresh('chan');
  const room = fresh('room');
  const h = connect(gateway.url, { token: channelToken(user, [room]), WebSocket, ...FAST });
  const log = record(h, ['own']);
  const got = [];
  const subscribed = [];
  try {
    await waitUntil(() => log.connect.length === 1, 'connect');
    const welcomeOffset = h.offset;
    const sub = h.subscribe(room, (event, data, meta) => got.push({ event, data, meta }),
      { onSubscribed: (info) => subscribed.push(info) });
    assert.equal(sub.channel, room, 'the handle names its channel');
    await waitUntil(() => subscribed.length === 1, 'subscribed');
    assert.equal(subscribed[0].recovered, false, 'a first subscribe has nothing to recover');
    assert.equal(subscribed[0].resumed, false, 'and sent no position');
    await broker.send({ event: 'bid', channel: room, data: { amount: 7 }, id: 'b-1' });
    await waitUntil(() => got.length === 1, 'channel event');
    assert.deepEqual(got[0].data, { amount: 7 }, 'the handler gets the data');
    assert.equal(got[0].event, 'bid', 'and the event name');
    assert.equal(got[0].meta.channel, room, 'meta names the channel');
    assert.equal(got[0].meta.id, 'b-1', 'meta carries the id');
    assert.equal(h.offset, welcomeOffset, 'a channel event does not move the user position');
    assert.equal(log.events.length, 0, 'channel events do not reach on(event) handlers');
    await broker.send({ event: 'own', broadcast: true, data: 'all' });
    await waitUntil(() => log.events.length === 1, 'broadcast through on()');
    assert.equal(log.events[0].data, 'all', 'a broadcast arrives through the normal on(event) handlers');
    assert.ok(h.offset > welcomeOffset, 'and moves the user position');
    sub.unsubscribe();
    await broker.send({ event: 'bid', channel: room, data: { amount: 8 } });
    await broker.post('own', user, 'after');
    await waitUntil(() => log.events.length === 2, 'a user event after the unsubscribe');
    assert.equal(got.length, 1, 'nothing of the channel arrives after unsubscribe()');
  } finally {
    h.close();
  }
});

test('subscribe: after a reconnect every channel is subscribed again with its resume', async () => {
  const user = fresh('resub');
  const room = fresh('room');
  const h = connect(gateway.url, { token: () => channelToken(user, [room]), WebSocket, ...FAST });
  const log = record(h, []);
  const got = [];
  const subscribed = [];
  try {
    await waitUntil(() => log.connect.length === 1, 'connect');
    h.subscribe(room, (event, data) => got.push(data), { onSubscribed: (info) => subscribed.push(info) });
    await waitUntil(() => subscribed.length === 1, 'subscribed');
    await broker.send({ event: 'm', channel: room, data: 1 });
    await waitUntil(() => got.length === 1, 'event 1');

    await gateway.kill();
    await waitUntil(() => log.disconnect.length >= 1, 'disconnect after the gateway died');
    // published while no gateway follows the channel: kept in its history
    await broker.send({ event: 'm', channel: room, data: 2 });
    await broker.send({ event: 'm', channel: room, data: 3 });

    gateway = await startGateway(broker, { port: gateway.port });
    await waitUntil(() => subscribed.length === 2, 're-subscribed after the reconnect', 20000);
    assert.equal(subscribed[1].resumed, true, 'the re-subscribe sent resume {epoch, offset}');
    assert.equal(subscribed[1].recovered, true, 'the gateway replayed everything the channel missed');
    await waitUntil(() => got.length === 3, 'missed channel events replayed');
    await broker.send({ event: 'm', channel: room, data: 4 });
    await waitUntil(() => got.length === 4, 'live channel event');
    assert.deepEqual(got, [1, 2, 3, 4], 'every channel event once, in order, across the outage');
  } finally {
    h.close();
  }
});

test('subscribe: a refused channel calls onError; a subscription token opens it', async () => {
  const user = fresh('refused');
  const h = connect(gateway.url, { token: makeToken(user), WebSocket, ...FAST });
  const log = record(h, []);
  const errors = [];
  const subscribed = [];
  try {
    await waitUntil(() => log.connect.length === 1, 'connect');
    h.subscribe('secret', () => {}, { onError: (err) => errors.push(err) });
    await waitUntil(() => errors.length === 1, 'refusal');
    assert.equal(errors[0].reason, 'forbidden', 'no claim and no token: forbidden');
    assert.equal(errors[0].channel, 'secret', 'the error names the channel');
    const grant = makeToken(user, { claims: { channel: 'secret' } });
    h.subscribe('secret', () => {}, { token: async () => grant, onSubscribed: (i) => subscribed.push(i) });
    await waitUntil(() => subscribed.length === 1, 'subscribed with a subscription token');
    assert.equal(subscribed[0].channel, 'secret', 'the token function opened the channel');
  } finally {
    h.close();
  }
});
