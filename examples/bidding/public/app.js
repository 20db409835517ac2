// app.js -- the bidding demo page: renders the backend's orders, listens through herald.js, keeps an activity feed.
//
// The backend is the source of truth: the page fetches /api/state on load,
// on every (re)connect and after every event. Herald tells it *when* to look
// and what happened; the activity feed is kept in sessionStorage so a reload
// keeps it, and herald.js resumes from its stored positions so events sent
// while the page was away still land in the feed.
//
// Channels: a vendor follows the live order board ("board", allowed by its
// token's channels claim); every page follows the negotiation thread
// ("order:<id>") of each order it takes part in, with a subscription token
// the backend gives participants. Each channel resumes from its own stored
// position.

const cfg = JSON.parse(document.getElementById('config').textContent);
const who = `as=${encodeURIComponent(cfg.as)}`;
const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const FEED_KEY = `bidding.feed:${cfg.as}`;
const FEED_MAX = 100;

let state = { orders: [], vendors: [] };
let feed = [];
try { feed = JSON.parse(sessionStorage.getItem(FEED_KEY) || '[]'); } catch (e) { feed = []; }

// h('div', {class: 'x', onclick: fn}, child, ...) -- small DOM builder; text is never parsed as HTML.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(method, path, body) {
  const sep = path.includes('?') ? '&' : '?';
  const res = await fetch(`${path}${sep}${who}`, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
  return data;
}

function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 2600);
}

// ---- activity feed -------------------------------------------------------

// Plain symbols in coloured discs (style.css): they render with any font, unlike emoji.
const ICONS = { 'order.new': '+', bid: '$', negotiate: '?', chosen: '★', confirmed: '✓', closed: '×', mine: '✎', note: '!' };

function describe(event, d) {
  const t = `“${d.title}”`;
  switch (event) {
    case 'order.new': return `New order #${d.id} from ${d.customer}: ${d.title}`;
    case 'bid': return d.revision > 1
      ? `${d.vendor} changed their bid on ${t} to ${money.format(d.amount)}`
      : `${d.vendor} bid ${money.format(d.amount)} on ${t}${d.note ? ` (“${d.note}”)` : ''}`;
    case 'negotiate': return `${d.customer} asks about ${t}: “${d.text}”`;
    case 'chosen': return `${d.customer} chose your bid of ${money.format(d.amount)} on ${t}. Please confirm.`;
    case 'confirmed': return `${d.vendor} confirmed ${t} at ${money.format(d.amount)}`;
    case 'closed': return `${t} went to another vendor`;
    default: return `${event}`;
  }
}

// Returns false when the feed already holds this event (a replay after a
// reload or a reconnect): only new items are worth a toast.
function addFeed(kind, text, key) {
  if (key && feed.some((f) => f.key === key)) return false;
  feed.unshift({ kind, text, key, at: Date.now() });
  feed = feed.slice(0, FEED_MAX);
  try { sessionStorage.setItem(FEED_KEY, JSON.stringify(feed)); } catch (e) { /* storage full: keep in memory */ }
  renderFeed(1);
  return true;
}

// Only the `fresh` newest items animate in, so adding one does not flash the rest.
function renderFeed(fresh = 0) {
  const list = document.getElementById('feed');
  list.replaceChildren(...feed.map((f, i) => h('li', { class: `${f.kind === 'note' || f.kind === 'mine' ? f.kind : 'event'}${i < fresh ? ' fresh' : ''}`, 'data-kind': f.kind },
    h('span', { class: 'icon', 'aria-hidden': 'true' }, ICONS[f.kind] || '•'),
    h('span', { class: 'text' }, f.text),
    h('time', {}, new Date(f.at).toLocaleTimeString()))));
  document.getElementById('feed-empty').hidden = feed.length > 0;
}

// ---- page state ----------------------------------------------------------

let refreshing = null;
let again = false;
// Fetches the backend's state; calls made while one is in flight coalesce into one more.
async function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    do {
      again = false;
      try {
        state = await api('GET', '/api/state');
        render();
        followThreads();
      } catch (e) {
        toast(`Could not load orders: ${e.message}`);
      }
    } while (again);
    refreshing = null;
  })();
  return refreshing;
}

async function act(button, fn, mine) {
  button.disabled = true;
  try {
    await fn();
    if (mine) addFeed('mine', mine);
    await refresh();
  } catch (e) {
    toast(e.message);
  } finally {
    button.disabled = false;
  }
}

function field(form, name) {
  return form.elements[name].value.trim();
}

// Re-rendering must not eat what the user is typing: inputs carry a data-key
// and their values (and focus) are carried over.
function render() {
  const main = document.getElementById('main');
  const kept = {};
  let focused = null;
  for (const el of main.querySelectorAll('[data-key]')) {
    kept[el.dataset.key] = el.value;
    if (el === document.activeElement) focused = el.dataset.key;
  }
  main.replaceChildren(...(cfg.role === 'customer' ? customerView() : vendorView()));
  for (const el of main.querySelectorAll('[data-key]')) {
    if (kept[el.dataset.key] !== undefined) el.value = kept[el.dataset.key];
    if (el.dataset.key === focused) el.focus();
  }
}

function badge(o) {
  if (cfg.role === 'vendor' && o.chosen_other) return h('span', { class: 'badge closed' }, 'closed');
  const text = { open: 'open for bids', chosen: 'awaiting confirmation', confirmed: 'confirmed' }[o.status] || o.status;
  return h('span', { class: `badge ${o.status}`, 'data-testid': 'status' }, text);
}

function orderHead(o) {
  return [
    h('div', { class: 'order-head' }, h('h3', {}, o.title), h('span', { class: 'num' }, `#${o.id}`), badge(o)),
    h('p', { class: 'details' }, cfg.role === 'vendor' ? `from ${o.customer} · ` : '', o.details),
  ];
}

function customerView() {
  const create = h('form', {
    class: 'card', 'data-testid': 'new-order',
    onsubmit: (ev) => {
      ev.preventDefault();
      const f = ev.currentTarget;
      const title = field(f, 'title');
      if (!title) return toast('Give the order a title');
      act(f.querySelector('button'), async () => {
        await api('POST', '/api/orders', { title, details: field(f, 'details') });
        f.reset();
      }, `You posted “${title}”`);
    },
  },
  h('h1', { style: 'width:100%' }, 'What do you need?'),
  h('input', { name: 'title', 'data-key': 'new-title', placeholder: 'e.g. 200 branded mugs', maxlength: 120, 'aria-label': 'title' }),
  h('input', { name: 'details', 'data-key': 'new-details', placeholder: 'Details (delivery date, colours…)', maxlength: 500, 'aria-label': 'details' }),
  h('button', { type: 'submit' }, 'Post order'));

  const orders = state.orders.map((o) => {
    const open = o.status === 'open';
    const chosenBid = o.bids.find((b) => b.vendor === o.chosen);
    return h('section', { class: 'card', 'data-testid': `order-${o.id}` },
      orderHead(o),
      o.status === 'chosen' && h('div', { class: 'banner warn', 'data-testid': 'waiting' },
        `Waiting for ${o.chosen} to confirm ${money.format(chosenBid.amount)}…`),
      o.status === 'confirmed' && h('div', { class: 'banner good', 'data-testid': 'confirmed' },
        `Confirmed by ${o.chosen} at ${money.format(chosenBid.amount)} ✓`),
      o.bids.length === 0
        ? h('p', { class: 'muted', 'data-testid': 'no-bids' }, 'No bids yet. Vendors have been notified.')
        : h('ul', { class: 'bids', 'data-testid': 'bids' }, o.bids.map((b) => h('li', {
          class: o.chosen === b.vendor ? 'won' : '', 'data-testid': `bid-${b.vendor}`,
        },
        h('span', { class: 'vendor' }, b.vendor),
        h('span', { class: 'amount', 'data-testid': 'amount' }, money.format(b.amount)),
        h('span', { class: 'note' }, b.note || ''),
        open && h('button', {
          class: 'ghost', 'data-testid': `choose-${b.vendor}`,
          onclick: (ev) => act(ev.currentTarget, () => api('POST', `/api/orders/${o.id}/choose`, { vendor: b.vendor }),
            `You chose ${b.vendor}'s bid on “${o.title}”`),
        }, 'Choose')))),
      o.messages.length > 0 && h('ul', { class: 'messages' }, o.messages.map((m) => h('li', {}, `You asked: ${m.text}`))),
      open && o.bids.length > 0 && h('form', {
        'data-testid': 'negotiate',
        onsubmit: (ev) => {
          ev.preventDefault();
          const f = ev.currentTarget;
          const text = field(f, 'text');
          if (!text) return toast('Write a message first');
          act(f.querySelector('button'), async () => {
            await api('POST', `/api/orders/${o.id}/negotiate`, { text });
            f.reset();
          }, `You asked the bidders: “${text}”`);
        },
      },
      h('input', { name: 'text', 'data-key': `neg-${o.id}`, placeholder: 'Ask every bidder, e.g. “Can you do it for less?”', maxlength: 500, 'aria-label': 'message' }),
      h('button', { type: 'submit', class: 'ghost' }, 'Ask all bidders')));
  });
  return [create, ...orders];
}

function vendorView() {
  if (state.orders.length === 0) {
    return [h('section', { class: 'card muted', 'data-testid': 'no-orders' }, 'No orders yet. New orders appear here the moment a customer posts them.')];
  }
  return state.orders.map((o) => {
    const chosenMe = o.chosen_me;
    return h('section', { class: `card${chosenMe && o.status === 'chosen' ? ' highlight' : ''}`, 'data-testid': `order-${o.id}` },
      orderHead(o),
      chosenMe && o.status === 'chosen' && h('div', { class: 'banner info', 'data-testid': 'chosen' },
        `${o.customer} chose your bid of ${money.format(o.my_bid.amount)}.`,
        h('button', {
          'data-testid': 'confirm',
          onclick: (ev) => act(ev.currentTarget, () => api('POST', `/api/orders/${o.id}/confirm`), `You confirmed “${o.title}”`),
        }, 'Confirm order')),
      chosenMe && o.status === 'confirmed' && h('div', { class: 'banner good', 'data-testid': 'confirmed' },
        `You confirmed this order at ${money.format(o.my_bid.amount)} ✓`),
      o.chosen_other && h('div', { class: 'banner warn', 'data-testid': 'lost' }, `${o.customer} chose another vendor.`),
      o.messages.length > 0 && h('ul', { class: 'messages', 'data-testid': 'messages' },
        o.messages.map((m) => h('li', {}, `${o.customer}: ${m.text}`))),
      o.my_bid && h('p', { class: 'mybid', 'data-testid': 'my-bid' }, 'Your bid: ',
        h('b', {}, money.format(o.my_bid.amount)), o.my_bid.note ? ` · ${o.my_bid.note}` : ''),
      !o.my_bid && o.bid_count > 0 && h('p', { class: 'muted' }, `${o.bid_count} bid${o.bid_count > 1 ? 's' : ''} so far`),
      o.status === 'open' && h('form', {
        'data-testid': 'bid-form',
        onsubmit: (ev) => {
          ev.preventDefault();
          const f = ev.currentTarget;
          const amount = Number(field(f, 'amount'));
          if (!(amount > 0)) return toast('Enter an amount');
          act(f.querySelector('button'), async () => {
            await api('POST', `/api/orders/${o.id}/bids`, { amount, note: field(f, 'note') });
            f.reset();
          }, `You bid ${money.format(amount)} on “${o.title}”`);
        },
      },
      h('input', { name: 'amount', 'data-key': `amt-${o.id}`, type: 'number', min: '1', step: '0.01', placeholder: 'Amount $', 'aria-label': 'amount' }),
      h('input', { name: 'note', 'data-key': `note-${o.id}`, placeholder: 'Note (delivery, terms…)', maxlength: 500, 'aria-label': 'note' }),
      h('button', { type: 'submit' }, o.my_bid ? 'Update bid' : 'Place bid')));
  });
}

// ---- herald --------------------------------------------------------------

let h$ = null;
const followed = new Set();
// What herald.js said on each `subscribed` (the browser test reads it).
window.heraldChannels = [];

function onEvent(name, data, meta) {
  // the customer's own negotiation messages come back on the thread
  if (name === 'negotiate' && cfg.role === 'customer' && data.customer === cfg.user) {
    refresh();
    return;
  }
  const text = describe(name, data);
  if (addFeed(name, text, meta.id || `${meta.channel || ''}${meta.offset}`)) toast(text);
  refresh();
}

function follow(channel, token) {
  if (!h$ || followed.has(channel)) return;
  followed.add(channel);
  h$.subscribe(channel, (event, data, meta) => onEvent(event, data, meta), {
    token,
    onSubscribed: (info) => {
      window.heraldChannels.push(info);
      if (info.resumed && !info.recovered) {
        addFeed('note', `Some updates of ${channel} could not be replayed; the orders shown are up to date.`);
      }
    },
    onError: (err) => {
      followed.delete(channel);
      console.warn('herald:', err.message);
    },
  });
}

// The negotiation threads of the orders this page takes part in.
function followThreads() {
  for (const o of state.orders) {
    if (cfg.role === 'customer' || o.my_bid) {
      const channel = `order:${o.id}`;
      follow(channel, () => fetch(`/api/subscription?${who}&channel=${encodeURIComponent(channel)}`)
        .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`subscription: HTTP ${r.status}`)))));
    }
  }
}

function setStatus(s, text) {
  const el = document.querySelector('[data-testid="status"]');
  el.dataset.state = s;
  el.textContent = text;
}

async function start() {
  document.querySelector('[data-testid="who"]').append(
    cfg.role === 'customer' ? 'Customer ' : 'Vendor ', h('b', {}, cfg.user));
  renderFeed();
  refresh();

  let herald;
  try {
    // The gateway serves herald.js with Access-Control-Allow-Origin: *, so
    // the page imports the very client that matches the gateway it talks to.
    herald = (await import(cfg.heraldJs)).default;
    window.heraldSource = 'gateway';
  } catch (e) {
    setStatus('stopped', 'no live updates');
    addFeed('note', `Could not load herald.js from ${cfg.heraldJs}: ${e.message}`);
    return;
  }
  h$ = herald.connect(cfg.gatewayUrl, {
    // A function, so every reconnect gets a fresh token from the backend.
    token: () => fetch(`/api/token?${who}`).then((r) => (r.ok ? r.text() : Promise.reject(new Error(`token: HTTP ${r.status}`)))),
  });
  window.heraldConnection = h$;
  h$.on('connect', (info) => {
    setStatus('live', 'live');
    if (info.resumed && !info.recovered) {
      addFeed('note', 'Reconnected. Some live updates could not be replayed; the orders shown are up to date.');
    }
    refresh();
  });
  h$.on('disconnect', (info) => setStatus(info.reconnect ? 'connecting' : 'stopped', info.reconnect ? 'reconnecting…' : 'offline'));
  h$.on('error', (err) => console.warn('herald:', err.message));
  // events for this user: bids (customer), chosen, confirmed, closed
  for (const name of ['bid', 'chosen', 'confirmed', 'closed']) {
    h$.on(name, (data, meta) => onEvent(name, data, meta));
  }
  if (cfg.role === 'vendor') follow('board');
  followThreads();
}

start();
