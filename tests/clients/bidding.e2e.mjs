// bidding.e2e.mjs -- the bidding demo in Debian's chromium: customer and vendors walk the whole flow.
//
// Starts herald-broker, herald-gateway and examples/bidding/server.rb on
// free ports, drives the pages by clicking (playwright-core), reloads a
// vendor page while an event is sent to it, has a vendor open the live
// board late and resume it after being away, and saves a screenshot of
// each page to $HERALD_TEST_OUTPUT (default build/test-output/bidding).
// New orders travel on the "board" channel, negotiation messages on each
// order's "order:<id>" channel, the rest to users.
// Bounded: a watchdog kills everything after 170 s.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Child, ROOT, SECRET, freePort, httpStatus, startBroker, startGateway, waitUntil } from './lib/harness.mjs';

const OUT = process.env.HERALD_TEST_OUTPUT || path.join(ROOT, 'build', 'test-output', 'bidding');
const STEP_MS = 15000;
let passed = 0;
let failed = 0;
const started = [];
let context = null;
let profile = null;

function ok(what) {
  passed += 1;
  console.log(`ok ${passed} - ${what}`);
}

// Waits for `text` inside the element with data-testid `testid` on `page`.
async function sees(page, testid, text, what) {
  await page.getByTestId(testid).getByText(text, { exact: false }).first().waitFor({ state: 'visible', timeout: STEP_MS });
  ok(what);
}

async function cleanup() {
  try { if (context) await context.close(); } catch (e) { /* browser already gone */ }
  for (const s of started.reverse()) {
    try { await s.stop(); } catch (e) { /* already stopped */ }
  }
  if (profile) rmSync(profile, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  console.error('bidding.e2e: watchdog: over 170 s, stopping everything');
  failed += 1;
  await cleanup();
  process.exit(1);
}, 170000);

async function main() {
  mkdirSync(OUT, { recursive: true });
  const broker = await startBroker();
  started.push(broker);
  const gateway = await startGateway(broker);
  started.push(gateway);

  const port = await freePort();
  const app = new Child(['ruby', path.join(ROOT, 'examples', 'bidding', 'server.rb')], {
    name: 'bidding',
    env: {
      HERALD_INGEST: broker.ingest, HERALD_CONTROL: broker.control, HERALD_SECRET: SECRET,
      HERALD_GATEWAY_URL: gateway.url, HERALD_GATEWAY_HTTP: gateway.http, PORT: String(port),
      BIDDING_VENDORS: 'v1,v2,v3',
    },
  });
  started.push(app);
  const base = `http://127.0.0.1:${port}`;
  await waitUntil(async () => !app.alive() || await httpStatus(`${base}/healthz`) === 200, 'demo backend', 20000);
  assert.ok(app.alive(), `demo backend exited:\n${app.output()}`);
  await waitUntil(() => app.output().includes('/?as=vendor:v2'), 'demo prints its URLs');
  assert.ok(app.output().includes(`${base}/?as=customer:carol`), 'the demo printed the customer URL');
  ok('the demo backend starts and prints one URL per user');

  profile = mkdtempSync(path.join(os.tmpdir(), 'herald-e2e-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1180, height: 820 },
  });
  const consoleErrors = [];
  const failedRequests = [];
  const open = async (as) => {
    const page = await context.newPage();
    page.on('pageerror', (e) => consoleErrors.push(`${as}: ${e.message}`));
    page.on('response', (r) => { if (r.status() >= 400) failedRequests.push(`${as}: ${r.status()} ${r.url()}`); });
    await page.goto(`${base}/?as=${as}`);
    await waitUntil(async () => (await page.locator('div.status[data-testid="status"]').getAttribute('data-state')) === 'live',
      `${as} page live`, STEP_MS);
    return page;
  };
  const carol = await open('customer:carol');
  const v1 = await open('vendor:v1');
  const v2 = await open('vendor:v2');
  const sources = await Promise.all([carol, v1, v2].map((p) => p.evaluate(() => window.heraldSource)));
  assert.ok(sources.every((s) => s === 'gateway'), `every page imported herald.js from the gateway (${sources})`);
  ok('all three pages import herald.js from the gateway (cross-origin) and go live');

  // 1. The customer posts an order; both vendors see it without reloading.
  await carol.getByLabel('title').fill('200 branded mugs');
  await carol.getByLabel('details').fill('Blue logo, delivered by Friday');
  await carol.getByRole('button', { name: 'Post order' }).click();
  await sees(carol, 'order-1', 'No bids yet', 'the customer sees the new order, with no bids yet');
  await sees(v1, 'order-1', '200 branded mugs', 'vendor v1 sees the new order live');
  await sees(v2, 'order-1', '200 branded mugs', 'vendor v2 sees the new order live');
  await sees(v1, 'feed', 'New order #1 from carol', "v1's activity lists the new order");

  // 2. Both vendors bid; the customer is told of each bid at once.
  const bid = async (page, amount, note) => {
    const order = page.getByTestId('order-1');
    await order.getByLabel('amount').fill(String(amount));
    await order.getByLabel('note').fill(note);
    await order.getByRole('button', { name: /Place bid|Update bid/ }).click();
  };
  await bid(v1, 120, 'Ships Friday');
  await sees(carol, 'bid-v1', '$120.00', "the customer sees v1's bid of $120.00 live");
  await bid(v2, 135, 'Includes gift boxes');
  await sees(carol, 'bid-v2', '$135.00', "the customer sees v2's bid of $135.00 live");
  await sees(carol, 'feed', 'v2 bid $135.00', "the customer's activity lists v2's bid");
  await carol.screenshot({ path: path.join(OUT, 'customer-carol-bids.png'), animations: 'disabled' });
  await v2.screenshot({ path: path.join(OUT, 'vendor-v2-bid.png'), animations: 'disabled' });

  // 3. The customer asks every bidder to negotiate.
  const ask = async (text) => {
    await carol.getByTestId('order-1').getByLabel('message').fill(text);
    await carol.getByRole('button', { name: 'Ask all bidders' }).click();
  };
  await ask('Can you do it for less than $110?');
  await sees(v1, 'messages', 'less than $110', 'v1 receives the negotiation request');
  await sees(v2, 'messages', 'less than $110', 'v2 receives the negotiation request');
  await sees(v2, 'feed', 'carol asks about', "v2's activity lists the request");

  // 4. v2 reloads while the customer sends it a message.
  await Promise.all([v2.reload(), ask('Could you also add coasters?')]);
  await sees(v2, 'feed', 'add coasters', 'v2, reloaded while a message was sent, shows that message in its activity');
  await sees(v2, 'feed', 'New order #1', "v2's activity kept what happened before the reload");

  // 5. v2's page is away (navigated off) while a message is sent, then comes back:
  //    the message reaches the activity list through herald.js's resume, and
  //    the order shows it through the backend's state.
  const v2url = v2.url();
  await v2.goto('about:blank');
  await waitUntil(async () => (await broker.post('probe', 'v2', 0)) === 404, 'v2 offline while its page is away', STEP_MS);
  await ask('Final call: best price by noon?');
  await v2.goto(v2url);
  await sees(v2, 'feed', 'Final call', 'the message sent while v2 was away appears in its activity after it returns');
  await sees(v2, 'messages', 'Final call', 'and in the order, from the backend state');
  assert.equal(await v2.getByTestId('feed').getByText('Final call').count(), 1, 'the missed message is listed once');
  ok('the missed message is listed exactly once');
  const thread = (await v2.evaluate(() => window.heraldChannels)).filter((c) => c.channel === 'order:1').pop();
  assert.ok(thread && thread.resumed && thread.recovered, `v2 resumed the order:1 thread, recovered (${JSON.stringify(thread)})`);
  ok("v2's negotiation thread (channel order:1) resumed with recovered: true");

  // 5b. v3 opens the live board late: order #1 comes from the backend. It
  //     goes away, a second order is posted on the board, and when v3 comes
  //     back the board channel resumes from v3's stored position: the new
  //     order lands in its activity, once.
  const v3 = await open('vendor:v3');
  await sees(v3, 'order-1', '200 branded mugs', 'v3, opening the board late, sees the existing order (backend state)');
  const late = (await v3.evaluate(() => window.heraldChannels)).find((c) => c.channel === 'board');
  assert.ok(late && !late.resumed, 'its first board subscription had no position to resume from');
  const v3url = v3.url();
  await v3.goto('about:blank');
  await waitUntil(async () => (await broker.post('probe', 'v3', 0)) === 404, 'v3 offline while its page is away', STEP_MS);
  await carol.getByLabel('title').fill('5 kg coffee beans');
  await carol.getByLabel('details').fill('Single origin');
  await carol.getByRole('button', { name: 'Post order' }).click();
  await sees(carol, 'order-2', 'No bids yet', 'the customer posts a second order');
  await sees(v1, 'order-2', 'coffee beans', 'v1, on the board all along, sees it live');
  await v3.goto(v3url);
  await sees(v3, 'feed', 'New order #2 from carol', 'v3, back, has the order posted while it was away in its activity');
  assert.equal(await v3.getByTestId('feed').getByText('New order #2').count(), 1, 'listed once');
  const board = (await v3.evaluate(() => window.heraldChannels)).filter((c) => c.channel === 'board').pop();
  assert.ok(board && board.resumed && board.recovered, `v3 resumed the board, recovered (${JSON.stringify(board)})`);
  ok('the board channel resumed for the late vendor with recovered: true, the missed order listed once');
  await v3.screenshot({ path: path.join(OUT, 'vendor-v3-board.png'), animations: 'disabled' });
  await v3.close();

  // 6. v1 lowers its bid; the customer chooses it; v1 is notified at once and confirms.
  await bid(v1, 105, 'Ships Friday, coasters included');
  await sees(carol, 'bid-v1', '$105.00', "the customer sees v1's lowered bid");
  await carol.getByTestId('choose-v1').click();
  await sees(carol, 'waiting', 'Waiting for v1 to confirm', 'the customer waits for v1');
  await sees(v1, 'chosen', 'carol chose your bid of $105.00', 'v1 is told at once that its bid was chosen');
  await v1.screenshot({ path: path.join(OUT, 'vendor-v1-chosen.png'), animations: 'disabled' });
  await v1.getByTestId('confirm').click();
  await sees(v1, 'confirmed', 'You confirmed this order', 'v1 sees its confirmation');
  await sees(carol, 'confirmed', 'Confirmed by v1 at $105.00', 'the customer sees the confirmation live');
  await sees(carol, 'feed', 'v1 confirmed', "the customer's activity lists the confirmation");
  await sees(v2, 'lost', 'chose another vendor', 'v2 sees the order went to another vendor');
  await sees(v2, 'feed', 'went to another vendor', "v2's activity lists it");

  assert.deepEqual(consoleErrors, [], 'no page threw an uncaught error');
  ok('no page threw an uncaught error');
  assert.deepEqual(failedRequests, [], 'no request of the pages failed (favicon.ico included)');
  ok('no request of the pages got a 4xx or 5xx answer');

  for (const [name, page] of [['customer-carol', carol], ['vendor-v1', v1], ['vendor-v2', v2]]) {
    await page.evaluate(() => { document.getElementById('toast').style.display = 'none'; }); // transient
    await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true, animations: 'disabled' });
  }
  ok(`screenshots saved in ${OUT}`);
}

try {
  await main();
} catch (e) {
  failed += 1;
  console.error(`not ok - ${e.stack || e}`);
  for (const s of started) {
    if (s.child && !s.child.alive()) console.error(`${s.child.name} exited:\n${s.child.output()}`);
    if (s instanceof Child) console.error(`--- ${s.name} log ---\n${s.output()}`);
  }
} finally {
  clearTimeout(watchdog);
  await cleanup();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
