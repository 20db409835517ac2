// halfopen.browser.mjs -- herald.js in Debian's chromium drops a half-open link at once.
//
// Broker, gateway and a relay that freezes its connections (no FIN, no RST,
// bytes stop). herald.js (served by the gateway, pingInterval 500 ms) must
// report 'disconnect' with its own code 4101 and be connected again well
// before Chromium's own closing-handshake timeout (about 60 s) would have
// let it: the 10 s deadlines fail when the client waits for the close event.
// Bounded: a watchdog kills everything after 90 s.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { makeToken, startBroker, startGateway, startRelay, waitUntil } from './lib/harness.mjs';

const started = [];
let context = null;
let profile = null;

async function cleanup() {
  try { if (context) await context.close(); } catch (e) { /* browser already gone */ }
  for (const s of started.reverse()) {
    try { await (s.stop || s.close).call(s); } catch (e) { /* already stopped */ }
  }
  if (profile) rmSync(profile, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  console.error('halfopen.browser: watchdog: over 90 s, stopping everything');
  await cleanup();
  process.exit(1);
}, 90000);

async function main() {
  const broker = await startBroker();
  started.push(broker);
  const gateway = await startGateway(broker);
  started.push(gateway);
  const relay = await startRelay(gateway.port);
  started.push(relay);

  profile = mkdtempSync(path.join(os.tmpdir(), 'herald-halfopen-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking'],
  });
  const page = await context.newPage();
  await page.goto(`${gateway.http}/healthz`);
  await page.evaluate(async ({ gw, url, token }) => {
    const herald = (await import(`${gw}/herald.js`)).default;
    window.log = [];
    window.h = herald.connect(url, { token, pingInterval: 500, storage: null, backoffBase: 20, backoffCap: 200 });
    window.h.on('connect', (i) => window.log.push({ type: 'connect', resumed: i.resumed }));
    window.h.on('disconnect', (i) => window.log.push({ type: 'disconnect', code: i.code, reason: i.reason }));
    window.lost = [];
    window.states = [];
    window.h.on('disconnected', (i) => window.lost.push(i.code));
    window.h.on('state', (s) => window.states.push(s.state));
  }, { gw: gateway.http, url: relay.url, token: makeToken('halfopen-browser') });
  const log = () => page.evaluate(() => window.log);
  await waitUntil(async () => (await log()).length === 1, 'first connect', 15000);

  relay.freeze();
  const d = await waitUntil(async () => (await log()).find((x) => x.type === 'disconnect'),
    'disconnect after the link froze', 10000);
  assert.equal(d.code, 4101, "herald.js reports its own close code 4101 ('ping timeout')");
  console.log('ok 1 - a frozen link is reported with 4101 within the deadline');
  await waitUntil(async () => (await log()).filter((x) => x.type === 'connect').length === 2,
    'connected again through a fresh connection', 10000);
  const all = await log();
  assert.equal(all.filter((x) => x.type === 'disconnect').length, 1, 'one disconnect for the dropped socket');
  console.log('ok 2 - reconnected without waiting for the closing handshake');
  const { lost, states } = await page.evaluate(() => ({ lost: window.lost, states: window.states }));
  assert.deepEqual(lost, [4101], "in Chromium too: one 'disconnected' for the lost connection, with 4101");
  assert.deepEqual(states, ['connecting', 'connected', 'reconnecting', 'connected'],
    "and the 'state' events connecting, connected, reconnecting, connected");
  console.log('ok 3 - state events in Chromium: one disconnected, states in order');
  await page.evaluate(() => window.h.close());
}

main().then(async () => {
  clearTimeout(watchdog);
  await cleanup();
  console.log('halfopen.browser: passed');
}, async (err) => {
  clearTimeout(watchdog);
  console.error('halfopen.browser: FAILED:', err && err.stack ? err.stack : err);
  await cleanup();
  process.exit(1);
});
