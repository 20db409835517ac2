// herald.js -- Herald's browser client: auth, resume, events, reconnect with backoff.
//
//   import herald from '/herald.js';           // or: import herald from 'herald-js' (npm)
//   const h = herald.connect('ws://127.0.0.1:7400/ws', { token: () => fetch('/token').then(r => r.text()) });
//   // or a list of gateways, one tried after the other: connect(['wss://a/ws', 'wss://b/ws'], ...)
//   h.on('bid', (data, meta) => ...);          // meta: {offset, id, event}
//   h.onAny((event, data, meta) => ...);       // every event, with its name
//   h.on('connected', (info) => ...);          // each welcome: {recovered, epoch, offset, resumed, user, url}
//   h.on('disconnected', (info) => ...);       // once per lost connection: {code, reason, reconnect, delay}
//   h.on('reconnecting', (info) => ...);       // each retry: {attempt, delay, url, code, reason}
//   h.on('state', ({ state, previous }) => ...); // connecting | connected | reconnecting | disconnected
//   h.on('error', (err) => ...);
//   h.send('typing', { order: 17 });           // browser -> backend (true when handed to the socket)
//   const sub = h.subscribe('order:17', (event, data, meta) => ...);   // a channel
//   sub.unsubscribe();
//   h.close();
//
// Reconnect policy (see clients/js/README.md):
//   - a link our timers find dead (no welcome within welcomeTimeout: 4100;
//     nothing received for a whole pingInterval: 4101) is dropped at once,
//     without waiting for a closing handshake, and reported with that code;
//   - every close reconnects after a delay drawn uniformly from
//     [0, min(cap, base * 2^attempt)] ("full jitter"; base 250 ms, cap 10 s);
//     the attempt counter resets after each welcome;
//   - it stops for good after close() and after close codes that say a retry
//     cannot help: 4000 (the client sent a bad frame), 1009 (frame too large),
//     4003 (the backend disconnected this user),
//     and 4001/4002 (invalid/expired token) unless `token` is a function, which
//     is called again on every connect so a fresh token is used;
//   - with a token function the token is also refreshed on the open socket
//     ({"type":"refresh"}) refreshBefore ahead of its exp, since the gateway
//     closes with 4002 at exp;
//   - each connect sends resume {epoch, offset} of the last event seen, so
//     the gateway replays what was missed; positions are kept in
//     sessionStorage (per application and user: options.app, else the set
//     of gateway URLs) so a page reload resumes too, on any of the gateways;
//   - with a list of URLs each reconnect tries the next one (round robin);
//   - after each welcome every channel subscribed is subscribed again with
//     its own resume {epoch, offset} (channels keep positions of their own,
//     stored the same way).
//
// No dependencies; works in browsers and in Node (pass `WebSocket` from 'ws').

const STOP_CODES = new Set([4000, 1009, 4003]);
const TOKEN_CODES = new Set([4001, 4002]);
// Names on() uses for the connection's own events; a producer event with
// one of them reaches onAny handlers only.
const LIFECYCLE = new Set(['connect', 'disconnect', 'error', 'connecting', 'connected', 'reconnecting',
  'disconnected', 'state']);
// The gateway refuses a whole client message over 8 KiB with 1009, which
// ends the connection for good: h.send refuses such a frame itself.
const MAX_FRAME_BYTES = 8192;
const EVENT_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const SEND_REFUSALS = new Set(['upstream', 'too_large', 'rate']);

function defaultStorage() {
  try {
    const s = globalThis.sessionStorage;
    if (s && typeof s.getItem === 'function') return s;
  } catch (e) {
    // Access to sessionStorage throws in sandboxed frames; run without it.
  }
  return null;
}

// The claims inside a JWT, read without checking the signature: `sub` only
// keys the stored resume position and `exp` only times the refresh; the
// gateway does the real check.
function tokenClaims(token) {
  try {
    const part = String(token).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '==='.slice((b64.length + 3) % 4);
    const json = decodeURIComponent(Array.prototype.map.call(atob(padded),
      (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''));
    const claims = JSON.parse(json);
    return claims && typeof claims === 'object' ? claims : {};
  } catch (e) {
    return {};
  }
}

function tokenSubject(token) {
  const sub = tokenClaims(token).sub;
  return typeof sub === 'string' ? sub : null;
}

function tokenExpiry(token) {
  const exp = tokenClaims(token).exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp : null;
}

function frameBytes(text) {
  return typeof TextEncoder === 'function' ? new TextEncoder().encode(text).length : text.length * 3;
}

function gatewayUrls(url) {
  const urls = Array.isArray(url) ? url.slice() : [url];
  if (urls.length === 0 || !urls.every((u) => typeof u === 'string' && u !== '')) {
    throw new Error('herald: connect needs a gateway URL or a non-empty list of them');
  }
  return urls;
}

class Connection {
  constructor(url, options) {
    this.urls = gatewayUrls(url);
    this.urlIndex = 0;
    this.url = this.urls[0];
    // The stored position is the broker's, good on any of its gateways:
    // keyed by the application, by default the set of its gateway URLs (in
    // any order; a single URL gives the key herald.js always used).
    this.app = typeof options.app === 'string' && options.app !== ''
      ? options.app : Array.from(new Set(this.urls)).sort().join(',');
    this.options = options;
    this.WebSocket = options.WebSocket || globalThis.WebSocket;
    if (typeof this.WebSocket !== 'function') {
      throw new Error('herald: no WebSocket available; pass options.WebSocket');
    }
    if (options.token === undefined || options.token === null) {
      throw new Error('herald: options.token (a string or a function) is required');
    }
    this.base = options.backoffBase ?? 250;
    this.cap = options.backoffCap ?? 10000;
    this.pingInterval = options.pingInterval ?? 25000;
    this.welcomeTimeout = options.welcomeTimeout ?? 15000;
    this.refreshBefore = options.refreshBefore ?? 30000;
    this.refreshTimer = null;
    this.tokenExp = null;
    this.storage = options.storage === undefined ? defaultStorage() : options.storage;
    this.handlers = new Map();
    this.anyHandlers = new Set();
    this.toldLoss = false; // a `disconnected` was emitted since the last `connected`
    this.attempt = 0;
    this.closed = false;
    this.ws = null;
    this.timer = null;
    this.pinger = null;
    this.welcomeTimer = null;
    this.state = 'connecting';
    this.user = null;
    this.epoch = null;
    this.offset = null;
    this.storageKey = null;
    this.channels = new Map(); // channel name -> its subscription state
    this._onOnline = () => { if (this.timer && !this.closed) this._reconnectNow(); };
    if (typeof globalThis.addEventListener === 'function') {
      globalThis.addEventListener('online', this._onOnline);
    }
    // after connect() returned, so handlers registered right away hear it
    Promise.resolve().then(() => {
      if (this.state === 'connecting') this._stateChanged(null, { url: this.url });
    });
    this._open();
  }

  // Registers fn for an event name (or 'connect' / 'disconnect' / 'error');
  // returns a function that removes it.
  on(name, fn) {
    if (!this.handlers.has(name)) this.handlers.set(name, new Set());
    this.handlers.get(name).add(fn);
    return () => this.off(name, fn);
  }

  off(name, fn) {
    const set = this.handlers.get(name);
    if (set) set.delete(fn);
  }

  // Registers fn(event, data, meta) for every event of the connection (its
  // user's and the broadcasts; channel events go to their subscription);
  // returns a function that removes it.
  onAny(fn) {
    this.anyHandlers.add(fn);
    return () => this.offAny(fn);
  }

  offAny(fn) {
    this.anyHandlers.delete(fn);
  }

  // Sends {"type":"send","event":event,"data":data} to the backend through
  // the gateway (which adds the authenticated user). Fire and forget: true
  // when handed to the open socket, false when not connected (nothing is
  // queued) or when the frame is over 8 KiB (an 'error' with reason
  // too_large then; the gateway would close for good with 1009). The
  // gateway's refusals arrive as 'error' with err.reason upstream,
  // too_large or rate and err.event.
  send(event, data) {
    if (typeof event !== 'string' || !EVENT_NAME.test(event)) {
      throw new TypeError('herald: send needs an event name of 1-64 characters of [A-Za-z0-9_.:-]');
    }
    if (this.state !== 'connected' || !this.ws) return false;
    const frame = { type: 'send', event };
    if (data !== undefined) frame.data = data;
    const text = JSON.stringify(frame);
    if (frameBytes(text) > MAX_FRAME_BYTES) {
      this._emit('error', this._sendError('too_large', event, 'over 8 KiB, not sent'));
      return false;
    }
    try {
      this.ws.send(text);
    } catch (e) {
      return false; // closing: the close event follows
    }
    return true;
  }

  _sendError(reason, event, detail) {
    const err = new Error('herald: send' + (event ? ' of ' + event : '') + ' refused (' + reason + ')' +
      (detail ? ': ' + detail : ''));
    err.reason = reason;
    err.event = event;
    return err;
  }

  // Follows a channel: handler(event, data, meta) for each of its events,
  // meta = {offset, id, event, channel}. options: token (a subscription
  // token, string or function, sent when the connection token's channels
  // claim does not cover the channel), onSubscribed(info) on every
  // `subscribed` ({channel, recovered, epoch, offset, resumed}), onError(err)
  // when the gateway refuses (err.reason: forbidden, bad_token, ...; the
  // subscription then ends). Subscribed again, with its position, after
  // every reconnect. Returns {channel, unsubscribe()}.
  subscribe(channel, handler, options = {}) {
    if (typeof channel !== 'string' || channel === '') throw new Error('herald: subscribe needs a channel name');
    if (typeof handler !== 'function') throw new Error('herald: subscribe needs a handler function');
    let sub = this.channels.get(channel);
    const fresh = !sub;
    if (fresh) {
      sub = { channel, handlers: new Set(), options, epoch: null, offset: null, resumed: false,
              loaded: false };
      this.channels.set(channel, sub);
    } else {
      sub.options = Object.assign({}, sub.options, options);
    }
    const entry = { handler, options };
    sub.handlers.add(entry);
    if (fresh && this.state === 'connected') this._sendSubscribe(sub, this.ws);
    return {
      channel,
      unsubscribe: () => this._unsubscribe(channel, entry),
    };
  }

  _unsubscribe(channel, entry) {
    const sub = this.channels.get(channel);
    if (!sub || !sub.handlers.delete(entry) || sub.handlers.size > 0) return;
    this.channels.delete(channel);
    if (this.ws && this.state === 'connected') {
      try { this.ws.send(JSON.stringify({ type: 'unsubscribe', channel })); } catch (e) { /* closing */ }
    }
  }

  async _sendSubscribe(sub, ws) {
    const frame = { type: 'subscribe', channel: sub.channel };
    const t = sub.options.token;
    if (t !== undefined && t !== null) {
      try {
        frame.token = typeof t === 'function' ? await t(sub.channel) : t;
      } catch (err) {
        this._emit('error', err instanceof Error ? err : new Error(String(err)));
        return;
      }
    }
    if (ws !== this.ws || this.channels.get(sub.channel) !== sub) return;
    if (!sub.loaded) {
      // the stored position is per user, known once the token was read
      sub.loaded = true;
      if (sub.epoch === null) this._loadChannelPosition(sub);
    }
    sub.resumed = sub.epoch !== null && sub.offset !== null;
    if (sub.resumed) frame.resume = { epoch: sub.epoch, offset: sub.offset };
    try { ws.send(JSON.stringify(frame)); } catch (e) { /* closing: sent again after the next welcome */ }
  }

  _channelKey(sub) {
    return this.storageKey ? this.storageKey + '#' + sub.channel : null;
  }

  _loadChannelPosition(sub) {
    const key = this._channelKey(sub);
    if (!this.storage || !key) return;
    try {
      const saved = JSON.parse(this.storage.getItem(key) || 'null');
      if (saved && typeof saved.epoch === 'string' && Number.isSafeInteger(saved.offset)) {
        sub.epoch = saved.epoch;
        sub.offset = saved.offset;
      }
    } catch (e) {
      // A corrupt stored position only costs a replay.
    }
  }

  _saveChannelPosition(sub) {
    const key = this._channelKey(sub);
    if (!this.storage || !key || sub.epoch === null) return;
    try {
      this.storage.setItem(key, JSON.stringify({ epoch: sub.epoch, offset: sub.offset }));
    } catch (e) {
      // Storage full or denied: resume still works within this page's life.
    }
  }

  _subscribed(msg) {
    const sub = this.channels.get(msg.channel);
    if (!sub) return; // unsubscribed meanwhile
    // The same rule as the welcome's: within one epoch a resumed channel
    // keeps its own position (the replay moves it); otherwise take the
    // gateway's.
    const sameEpoch = sub.epoch === msg.epoch && sub.offset !== null;
    if (!sameEpoch || !sub.resumed) {
      sub.epoch = msg.epoch;
      if (!sameEpoch || sub.offset < msg.offset) sub.offset = msg.offset;
    }
    const info = { channel: msg.channel, recovered: msg.recovered === true, epoch: msg.epoch,
                   offset: msg.offset, resumed: sub.resumed };
    sub.resumed = false; // a later subscribed on this socket is a broker restart or a lost gap
    this._saveChannelPosition(sub);
    for (const entry of Array.from(sub.handlers)) {
      if (typeof entry.options.onSubscribed !== 'function') continue;
      try { entry.options.onSubscribed(info); } catch (err) { this._emit('error', err); }
    }
  }

  _channelRefused(msg) {
    const sub = this.channels.get(msg.channel);
    if (!sub) return;
    this.channels.delete(msg.channel);
    const err = new Error('herald: subscribe to ' + msg.channel + ' refused (' + msg.reason + ')');
    err.channel = msg.channel;
    err.reason = msg.reason;
    let told = false;
    for (const entry of Array.from(sub.handlers)) {
      if (typeof entry.options.onError !== 'function') continue;
      told = true;
      try { entry.options.onError(err); } catch (e) { this._emit('error', e); }
    }
    if (!told) this._emit('error', err);
  }

  _channelEvent(msg) {
    const sub = this.channels.get(msg.channel);
    if (!sub) return; // in flight when it was unsubscribed
    if (typeof msg.offset === 'number' && sub.offset !== null && msg.offset <= sub.offset) return;
    if (typeof msg.offset === 'number') sub.offset = msg.offset;
    this._saveChannelPosition(sub);
    const meta = { offset: msg.offset, id: msg.id, event: msg.event, channel: msg.channel };
    for (const entry of Array.from(sub.handlers)) {
      try { entry.handler(msg.event, msg.data, meta); } catch (err) { this._emit('error', err); }
    }
  }

  // Closes the connection and stops reconnecting. The resume position stays
  // stored, so a later connect() with the same storage picks up from it.
  close() {
    if (this.closed) return;
    this.closed = true;
    const previous = this.state;
    this.state = 'disconnected';
    this._clearTimers();
    if (typeof globalThis.removeEventListener === 'function') {
      globalThis.removeEventListener('online', this._onOnline);
    }
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      try { ws.close(1000, 'client closed'); } catch (e) { /* already closing */ }
    }
    if (previous === 'connected') {
      this.toldLoss = true;
      this._emit('disconnected', { code: 1000, reason: 'client closed', reconnect: false, delay: 0 });
    }
    this._stateChanged(previous, { code: 1000, reason: 'client closed' });
  }

  // Emits 'state' and the named event of the state entered (the named
  // events of connected, disconnected and reconnecting are emitted where
  // they happen, with their own info).
  _stateChanged(previous, info) {
    if (previous === this.state) return;
    if (this.state === 'connecting') this._emit('connecting', info);
    this._emit('state', Object.assign({ state: this.state, previous }, info));
  }

  _emit(name, ...args) {
    const set = this.handlers.get(name);
    if (!set) {
      if (name === 'error' && this.options.logErrors !== false && globalThis.console) {
        globalThis.console.warn('herald:', args[0] && args[0].message ? args[0].message : args[0]);
      }
      return;
    }
    for (const fn of Array.from(set)) {
      try {
        fn(...args);
      } catch (err) {
        // A broken handler must not stop the others or the connection.
        if (name !== 'error') this._emit('error', err);
      }
    }
  }

  _clearTimers() {
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    clearTimeout(this.welcomeTimer);
    clearTimeout(this.refreshTimer);
    this.timer = this.pinger = this.welcomeTimer = this.refreshTimer = null;
  }

  async _token() {
    const t = this.options.token;
    const value = typeof t === 'function' ? await t() : t;
    if (typeof value !== 'string' || value === '') {
      throw new Error('herald: token must be a non-empty string');
    }
    return value;
  }

  _loadPosition(user) {
    this.storageKey = 'herald.resume:' + this.app + ':' + (user || '');
    if (this.epoch !== null || !this.storage) return;
    try {
      const saved = JSON.parse(this.storage.getItem(this.storageKey) || 'null');
      if (saved && typeof saved.epoch === 'string' && Number.isSafeInteger(saved.offset)) {
        this.epoch = saved.epoch;
        this.offset = saved.offset;
      }
    } catch (e) {
      // A corrupt stored position only costs a replay.
    }
  }

  _savePosition() {
    if (!this.storage || !this.storageKey || this.epoch === null) return;
    try {
      this.storage.setItem(this.storageKey, JSON.stringify({ epoch: this.epoch, offset: this.offset }));
    } catch (e) {
      // Storage full or denied: resume still works within this page's life.
    }
  }

  async _open() {
    let token;
    try {
      token = await this._token();
    } catch (err) {
      if (this.closed) return;
      this._emit('error', err instanceof Error ? err : new Error(String(err)));
      this._schedule({ code: 0, reason: 'token unavailable' });
      return;
    }
    if (this.closed) return;
    this._loadPosition(tokenSubject(token));
    this.tokenExp = tokenExpiry(token);
    let ws;
    try {
      ws = new this.WebSocket(this.url);
    } catch (err) {
      this._emit('error', err);
      this._schedule({ code: 0, reason: 'cannot open' });
      return;
    }
    this.ws = ws;
    let resumed = false;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      const auth = { type: 'auth', token };
      if (this.epoch !== null && this.offset !== null) {
        auth.resume = { epoch: this.epoch, offset: this.offset };
        resumed = true;
      }
      ws.send(JSON.stringify(auth));
    };
    // A gateway that accepts the TCP connection but never completes the
    // upgrade or never welcomes is as good as down: the timer runs from the
    // socket's creation, so a stalled upgrade is covered too.
    this.welcomeTimer = setTimeout(() => {
      if (ws === this.ws) this._drop(ws, 4100, 'no welcome');
    }, this.welcomeTimeout);
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      this.seen = true;
      let msg;
      try {
        msg = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data));
      } catch (err) {
        this._emit('error', new Error('herald: frame is not JSON'));
        return;
      }
      if (!msg || typeof msg !== 'object') return;
      if (msg.type === 'welcome') {
        const first = this.state !== 'connected';
        this._welcome(msg, resumed);
        resumed = false; // a later welcome on this socket is a broker restart
        this._scheduleRefresh(ws);
        // after a reconnect every channel is followed again from its own
        // position (a broker restart's welcome leaves them to the gateway)
        if (first) for (const sub of this.channels.values()) this._sendSubscribe(sub, ws);
      } else if (msg.type === 'event' && typeof msg.channel === 'string') {
        this._channelEvent(msg);
      } else if (msg.type === 'event') {
        this._event(msg);
      } else if (msg.type === 'subscribed') {
        this._subscribed(msg);
      } else if (msg.type === 'error' && typeof msg.channel === 'string') {
        this._channelRefused(msg);
      } else if (msg.type === 'refreshed') {
        if (typeof msg.exp === 'number') this.tokenExp = msg.exp;
        this._scheduleRefresh(ws);
      } else if (msg.type === 'error' && msg.reason === 'refresh') {
        this._emit('error', new Error('herald: the gateway refused the refreshed token (' + msg.detail + ')'));
        this._scheduleRefresh(ws, true);
      } else if (msg.type === 'error' && SEND_REFUSALS.has(msg.reason)) {
        this._emit('error', this._sendError(msg.reason, typeof msg.event === 'string' ? msg.event : undefined));
      }
    };
    ws.onerror = () => {
      // The close event that follows carries the code; nothing to do here.
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.ws = null;
      clearInterval(this.pinger);
      clearTimeout(this.welcomeTimer);
      clearTimeout(this.refreshTimer);
      this.pinger = this.welcomeTimer = this.refreshTimer = null;
      if (this.closed) return;
      this._schedule({ code: ev.code, reason: ev.reason || '' });
    };
  }

  _welcome(msg, resumed) {
    clearTimeout(this.welcomeTimer);
    this.welcomeTimer = null;
    this.attempt = 0;
    const previous = this.state;
    this.state = 'connected';
    this.toldLoss = false;
    this.user = msg.user ?? this.user;
    const sameEpoch = this.epoch === msg.epoch && this.offset !== null;
    // Within one epoch keep our own position: replayed events come next and
    // move it forward. A new epoch (or a first connect) starts at the
    // broker's offset, since offsets restart with the broker.
    if (!sameEpoch || !resumed) {
      this.epoch = msg.epoch;
      if (!sameEpoch || this.offset < msg.offset) this.offset = msg.offset;
    }
    this._savePosition();
    this._startPing();
    const info = {
      recovered: msg.recovered === true,
      epoch: msg.epoch,
      offset: msg.offset,
      resumed,
      user: msg.user,
      url: this.url,
    };
    this._emit('connect', info);
    // a second welcome on one socket (broker restart) is a `connect` only
    if (previous !== 'connected') {
      this._emit('connected', info);
      this._stateChanged(previous, { url: this.url });
    }
  }

  _event(msg) {
    if (typeof msg.offset === 'number' && this.offset !== null && msg.offset <= this.offset) {
      return; // already delivered (duplicate across a resume): drop it
    }
    if (typeof msg.offset === 'number') this.offset = msg.offset;
    this._savePosition();
    const meta = { offset: msg.offset, id: msg.id, event: msg.event };
    for (const fn of Array.from(this.anyHandlers)) {
      try { fn(msg.event, msg.data, meta); } catch (err) { this._emit('error', err); }
    }
    if (LIFECYCLE.has(msg.event)) {
      if (this.anyHandlers.size === 0) {
        this._emit('error', new Error('herald: event name "' + msg.event +
          '" is reserved for on(); only onAny handlers get it'));
      }
      return;
    }
    this._emit(msg.event, msg.data, meta);
  }

  _startPing() {
    clearInterval(this.pinger);
    if (!this.pingInterval) return;
    this.seen = true;
    const ws = this.ws;
    this.pinger = setInterval(() => {
      if (ws !== this.ws) return;
      // Nothing at all (not even a pong) since the last ping: the link is dead.
      if (!this.seen) {
        this._drop(ws, 4101, 'ping timeout');
        return;
      }
      this.seen = false;
      try { ws.send('{"type":"ping"}'); } catch (e) { /* closing */ }
    }, this.pingInterval);
  }

  // Gives up on a socket our own timers found dead, at once. ws.close()
  // alone would wait for the closing handshake, which on a dead link only
  // ends when the runtime times it out (about 30 s in Node, 60 s in
  // Chromium); so the socket is detached first (its late events are
  // ignored), closed without waiting (terminate() where the runtime has it,
  // as Node's ws does) and the reconnect scheduled now with our own code.
  _drop(ws, code, reason) {
    if (ws !== this.ws) return;
    this.ws = null;
    clearInterval(this.pinger);
    clearTimeout(this.welcomeTimer);
    clearTimeout(this.refreshTimer);
    this.pinger = this.welcomeTimer = this.refreshTimer = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => {}; // a late error on the dropped socket is expected
    try {
      if (typeof ws.terminate === 'function') ws.terminate();
      else ws.close(code, reason);
    } catch (e) {
      // already closing or closed: nothing left to release
    }
    if (!this.closed) this._schedule({ code, reason });
  }

  // The gateway closes a connection with 4002 at its token's exp unless it
  // was sent a later token. With a token function, ask it for one before
  // then: refreshBefore ahead of exp, but no earlier than halfway through
  // what is left (a short token is not refreshed at once). After a refused
  // refresh, try again halfway to exp; within the last second let the 4002
  // come (the reconnect fetches a fresh token and resumes). The browser's
  // clock decides "before": if it runs slow the 4002 may come first, which
  // costs a reconnect and no event.
  _scheduleRefresh(ws, retry = false) {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    if (typeof this.options.token !== 'function' || this.tokenExp === null) return;
    const left = this.tokenExp * 1000 - Date.now();
    if (retry && left < 1000) return;
    const delay = retry ? left / 2 : Math.max(left / 2, left - this.refreshBefore);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this._refresh(ws);
    }, Math.max(0, Math.min(delay, 0x7fffffff)));
  }

  async _refresh(ws) {
    if (ws !== this.ws || this.closed) return;
    let token;
    try {
      token = await this._token();
    } catch (err) {
      if (ws !== this.ws || this.closed) return;
      this._emit('error', err instanceof Error ? err : new Error(String(err)));
      this._scheduleRefresh(ws, true);
      return;
    }
    if (ws !== this.ws || this.closed) return;
    try { ws.send(JSON.stringify({ type: 'refresh', token })); } catch (e) { /* closing */ }
  }

  // After every socket that closed or could not be opened: back off and
  // try again (the next URL of the list), or stop for good. `disconnect`
  // tells every such socket; `disconnected` once per lost connection: when
  // a connected one ends, or when herald.js stops before it had said so.
  _schedule(info) {
    const previous = this.state;
    const tokenIsFunction = typeof this.options.token === 'function';
    let reconnect = true;
    if (STOP_CODES.has(info.code)) reconnect = false;
    if (TOKEN_CODES.has(info.code) && !tokenIsFunction) reconnect = false;
    let delay = 0;
    if (reconnect) {
      const ceiling = Math.min(this.cap, this.base * Math.pow(2, this.attempt));
      delay = Math.floor(Math.random() * ceiling);
      this.attempt = Math.min(this.attempt + 1, 30);
      this.urlIndex = (this.urlIndex + 1) % this.urls.length;
      this.url = this.urls[this.urlIndex];
      this.state = 'reconnecting';
      this.timer = setTimeout(() => { this.timer = null; this._open(); }, delay);
    } else {
      this.closed = true;
      this.state = 'disconnected';
      this._emit('error', new Error('herald: gateway closed with ' + info.code +
        (info.reason ? ' (' + info.reason + ')' : '') + '; not reconnecting'));
    }
    const told = { code: info.code, reason: info.reason, reconnect, delay };
    this._emit('disconnect', told);
    if (previous === 'connected' || (!reconnect && !this.toldLoss)) {
      this.toldLoss = true;
      this._emit('disconnected', told);
    }
    if (reconnect && this.closed) return; // a handler called close()
    this._stateChanged(previous, { code: info.code, reason: info.reason });
    if (reconnect) {
      this._emit('reconnecting', { attempt: this.attempt, delay, url: this.url, code: info.code,
        reason: info.reason });
    }
  }

  _reconnectNow() {
    clearTimeout(this.timer);
    this.timer = null;
    this._open();
  }
}

// Opens a connection that keeps itself connected until close(). url: a
// gateway's ws:// or wss:// URL, or a list of them (tried in turn).
export function connect(url, options = {}) {
  return new Connection(url, options);
}

export default { connect };
