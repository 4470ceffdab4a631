/*
 * hero-client.js: a dependency-free client for hero's WebSocket API (PROTOCOL §3).
 *
 *   const client = new HeroClient();                    // ws(s)://<this page's host>/ws
 *   client.on("say", (message) => console.log(message.from, message.message));
 *   await client.connect();                             // resolves with the welcome message
 *   const reply = await client.action("randomNumber"); // the action's response
 *   await client.roomAdd("defaultRoom");
 *   await client.say("defaultRoom", {any: "JSON value"});
 *
 * Promises resolve with the reply; an action or verb that fails rejects with an Error whose
 * `response` holds the whole reply. The client reconnects with backoff after an unexpected close
 * and rejoins its rooms. Works in browsers and in Node (pass `WebSocket` when there is no global one).
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory();
  } else {
    root.HeroClient = factory();
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var EVENTS = ["welcome", "say", "close", "open", "reconnect", "error", "message"];

  function defaultUrl() {
    if (typeof window === "undefined" || !window.location) {
      throw new Error("HeroClient: give options.url outside a browser");
    }
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + "/ws";
  }

  function HeroClient(options) {
    options = options || {};
    this.url = options.url || defaultUrl();
    if (options.sessionID) {
      this.url += (this.url.indexOf("?") === -1 ? "?" : "&") + "sessionID=" + encodeURIComponent(options.sessionID);
    }
    this.WebSocket = options.WebSocket || (typeof WebSocket !== "undefined" ? WebSocket : null);
    if (!this.WebSocket) {
      throw new Error("HeroClient: no WebSocket implementation; pass options.WebSocket");
    }
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
  }

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

  /** Open the socket; resolves with the welcome message. */
  HeroClient.prototype.connect = function () {
    var client = this;
    if (client.state === "open") {
      return Promise.resolve(client.welcome);
    }
    if (client._connecting) {
      return client._connecting;
    }
    client._stopped = false;
    client._connecting = new Promise(function (resolve, reject) {
      var socket;
      try {
        socket = new client.WebSocket(client.url);
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
          client._emit("open", message);
          client._emit("welcome", message);
          if (reconnected) {
            client._rejoin();
            client._emit("reconnect", message);
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

  HeroClient.prototype._rejoin = function () {
    var client = this;
    var rooms = client.rooms.slice();
    client.rooms = [];
    rooms.forEach(function (room) {
      client.roomAdd(room).catch(function (error) { client._emit("error", error); });
    });
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
    var failed = message.status === "error" || ("error" in message && message.error !== null && message.error !== undefined);
    if (failed) {
      var error = new Error(typeof message.error === "string" ? message.error : JSON.stringify(message.error));
      error.response = message;
      pending.reject(error);
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

  /** Run an action; resolves with its response. */
  HeroClient.prototype.action = function (name, params) {
    var merged = {};
    Object.keys(params || {}).forEach(function (key) { merged[key] = params[key]; });
    merged.action = name;
    var message = {event: "action", params: merged};
    if (merged.messageId !== undefined) {
      message.messageId = merged.messageId;
    }
    return this.send(message, false);
  };

  HeroClient.prototype.verb = function (event, fields) {
    var message = {event: event};
    Object.keys(fields || {}).forEach(function (key) { message[key] = fields[key]; });
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
});
