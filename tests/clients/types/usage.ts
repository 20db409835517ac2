// usage.ts -- typed use of herald.js; `tsc --noEmit` must accept it (ctest clients.js_types).
//
// Compiled twice: here, with "herald-js" mapped to clients/js/herald.d.ts
// (tsconfig.json), and by clients.js_package in a fresh project that
// installed the packed tarball, where "herald-js" resolves through the
// package's own "exports"/"types". Each @ts-expect-error line is a misuse
// the types must refuse: if the types went loose (any), tsc fails on the
// unused directive.
import herald, { connect } from 'herald-js';
import type {
  Connection, ConnectInfo, DisconnectInfo, EventMeta, ChannelEventMeta, SubscribedInfo,
  ChannelError, Subscription, ConnectionState, PositionStorage, ReconnectingInfo, StateInfo,
} from 'herald-js';

const memory = new Map<string, string>();
const storage: PositionStorage = {
  getItem: (k) => memory.get(k) ?? null,
  setItem: (k, v) => { memory.set(k, v); },
};

const h: Connection = connect('ws://127.0.0.1:7400/ws', {
  token: () => Promise.resolve('a.b.c'),
  storage,
  backoffBase: 100,
  backoffCap: 5000,
  pingInterval: 10000,
  welcomeTimeout: 5000,
  refreshBefore: 20000,
  logErrors: false,
});
const h2 = herald.connect(['wss://a.example/ws', 'wss://b.example/ws'], { token: 'a.b.c', storage: null, app: 'shop' });
const urls: readonly string[] = h2.urls;
void urls;

h.on('state', (info: StateInfo) => {
  const s: ConnectionState = info.state;
  const before: ConnectionState | null = info.previous;
  void s; void before;
});
h.on('connecting', (info) => { const u: string = info.url; void u; });
h.on('connected', (info: ConnectInfo) => { const u: string = info.url; void u; });
h.on('disconnected', (info: DisconnectInfo) => { const again: boolean = info.reconnect; void again; });
h.on('reconnecting', (info: ReconnectingInfo) => {
  const attempt: number = info.attempt;
  const next: string = info.url;
  void attempt; void next;
});
const offAny = h.onAny((event: string, data: unknown, meta: EventMeta) => { void event; void data; void meta; });
offAny();
const sent: boolean = h.send('typing', { order: 17 });
h.send('seen');
h.on('error', (err) => { if (err.reason === 'rate' || err.reason === 'forbidden') { const e: string | undefined = err.event ?? err.channel; void e; } });
void sent;

const off: () => void = h.on('connect', (info: ConnectInfo) => {
  const r: boolean = info.recovered && info.resumed;
  const at: number = info.offset;
  const who: string = info.user;
  void r; void at; void who;
});
off();
h.on('disconnect', (info: DisconnectInfo) => {
  const again: boolean = info.reconnect;
  const code: number = info.code;
  void again; void code;
});
h.on('error', (err) => { const m: string = err.message; void m; });
h.on('bid', (data, meta: EventMeta) => {
  const offset: number = meta.offset;
  const id: string | undefined = meta.id;
  void data; void offset; void id;
});

const sub: Subscription = h.subscribe('order:17', (event: string, data: unknown, meta: ChannelEventMeta) => {
  const ch: string = meta.channel;
  void event; void data; void ch;
}, {
  token: (channel: string) => Promise.resolve(channel),
  onSubscribed: (info: SubscribedInfo) => { const r: boolean = info.recovered; void r; },
  onError: (err: ChannelError) => { const why: string = err.reason; void why; },
});
const name: string = sub.channel;
sub.unsubscribe();

const state: ConnectionState = h.state;
const offset: number | null = h.offset;
const epoch: string | null = h.epoch;
void name; void state; void offset; void epoch;
h.close();
h2.close();

// --- what the types refuse ---------------------------------------------------

// @ts-expect-error the token is required
connect('ws://127.0.0.1:7400/ws', {});
// @ts-expect-error a token is a string or a function, not a number
connect('ws://127.0.0.1:7400/ws', { token: 42 });
// @ts-expect-error connect's info is an object, not a number
h.on('connect', (info: number) => { void info; });
// @ts-expect-error disconnect info has no 'status'
h.on('disconnect', (info) => { void info.status; });
// @ts-expect-error a subscription needs a handler function
h.subscribe('order:17', 'not a function');
// @ts-expect-error the state is read-only
h.state = 'connected';
// @ts-expect-error 'open' is no state
const wrong: ConnectionState = 'open';
void wrong;
// @ts-expect-error send returns a boolean, not a promise
h.send('typing').then(() => {});
// @ts-expect-error reconnecting's info has an attempt number, not a string
h.on('reconnecting', (info) => { const a: string = info.attempt; void a; });
// @ts-expect-error connect needs at least a URL
connect(undefined, { token: 'a.b.c' });
