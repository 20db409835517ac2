// herald.js -- Herald's browser client: auth, resume, events, reconnect with backoff.
//
//   import herald from '/herald.js';
//   const h = herald.connect('ws://127.0.0.1:7400/ws', { token: () => fetch('/token').then(r => r.text()) });
//   h.on('bid', (data, meta) => ...);          // meta: {offset, id, event}
//   h.on('connect', (info) => ...);            // info: {recovered, epoch, offset, resumed, user}
//   h.on('disconnect', (info) => ...);         // info: {code, reason, reconnect, delay}
//   h.on('error', (err) => ...);
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
//     sessionStorage (per URL and user) so a page reload resumes too;
//   - after each welcome every channel subscribed is subscribed again with
//     its own resume {epoch, offset} (channels keep positions of their own,
//     stored the same way).
//
// No dependencies; works in browsers and in Node (pass `WebSocket` from 'ws').

const STOP_CODES = new Set([4000, 1009, 4003]);
const TOKEN_CODES = new Set([4001, 4002]);
const LIFECYCLE = new Set(['connect', 'disconnect', 'error']);

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

class Connection {
  constructor(url, options) {
    this.url = url;
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
    if (fresh && this.state === 'open') this._sendSubscribe(sub, this.ws);
    return {
      channel,
      unsubscribe: () => this._unsubscribe(channel, entry),
    };
  }

  _unsubscribe(channel, entry) {
    const sub = this.channels.get(channel);
    if (!sub || !sub.handlers.delete(entry) || sub.handlers.size > 0) return;
    this.channels.delete(channel);
    if (this.ws && this.state === 'open') {
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
    this.state = 'closed';
    this._clearTimers();
    if (typeof globalThis.removeEventListener === 'function') {
      globalThis.removeEventListener('online', this._onOnline);
    }
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      try { ws.close(1000, 'client closed'); } catch (e) { /* already closing */ }
    }
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
    this.storageKey = 'herald.resume:' + this.url + ':' + (user || '');
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
    this.state = 'connecting';
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
        const first = this.state !== 'open';
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
    this.state = 'open';
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
    this._emit('connect', {
      recovered: msg.recovered === true,
      epoch: msg.epoch,
      offset: msg.offset,
      resumed,
      user: msg.user,
    });
  }

  _event(msg) {
    if (typeof msg.offset === 'number' && this.offset !== null && msg.offset <= this.offset) {
      return; // already delivered (duplicate across a resume): drop it
    }
    if (typeof msg.offset === 'number') this.offset = msg.offset;
    this._savePosition();
    if (LIFECYCLE.has(msg.event)) {
      this._emit('error', new Error('herald: event name "' + msg.event + '" is reserved; use another name'));
      return;
    }
    this._emit(msg.event, msg.data, { offset: msg.offset, id: msg.id, event: msg.event });
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

  _schedule(info) {
    this.state = 'waiting';
    const tokenIsFunction = typeof this.options.token === 'function';
    let reconnect = true;
    if (STOP_CODES.has(info.code)) reconnect = false;
    if (TOKEN_CODES.has(info.code) && !tokenIsFunction) reconnect = false;
    let delay = 0;
    if (reconnect) {
      const ceiling = Math.min(this.cap, this.base * Math.pow(2, this.attempt));
      delay = Math.floor(Math.random() * ceiling);
      this.attempt = Math.min(this.attempt + 1, 30);
      this.timer = setTimeout(() => { this.timer = null; this._open(); }, delay);
    } else {
      this.closed = true;
      this.state = 'closed';
      this._emit('error', new Error('herald: gateway closed with ' + info.code +
        (info.reason ? ' (' + info.reason + ')' : '') + '; not reconnecting'));
    }
    this._emit('disconnect', { code: info.code, reason: info.reason, reconnect, delay });
  }

  _reconnectNow() {
    clearTimeout(this.timer);
    this.timer = null;
    this._open();
  }
}

// Opens a connection that keeps itself connected until close().
export function connect(url, options = {}) {
  return new Connection(url, options);
}

export default { connect };
