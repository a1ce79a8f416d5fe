// @weapp/weapp-sdk: the mini-program client of the weapp backend (login, requests, realtime socket).
// Generated from packages/weapp-sdk/src by `pnpm --filter @weapp/weapp-sdk build`: do not edit.
// Uses only wx.* APIs; no other module is required.
"use strict";
var __defProp = Object.defineProperty;
var __defProps = Object.defineProperties;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropDescs = Object.getOwnPropertyDescriptors;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __getOwnPropSymbols = Object.getOwnPropertySymbols;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __propIsEnum = Object.prototype.propertyIsEnumerable;
var __defNormalProp = (obj, key, value) => key in obj ? __defProp(obj, key, { enumerable: true, configurable: true, writable: true, value }) : obj[key] = value;
var __spreadValues = (a, b) => {
  for (var prop in b || (b = {}))
    if (__hasOwnProp.call(b, prop))
      __defNormalProp(a, prop, b[prop]);
  if (__getOwnPropSymbols)
    for (var prop of __getOwnPropSymbols(b)) {
      if (__propIsEnum.call(b, prop))
        __defNormalProp(a, prop, b[prop]);
    }
  return a;
};
var __spreadProps = (a, b) => __defProps(a, __getOwnPropDescs(b));
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

// src/index.ts
var index_exports = {};
__export(index_exports, {
  ApiError: () => ApiError,
  Auth: () => Auth,
  CLOSE_CODES: () => CLOSE_CODES,
  DEFAULT_BACKOFF_BASE_MS: () => DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_MAX_MS: () => DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_CONNECT_TIMEOUT_MS: () => DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS: () => DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS: () => DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_PATHS: () => DEFAULT_PATHS,
  DEFAULT_STORAGE_KEY: () => DEFAULT_STORAGE_KEY,
  Emitter: () => Emitter,
  ErrorCodes: () => ErrorCodes,
  LoginError: () => LoginError,
  NetworkError: () => NetworkError,
  RealtimeSocket: () => RealtimeSocket,
  TokenStore: () => TokenStore,
  VERSION: () => VERSION,
  WeappError: () => WeappError,
  backoffDelay: () => backoffDelay,
  createClient: () => createClient,
  createRequester: () => createRequester,
  equalJitter: () => equalJitter,
  fullJitter: () => fullJitter,
  isErrorBody: () => isErrorBody,
  resolveUrl: () => resolveUrl,
  rethrowLater: () => rethrowLater
});
module.exports = __toCommonJS(index_exports);

// src/errors.ts
var ErrorCodes = {
  network: "SDK_NETWORK_ERROR",
  timeout: "SDK_TIMEOUT",
  wxLogin: "SDK_WX_LOGIN_FAILED",
  badResponse: "SDK_BAD_RESPONSE",
  methodUnsupported: "SDK_METHOD_UNSUPPORTED",
  socketNotOpen: "SDK_SOCKET_NOT_OPEN",
  socket: "SDK_SOCKET_ERROR",
  socketClosed: "SDK_SOCKET_CLOSED"
};
var WeappError = class extends Error {
  constructor(code, message) {
    super(message);
    this.name = "WeappError";
    this.code = code;
  }
};
var ApiError = class extends WeappError {
  constructor(statusCode, body, requestId) {
    var _a, _b;
    const parsed = isErrorBody(body) ? body : null;
    super((_a = parsed == null ? void 0 : parsed.code) != null ? _a : `SDK_HTTP_${statusCode}`, (_b = parsed == null ? void 0 : parsed.message) != null ? _b : `HTTP ${statusCode}`);
    this.name = "ApiError";
    this.statusCode = statusCode;
    this.body = body;
    this.requestId = requestId;
  }
};
var NetworkError = class extends WeappError {
  constructor(errMsg) {
    super(/timeout/i.test(errMsg) ? ErrorCodes.timeout : ErrorCodes.network, errMsg);
    this.name = "NetworkError";
    this.errMsg = errMsg;
  }
};
var LoginError = class extends WeappError {
  constructor(errMsg) {
    super(ErrorCodes.wxLogin, errMsg);
    this.name = "LoginError";
    this.errMsg = errMsg;
  }
};
function isErrorBody(body) {
  if (typeof body !== "object" || body === null) return false;
  const b = body;
  return typeof b.code === "string" && typeof b.message === "string";
}

// src/http.ts
var METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"];
function send(wx2, req) {
  return new Promise((resolve, reject) => {
    var _a;
    const method = (_a = req.method) != null ? _a : "GET";
    if (METHODS.indexOf(method) === -1) {
      reject(new WeappError(ErrorCodes.methodUnsupported, `wx.request cannot send ${String(method)}; use ${METHODS.join(", ")}`));
      return;
    }
    const header = __spreadValues({ "content-type": "application/json" }, req.header);
    const option = {
      url: req.url,
      method,
      header,
      dataType: "json",
      responseType: "text",
      success: (res) => {
        resolve({ statusCode: res.statusCode, data: res.data, header: lowerCaseKeys(res.header) });
      },
      fail: (err) => {
        reject(new NetworkError(err.errMsg));
      }
    };
    if (req.data !== void 0) option.data = req.data;
    if (req.timeout !== void 0) option.timeout = req.timeout;
    wx2.request(option);
  });
}
function lowerCaseKeys(header) {
  const out = {};
  if (header === void 0 || header === null) return out;
  for (const key of Object.keys(header)) out[key.toLowerCase()] = String(header[key]);
  return out;
}

// src/login.ts
var Auth = class {
  constructor(options) {
    this.options = options;
    this.current = null;
    this.inflight = null;
  }
  /** The token in use, if any (no login is started). */
  token() {
    var _a, _b;
    return (_b = (_a = this.current) == null ? void 0 : _a.token) != null ? _b : null;
  }
  /**
   * A token to send: the one in memory; else the stored one if wx.checkSession says WeChat's login state
   * is still valid (checked once per launch, as WeChat documents); else a fresh wx.login.
   */
  async ensure() {
    if (this.current !== null) return this.current.token;
    return (await this.login()).token;
  }
  /** Log in (see ensure). Concurrent callers share one login; `force` always asks WeChat for a new code. */
  async login(options = {}) {
    if (this.inflight !== null) {
      const session = await this.inflight;
      if (options.force !== true || session.fresh) return session;
    }
    if (options.force !== true && this.current !== null) return this.current;
    return await this.run(options.force === true);
  }
  /**
   * The server refused `stale` (401). If another caller already replaced it, use theirs; otherwise
   * forget it and log in again (once, shared by everyone who saw the same 401).
   */
  async renew(stale) {
    if (this.inflight !== null) {
      const session = await this.inflight.catch(() => null);
      if (session !== null && session.token !== stale) return session.token;
    }
    if (this.current !== null && this.current.token !== stale) return this.current.token;
    this.forget();
    return (await this.run(true)).token;
  }
  /** Drops the token from memory and storage (after a logout, or a 401 nobody can fix). */
  forget() {
    this.current = null;
    this.options.store.clear();
  }
  run(force) {
    if (this.inflight !== null) return this.inflight;
    const flight = this.perform(force);
    this.inflight = flight;
    const done = () => {
      if (this.inflight === flight) this.inflight = null;
    };
    flight.then(done, done);
    return flight;
  }
  async perform(force) {
    if (!force) {
      const stored = this.options.store.get();
      if (stored !== null && await checkSession(this.options.wx)) {
        this.current = __spreadProps(__spreadValues({}, stored), { fresh: false });
        return this.current;
      }
    }
    const code = await wxLogin(this.options.wx);
    const res = await send(this.options.wx, { url: this.options.loginUrl, method: "POST", data: { code }, timeout: this.options.timeout });
    if (res.statusCode !== 200) throw new ApiError(res.statusCode, res.data, res.header["x-request-id"]);
    const body = res.data;
    if (typeof body !== "object" || body === null || typeof body.token !== "string" || typeof body.expiresAt !== "string") {
      throw new WeappError(ErrorCodes.badResponse, "POST /api/login answered without a token");
    }
    const session = { token: body.token, expiresAt: body.expiresAt, fresh: true };
    if (body.user !== void 0) session.user = body.user;
    this.options.store.set(session);
    this.current = session;
    return session;
  }
};
function wxLogin(wx2) {
  return new Promise((resolve, reject) => {
    wx2.login({
      success: (res) => {
        var _a;
        if (typeof res.code === "string" && res.code !== "") resolve(res.code);
        else reject(new LoginError((_a = res.errMsg) != null ? _a : "login:fail no code"));
      },
      fail: (err) => {
        reject(new LoginError(err.errMsg));
      }
    });
  });
}
function checkSession(wx2) {
  return new Promise((resolve) => {
    wx2.checkSession({ success: () => {
      resolve(true);
    }, fail: () => {
      resolve(false);
    } });
  });
}

// src/request.ts
function createRequester(options) {
  const { wx: wx2, auth } = options;
  function attempt(req, token) {
    var _a, _b;
    const header = __spreadValues({}, req.header);
    if (token !== null) header.authorization = `Bearer ${token}`;
    const timeout = (_a = req.timeout) != null ? _a : options.timeout;
    return send(wx2, { url: resolveUrl(options.baseUrl, req.path), method: (_b = req.method) != null ? _b : "GET", data: req.data, header, timeout });
  }
  async function raw(req) {
    const useAuth = req.auth !== false;
    const token = useAuth ? await auth.ensure() : null;
    let res = await attempt(req, token);
    if (res.statusCode === 401 && token !== null) {
      const renewed = await auth.renew(token);
      res = await attempt(req, renewed);
    }
    if (res.statusCode < 200 || res.statusCode > 299) throw new ApiError(res.statusCode, res.data, res.header["x-request-id"]);
    return res;
  }
  const request = (async (req) => {
    const res = await raw(req);
    return res.statusCode === 204 || res.data === "" ? null : res.data;
  });
  request.raw = raw;
  return request;
}
function resolveUrl(base, path) {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return path;
  return base.replace(/\/+$/, "") + (path.startsWith("/") ? path : `/${path}`);
}

// src/backoff.ts
var DEFAULT_BACKOFF_BASE_MS = 1e3;
var DEFAULT_BACKOFF_MAX_MS = 3e4;
function equalJitter(random = Math.random) {
  return (ceiling) => ceiling / 2 + random() * (ceiling / 2);
}
function fullJitter(random = Math.random) {
  return (ceiling) => random() * ceiling;
}
function backoffDelay(attempt, options = {}) {
  var _a, _b, _c;
  const base = (_a = options.baseMs) != null ? _a : DEFAULT_BACKOFF_BASE_MS;
  const max = (_b = options.maxMs) != null ? _b : DEFAULT_BACKOFF_MAX_MS;
  const ceiling = Math.min(max, base * Math.pow(2, Math.min(Math.max(attempt, 0), 30)));
  const jittered = ((_c = options.jitter) != null ? _c : equalJitter())(ceiling);
  return Math.round(Math.min(max, Math.max(0, Number.isFinite(jittered) ? jittered : ceiling)));
}

// src/emitter.ts
function rethrowLater(err) {
  setTimeout(() => {
    throw err;
  }, 0);
}
var Emitter = class {
  constructor(reportError = rethrowLater) {
    this.reportError = reportError;
    this.listeners = {};
  }
  /** Returns a function that removes the listener. */
  on(event, listener) {
    var _a;
    const list = (_a = this.listeners[event]) != null ? _a : this.listeners[event] = [];
    list.push(listener);
    return () => {
      this.off(event, listener);
    };
  }
  once(event, listener) {
    const off = this.on(event, (arg) => {
      off();
      listener(arg);
    });
    return off;
  }
  off(event, listener) {
    const list = this.listeners[event];
    if (list === void 0) return;
    const i = list.indexOf(listener);
    if (i !== -1) list.splice(i, 1);
  }
  emit(event, arg) {
    const list = this.listeners[event];
    if (list === void 0) return;
    for (const listener of list.slice()) {
      try {
        listener(arg);
      } catch (err) {
        this.reportError(err);
      }
    }
  }
  listenerCount(event) {
    var _a, _b;
    return (_b = (_a = this.listeners[event]) == null ? void 0 : _a.length) != null ? _b : 0;
  }
};

// src/socket.ts
var CLOSE_CODES = { normal: 1e3, goingAway: 1001, abnormal: 1006, replaced: 1008, tooBig: 1009, tryAgainLater: 1013, heartbeatTimeout: 4e3 };
var DEFAULT_HEARTBEAT_INTERVAL_MS = 25e3;
var DEFAULT_HEARTBEAT_TIMEOUT_MS = 1e4;
var DEFAULT_CONNECT_TIMEOUT_MS = 1e4;
var SERVER_ENVELOPES = ["event", "pong", "subscribed", "unsubscribed", "error"];
var RealtimeSocket = class extends Emitter {
  constructor(deps, options = {}) {
    var _a;
    super();
    this.deps = deps;
    this.options = options;
    this.conn = null;
    this.currentState = "idle";
    this.stopped = true;
    this.attempt = 0;
    this.pingSeq = 0;
    this.pingsSent = {};
    this.channelSet = new Set((_a = options.channels) != null ? _a : []);
    if (options.autoConnect !== false) this.connect();
  }
  get state() {
    return this.currentState;
  }
  /** The channels joined now and re-joined after a reconnect. */
  get channels() {
    return Array.from(this.channelSet);
  }
  /** Starts (or restarts, after close() or a replacement) connecting. No-op while connecting or open. */
  connect() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    void this.open();
  }
  /** Closes for good (1000): no reconnect until connect() is called again. */
  close() {
    const wasRunning = !this.stopped;
    this.stopped = true;
    this.clearTimers();
    const conn = this.conn;
    this.conn = null;
    const hadOpen = (conn == null ? void 0 : conn.opened) === true && !conn.down;
    if (conn !== null) {
      conn.down = true;
      if (conn.openTimer !== void 0) clearTimeout(conn.openTimer);
      closeTask(conn.task, CLOSE_CODES.normal, "client closed");
    }
    this.currentState = "closed";
    if (wasRunning && hadOpen) this.emit("close", { code: CLOSE_CODES.normal, reason: "client closed", reconnectInMs: null });
  }
  /** Sends a text frame; the server echoes non-envelope text as `Server: Received(<text>)`. */
  send(text) {
    var _a;
    const task = (_a = this.conn) == null ? void 0 : _a.task;
    if (this.currentState !== "open" || task === null || task === void 0) throw new WeappError(ErrorCodes.socketNotOpen, "the socket is not open");
    task.send({ data: text });
  }
  sendJson(message) {
    this.send(JSON.stringify(message));
  }
  /** An app-level ping now; the answer arrives as a `pong` event. Returns its id. */
  ping() {
    const id = ++this.pingSeq;
    this.pingsSent[id] = Date.now();
    this.sendJson({ type: "ping", id });
    return id;
  }
  /** Joins a channel now (when open) and after every reconnect. */
  subscribe(channel) {
    this.channelSet.add(channel);
    if (this.currentState === "open") this.sendJson({ type: "subscribe", channel });
  }
  unsubscribe(channel) {
    this.channelSet.delete(channel);
    if (this.currentState === "open") this.sendJson({ type: "unsubscribe", channel });
  }
  /** Handler for one push event name; returns a function that removes it. */
  onEvent(name, handler) {
    return this.on("event", (push) => {
      if (push.event === name) handler(push.data, push);
    });
  }
  async open() {
    var _a;
    const conn = { task: null, openTimer: void 0, opened: false, greeted: false, down: false };
    this.conn = conn;
    this.currentState = "connecting";
    let target;
    try {
      target = await this.target();
    } catch (err) {
      if (this.conn !== conn) return;
      this.emit("error", asWeappError(err));
      this.down(conn, CLOSE_CODES.abnormal, "could not get a ticket", false);
      return;
    }
    if (this.conn !== conn) return;
    const option = {
      url: target.url,
      fail: (res) => {
        if (this.conn !== conn || conn.down) return;
        this.emit("error", new WeappError(ErrorCodes.socket, res.errMsg));
        this.down(conn, CLOSE_CODES.abnormal, res.errMsg, false);
      }
    };
    if (target.header !== void 0) option.header = target.header;
    const connectTimeout = (_a = this.options.connectTimeoutMs) != null ? _a : DEFAULT_CONNECT_TIMEOUT_MS;
    option.timeout = connectTimeout;
    const task = this.deps.wx.connectSocket(option);
    conn.task = task;
    conn.openTimer = setTimeout(() => {
      conn.openTimer = void 0;
      if (this.conn !== conn || conn.down || conn.opened) return;
      this.emit("error", new WeappError(ErrorCodes.timeout, `not connected within ${connectTimeout} ms`));
      this.down(conn, CLOSE_CODES.abnormal, "connect timeout", true);
    }, connectTimeout);
    task.onOpen(() => {
      if (this.conn !== conn || conn.down) return;
      if (conn.openTimer !== void 0) {
        clearTimeout(conn.openTimer);
        conn.openTimer = void 0;
      }
      conn.opened = true;
      this.currentState = "open";
      for (const channel of this.channelSet) this.sendJson({ type: "subscribe", channel });
      this.startHeartbeat(conn);
      this.emit("open", { attempt: this.attempt });
    });
    task.onMessage((res) => {
      if (this.conn !== conn || conn.down) return;
      this.frame(conn, res.data);
    });
    task.onError((res) => {
      if (this.conn !== conn || conn.down) return;
      this.emit("error", new WeappError(ErrorCodes.socket, res.errMsg));
      this.down(conn, CLOSE_CODES.abnormal, res.errMsg, true);
    });
    task.onClose((res) => {
      this.down(conn, res.code, res.reason, false);
    });
  }
  async target() {
    if (this.options.auth === "header") {
      const token = await this.deps.auth.ensure();
      return { url: resolveUrl(this.deps.wsUrl, this.deps.wsPath), header: { authorization: `Bearer ${token}` } };
    }
    const issued = await this.deps.request({ path: this.deps.ticketPath, method: "POST" });
    const path = typeof (issued == null ? void 0 : issued.url) === "string" ? issued.url : `${this.deps.wsPath}?ticket=${encodeURIComponent(issued.ticket)}`;
    return { url: resolveUrl(this.deps.wsUrl, path) };
  }
  frame(conn, data) {
    var _a, _b;
    if (this.pongTimer !== void 0) {
      clearTimeout(this.pongTimer);
      this.pongTimer = void 0;
    }
    if (typeof data !== "string") return;
    if (!conn.greeted) {
      conn.greeted = true;
      this.attempt = 0;
      this.emit("greeting", data);
      return;
    }
    const envelope = parseServerEnvelope(data);
    if (envelope === null) {
      this.emit("message", data);
      return;
    }
    this.emit("envelope", envelope);
    switch (envelope.type) {
      case "event": {
        const push = { event: String(envelope.event), data: envelope.data };
        if (typeof envelope.channel === "string") push.channel = envelope.channel;
        this.emit("event", push);
        break;
      }
      case "pong": {
        const id = typeof envelope.id === "number" ? envelope.id : 0;
        const sentAt = this.pingsSent[id];
        delete this.pingsSent[id];
        this.emit("pong", { id, rttMs: sentAt === void 0 ? -1 : Date.now() - sentAt });
        break;
      }
      case "subscribed":
        this.emit("subscribed", String(envelope.channel));
        break;
      case "unsubscribed":
        this.emit("unsubscribed", String(envelope.channel));
        break;
      case "error": {
        if (typeof envelope.channel === "string") this.channelSet.delete(envelope.channel);
        this.emit("error", new WeappError(String((_a = envelope.code) != null ? _a : ErrorCodes.socket), String((_b = envelope.message) != null ? _b : "socket error")));
        break;
      }
    }
  }
  startHeartbeat(conn) {
    var _a, _b;
    const interval = (_a = this.options.heartbeatIntervalMs) != null ? _a : DEFAULT_HEARTBEAT_INTERVAL_MS;
    if (interval <= 0) return;
    const timeout = (_b = this.options.heartbeatTimeoutMs) != null ? _b : DEFAULT_HEARTBEAT_TIMEOUT_MS;
    const beat = () => {
      this.heartbeatTimer = void 0;
      if (this.conn !== conn || conn.down) return;
      try {
        this.ping();
      } catch (e) {
        return;
      }
      if (this.pongTimer === void 0) {
        this.pongTimer = setTimeout(() => {
          this.pongTimer = void 0;
          if (this.conn !== conn || conn.down) return;
          this.emit("error", new WeappError(ErrorCodes.socketClosed, `no answer to the heartbeat within ${timeout} ms`));
          this.down(conn, CLOSE_CODES.heartbeatTimeout, "heartbeat timeout", true);
        }, timeout);
      }
      this.heartbeatTimer = setTimeout(beat, interval);
    };
    this.heartbeatTimer = setTimeout(beat, interval);
  }
  clearTimers() {
    if (this.reconnectTimer !== void 0) clearTimeout(this.reconnectTimer);
    if (this.heartbeatTimer !== void 0) clearTimeout(this.heartbeatTimer);
    if (this.pongTimer !== void 0) clearTimeout(this.pongTimer);
    this.reconnectTimer = this.heartbeatTimer = this.pongTimer = void 0;
    for (const id of Object.keys(this.pingsSent)) delete this.pingsSent[Number(id)];
  }
  /** This connection is over (closed by the server, failed, or dead): decide whether and when to retry. */
  down(conn, code, reason, closeOurs) {
    var _a;
    if (conn.down) return;
    conn.down = true;
    if (conn.openTimer !== void 0) {
      clearTimeout(conn.openTimer);
      conn.openTimer = void 0;
    }
    if (closeOurs) closeTask(conn.task, code >= 3e3 ? code : CLOSE_CODES.normal, reason);
    if (this.conn !== conn) return;
    this.conn = null;
    this.clearTimers();
    if (this.stopped) return;
    const opened = conn.opened;
    const limit = (_a = this.options.maxReconnectAttempts) != null ? _a : Infinity;
    if (code === CLOSE_CODES.replaced || this.attempt >= limit) {
      this.stopped = true;
      this.currentState = "closed";
      if (opened) this.emit("close", { code, reason, reconnectInMs: null });
      if (code === CLOSE_CODES.replaced) this.emit("replaced", { code, reason });
      return;
    }
    const delayMs = backoffDelay(this.attempt, this.options.backoff);
    this.attempt++;
    this.currentState = "connecting";
    if (opened) this.emit("close", { code, reason, reconnectInMs: delayMs });
    this.emit("reconnecting", { attempt: this.attempt, delayMs });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = void 0;
      if (!this.stopped) void this.open();
    }, delayMs);
  }
};
function closeTask(task, code, reason) {
  if (task === null) return;
  try {
    task.close({ code, reason, fail: () => {
    } });
  } catch (e) {
  }
}
function parseServerEnvelope(text) {
  if (text.charAt(0) !== "{") return null;
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  const type = parsed.type;
  return typeof type === "string" && SERVER_ENVELOPES.indexOf(type) !== -1 ? parsed : null;
}
function asWeappError(err) {
  if (err instanceof WeappError) return err;
  return new WeappError(ErrorCodes.socket, err instanceof Error ? err.message : String(err));
}

// src/storage.ts
var DEFAULT_STORAGE_KEY = "weapp-sdk:session";
var TokenStore = class {
  constructor(wx2, key = DEFAULT_STORAGE_KEY, now = Date.now) {
    this.wx = wx2;
    this.key = key;
    this.now = now;
  }
  /** The stored session, or null when there is none, it is malformed, or it has expired. */
  get() {
    let value;
    try {
      value = this.wx.getStorageSync(this.key);
    } catch (e) {
      return null;
    }
    if (typeof value !== "object" || value === null) return null;
    const { token, expiresAt } = value;
    if (typeof token !== "string" || token === "" || typeof expiresAt !== "string") return null;
    const expires = Date.parse(expiresAt);
    if (Number.isNaN(expires) || expires <= this.now()) return null;
    return { token, expiresAt };
  }
  set(session) {
    try {
      this.wx.setStorageSync(this.key, { token: session.token, expiresAt: session.expiresAt });
    } catch (e) {
    }
  }
  clear() {
    try {
      this.wx.removeStorageSync(this.key);
    } catch (e) {
    }
  }
};

// src/wx.ts
function resolveWx(given) {
  if (given !== void 0) return given;
  if (typeof wx === "undefined") throw new TypeError("weapp-sdk: no global `wx`; run inside a mini-program or pass options.wx");
  return wx;
}

// src/client.ts
var DEFAULT_PATHS = {
  login: "/api/login",
  logout: "/api/logout",
  me: "/api/me",
  tickets: "/api/ws/tickets",
  ws: "/ws"
};
function createClient(options) {
  var _a, _b;
  if (typeof (options == null ? void 0 : options.baseUrl) !== "string" || !/^https?:\/\//.test(options.baseUrl)) {
    throw new TypeError("weapp-sdk: options.baseUrl must be an http(s) URL");
  }
  const wx2 = resolveWx(options.wx);
  const paths = __spreadValues(__spreadValues({}, DEFAULT_PATHS), options.paths);
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const wsUrl = ((_a = options.wsUrl) != null ? _a : baseUrl.replace(/^http/, "ws")).replace(/\/+$/, "");
  const store = new TokenStore(wx2, (_b = options.storageKey) != null ? _b : DEFAULT_STORAGE_KEY);
  const auth = new Auth({ wx: wx2, store, loginUrl: resolveUrl(baseUrl, paths.login), timeout: options.timeoutMs });
  const request = createRequester({ wx: wx2, auth, baseUrl, timeout: options.timeoutMs });
  return {
    login: async (opts) => await auth.login(opts),
    logout: async () => {
      var _a2, _b2, _c;
      const token = (_c = (_b2 = auth.token()) != null ? _b2 : (_a2 = store.get()) == null ? void 0 : _a2.token) != null ? _c : null;
      auth.forget();
      if (token === null) return;
      try {
        await request({ path: paths.logout, method: "POST", auth: false, header: { authorization: `Bearer ${token}` } });
      } catch (err) {
        if (!(err instanceof ApiError && err.statusCode === 401)) throw err;
      }
    },
    request,
    me: async () => await request({ path: paths.me }),
    updateMe: async (patch) => await request({ path: paths.me, method: "PUT", data: patch }),
    socket: (socketOptions) => new RealtimeSocket({ wx: wx2, auth, request, wsUrl, ticketPath: paths.tickets, wsPath: paths.ws }, socketOptions),
    token: () => auth.token()
  };
}

// src/index.ts
var VERSION = "0.1.0";
