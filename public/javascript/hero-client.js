/*
 * hero-client.js: a dependency-free client for hero (PROTOCOL §3), for browsers and Node.
 *
 *   const client = new HeroClient();                    // ws(s)://<this page's host>/ws
 *   await client.action("randomNumber");                // before connect(): over HTTP, /api/randomNumber
 *   client.on("say", (message) => console.log(message.from, message.message));
 *   await client.connect();                             // resolves with the welcome message
 *   const reply = await client.action("randomNumber"); // now over the WebSocket; the same shape
 *   await client.roomAdd("defaultRoom");
 *   await client.say("defaultRoom", {any: "JSON value"});
 *
 * Promises resolve with the reply; an action or verb that fails rejects with an Error whose
 * `response` holds the whole reply (and, over HTTP, `status` the HTTP status). The client reconnects
 * with backoff after an unexpected close and rejoins its rooms, then emits "reconnect". While it is not connected (before
 * connect(), or while reconnecting) `action()` goes over HTTP to `/api/<action>` with the same session
 * fingerprint, as actionhero's client does. The HTTP address follows from the WebSocket one
 * (ws://host/ws -> http://host/api) unless `httpUrl` is given.
 *
 * Types: hero-client.d.ts. As an ES module: hero-client.mjs (built from this file by scripts/build-client).
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory();
  } else {
    root.HeroClient = factory();
  }
})(typeof self !== "undefined" ? self : this, function () {
  // BEGIN HeroClient: scripts/build-client copies the lines up to END into hero-client.mjs.
  "use strict";

  var EVENTS = ["welcome", "say", "close", "open", "reconnect", "error", "message"];
  var HTTP_METADATA = ["serverInformation", "requesterInformation"];

  function defaultUrl() {
    if (typeof window === "undefined" || !window.location) {
      throw new Error("HeroClient: give options.url outside a browser");
    }
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + "/ws";
  }

  /** The HTTP API address beside a WebSocket address: ws://host/ws -> http://host/api (null if none). */
  function httpUrlFor(url) {
    var match = /^(wss?):\/\/([^\/?#]+)([^?#]*)/i.exec(url);
    if (!match) {
      return null;
    }
    var path = match[3].replace(/\/ws\/?$/, "").replace(/\/$/, "");
    return (match[1].toLowerCase() === "wss" ? "https" : "http") + "://" + match[2] + path + "/api";
  }

  function copy(object) {
    var result = {};
    Object.keys(object || {}).forEach(function (key) { result[key] = object[key]; });
    return result;
  }

  function failed(reply) {
    return reply.status === "error" || ("error" in reply && reply.error !== null && reply.error !== undefined);
  }

  function replyError(reply) {
    var error = new Error(typeof reply.error === "string" ? reply.error : JSON.stringify(reply.error));
    error.response = reply;
    return error;
  }

  function HeroClient(options) {
    options = options || {};
    this.url = options.url || defaultUrl();
    this.httpUrl = (options.httpUrl || httpUrlFor(this.url) || "").replace(/\/$/, "") || null;
    // The session fingerprint shared by the WebSocket and the HTTP fallback (learned when not given).
    this.fingerprint = options.sessionID || null;
    this.WebSocket = options.WebSocket || (typeof WebSocket !== "undefined" ? WebSocket : null);
    var fetchImpl = options.fetch || (typeof fetch !== "undefined" ? fetch : null);
    // NOTE: a wrapper, because a browser's fetch throws "Illegal invocation" when called as a method.
    this._fetch = fetchImpl ? function (url, init) { return fetchImpl(url, init); } : null;
    this.reconnect = options.reconnect !== false;
    this.minDelay = options.minDelay || 500;
    this.maxDelay = options.maxDelay || 30000;
    this.timeout = options.timeout || 30000;
    this.state = "closed";
    this.welcome = null;
    this.rooms = [];
    this.socket = null;
    this._messageId = 0;
    this._pending = {};
    this._handlers = {};
    this._attempts = 0;
    this._timer = null;
    this._stopped = false;
    this._connecting = null;
    this._session = null;
  }

  HeroClient.httpUrlFor = httpUrlFor;

  HeroClient.prototype.on = function (event, handler) {
    if (EVENTS.indexOf(event) === -1) {
      throw new Error("HeroClient: unknown event " + event + " (" + EVENTS.join(", ") + ")");
    }
    (this._handlers[event] = this._handlers[event] || []).push(handler);
    return this;
  };

  HeroClient.prototype.off = function (event, handler) {
    var list = this._handlers[event] || [];
    this._handlers[event] = list.filter(function (item) { return item !== handler; });
    return this;
  };

  HeroClient.prototype._emit = function (event, value) {
    (this._handlers[event] || []).slice().forEach(function (handler) {
      try {
        handler(value);
      } catch (error) {
        setTimeout(function () { throw error; }, 0);  // a handler's bug must not break the client
      }
    });
  };

  HeroClient.prototype._socketUrl = function () {
    if (!this.fingerprint) {
      return this.url;
    }
    return this.url + (this.url.indexOf("?") === -1 ? "?" : "&") + "sessionID=" + encodeURIComponent(this.fingerprint);
  };

  /** Open the socket; resolves with the welcome message. */
  HeroClient.prototype.connect = function () {
    var client = this;
    if (client.state === "open") {
      return Promise.resolve(client.welcome);
    }
    if (client._connecting) {
      return client._connecting;
    }
    if (!client.WebSocket) {
      return Promise.reject(new Error("HeroClient: no WebSocket implementation; pass options.WebSocket"));
    }
    client._stopped = false;
    client._connecting = new Promise(function (resolve, reject) {
      var socket;
      try {
        socket = new client.WebSocket(client._socketUrl());
      } catch (error) {
        client._connecting = null;
        reject(error);
        return;
      }
      client.socket = socket;
      client.state = "connecting";
      var welcomed = false;
      socket.onmessage = function (event) {
        var message;
        try {
          message = JSON.parse(typeof event.data === "string" ? event.data : String(event.data));
        } catch (error) {
          client._emit("error", error);
          return;
        }
        if (!welcomed && message.context === "api" && "welcome" in message) {
          welcomed = true;
          client.state = "open";
          client.welcome = message;
          client._connecting = null;
          var reconnected = client._attempts > 0;
          client._attempts = 0;
          client._learnSession();
          client._emit("open", message);
          client._emit("welcome", message);
          if (reconnected) {
            client._rejoin().then(function () { client._emit("reconnect", message); });
          }
          resolve(message);
          return;
        }
        client._dispatch(message);
      };
      socket.onerror = function (event) {
        client._emit("error", event);
      };
      socket.onclose = function (event) {
        var wasOpen = welcomed;
        client.state = "closed";
        client.socket = null;
        client._connecting = null;
        client._failPending(new Error("the connection closed (" + event.code + ")"));
        client._emit("close", {code: event.code, reason: event.reason});
        if (!wasOpen) {
          reject(new Error("could not connect to " + client.url + " (" + event.code + ")"));
        }
        client._scheduleReconnect(event.code);
      };
    });
    return client._connecting;
  };

  /** Close for good (no reconnect). */
  HeroClient.prototype.disconnect = function () {
    this._stopped = true;
    clearTimeout(this._timer);
    if (this.socket) {
      this.socket.close(1000);
    }
  };

  HeroClient.prototype._scheduleReconnect = function (code) {
    var client = this;
    // NOTE: 1000 is the end the client asked for (quit); 1008 (policy) would only repeat itself.
    if (!client.reconnect || client._stopped || code === 1000 || code === 1008) {
      return;
    }
    var delay = Math.min(client.maxDelay, client.minDelay * Math.pow(2, client._attempts));
    delay = delay / 2 + Math.random() * delay / 2;  // jitter: a restarted server is not stampeded
    client._attempts += 1;
    clearTimeout(client._timer);
    client._timer = setTimeout(function () {
      client.connect().catch(function () { /* onclose schedules the next attempt */ });
    }, delay);
  };

  /** Join again the rooms it was in; settles when every join has answered ("reconnect" waits for it). */
  HeroClient.prototype._rejoin = function () {
    var client = this;
    return Promise.all(client.rooms.slice().map(function (room) {
      return client.verb("roomAdd", {room: room}).catch(function (error) {
        client.rooms = client.rooms.filter(function (item) { return item !== room; });
        client._emit("error", error);
      });
    }));
  };

  // NOTE: a socket opened without ?sessionID= gets its own fingerprint; ask for it once, so that the
  // HTTP fallback (and the next reconnect) carry the same session.
  HeroClient.prototype._learnSession = function () {
    var client = this;
    if (client.fingerprint) {
      client._session = null;
      return;
    }
    client._session = client.verb("detailsView").then(function (details) {
      client.fingerprint = client.fingerprint || details.fingerprint;
    }, function () { /* closed meanwhile: the fallback goes without one */ });
  };

  HeroClient.prototype._dispatch = function (message) {
    this._emit("message", message);
    if (message.context === "user") {
      this._emit("say", message);
      return;
    }
    if (message.context !== "response" || !(message.messageId in this._pending)) {
      return;
    }
    var pending = this._pending[message.messageId];
    delete this._pending[message.messageId];
    clearTimeout(pending.timer);
    if (failed(message)) {
      pending.reject(replyError(message));
    } else {
      pending.resolve(pending.verb && "status" in message ? message.data : message);
    }
  };

  HeroClient.prototype._failPending = function (error) {
    var pending = this._pending;
    this._pending = {};
    Object.keys(pending).forEach(function (id) {
      clearTimeout(pending[id].timer);
      pending[id].reject(error);
    });
  };

  /** Send one event and wait for its reply (matched by messageId). */
  HeroClient.prototype.send = function (message, verb) {
    var client = this;
    if (client.state !== "open") {
      return Promise.reject(new Error("not connected"));
    }
    client._messageId += 1;
    var messageId = message.messageId !== undefined ? message.messageId : client._messageId;
    message.messageId = messageId;
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () {
        delete client._pending[messageId];
        reject(new Error("no reply in " + client.timeout + " ms"));
      }, client.timeout);
      client._pending[messageId] = {resolve: resolve, reject: reject, timer: timer, verb: verb};
      client.socket.send(JSON.stringify(message));
    });
  };

  /** Run an action; resolves with its response. Over the socket when open, else over HTTP. */
  HeroClient.prototype.action = function (name, params) {
    var merged = copy(params);
    merged.action = name;
    if (this.state !== "open") {
      return this._httpAction(name, merged);
    }
    var message = {event: "action", params: merged};
    if (merged.messageId !== undefined) {
      message.messageId = merged.messageId;
    }
    return this.send(message, false);
  };

  HeroClient.prototype._httpAction = function (name, params) {
    var client = this;
    if (!client.httpUrl || !client._fetch) {
      return Promise.reject(new Error("not connected, and no HTTP fallback (" +
        (client.httpUrl ? "no fetch(); pass options.fetch" : "give options.httpUrl") + ")"));
    }
    client._messageId += 1;
    var messageId = params.messageId !== undefined ? params.messageId : client._messageId;
    var url = client.httpUrl + "/" + encodeURIComponent(name);
    var body = copy(params);
    delete body.action;  // the path names it
    return Promise.resolve(client._session).then(function () {
      var headers = {"Content-Type": "application/json", Accept: "application/json"};
      if (client.fingerprint) {
        headers["X-SessionID"] = client.fingerprint;
      }
      var controller = typeof AbortController !== "undefined" ? new AbortController() : null;
      var timer = null;
      var timedOut = new Promise(function (resolve, reject) {
        timer = setTimeout(function () {
          if (controller) { controller.abort(); }
          reject(new Error("no reply in " + client.timeout + " ms"));
        }, client.timeout);
      });
      var request = client._fetch(url, {
        method: "POST",
        headers: headers,
        body: JSON.stringify(body),
        // NOTE: with a fingerprint the header says who we are; a page's own sessionID cookie (which
        // the server prefers) would split the client's session in two.
        credentials: client.fingerprint ? "omit" : "same-origin",
        signal: controller ? controller.signal : undefined
      }).then(function (response) {
        return response.text().then(function (text) { return client._httpReply(url, response, text, messageId); });
      }, function (error) {
        throw new Error("could not reach " + url + " (" + (error && error.message || error) + ")");
      });
      return Promise.race([request, timedOut]).then(function (reply) {
        clearTimeout(timer);
        return reply;
      }, function (error) {
        clearTimeout(timer);
        throw error;
      });
    });
  };

  HeroClient.prototype._httpReply = function (url, response, text, messageId) {
    var reply = null;
    try {
      reply = JSON.parse(text);
    } catch (ignored) { /* not JSON: reported below */ }
    if (!reply || typeof reply !== "object" || Array.isArray(reply)) {
      var error = new Error("HTTP " + response.status + " from " + url + " is not a JSON object");
      error.status = response.status;
      throw error;
    }
    var requester = reply.requesterInformation || {};
    var cookie = response.headers && response.headers.get ? response.headers.get("set-cookie") : null;
    var fromCookie = cookie ? /(?:^|[;,]\s*)sessionID=([^;,\s]+)/.exec(cookie) : null;
    this.fingerprint = this.fingerprint || requester.fingerprint || (fromCookie && fromCookie[1]) || null;
    // The same shape as a reply over the socket: the response, its context and messageId.
    HTTP_METADATA.forEach(function (key) { delete reply[key]; });
    reply.context = "response";
    reply.messageId = messageId;
    if (!response.ok || failed(reply)) {
      var failure = replyError(reply);
      failure.status = response.status;
      throw failure;
    }
    return reply;
  };

  HeroClient.prototype.verb = function (event, fields) {
    var message = copy(fields);
    message.event = event;
    return this.send(message, true);
  };

  HeroClient.prototype.roomAdd = function (room) {
    var client = this;
    return client.verb("roomAdd", {room: room}).then(function (data) {
      if (client.rooms.indexOf(room) === -1) {
        client.rooms.push(room);
      }
      return data;
    });
  };

  HeroClient.prototype.roomLeave = function (room) {
    var client = this;
    return client.verb("roomLeave", {room: room}).then(function (data) {
      client.rooms = client.rooms.filter(function (item) { return item !== room; });
      return data;
    });
  };

  HeroClient.prototype.roomView = function (room) { return this.verb("roomView", {room: room}); };
  HeroClient.prototype.say = function (room, message) { return this.verb("say", {room: room, message: message}); };
  HeroClient.prototype.detailsView = function () { return this.verb("detailsView"); };
  HeroClient.prototype.documentation = function () { return this.verb("documentation"); };
  HeroClient.prototype.file = function (path) { return this.verb("file", {file: path}); };

  return HeroClient;
  // END HeroClient
});
