// The push channel (/api/ws): hello with the token (never in the URL), the topics and, per
// topic, the last sequence number seen, so the service replays what this page missed or sends a
// fresh snapshot. Each topic's state and number live in memory and in sessionStorage (a reload
// resumes where it was). Events are applied strictly in order: an old or repeated number is
// ignored, a gap reconnects at once to have it replayed. Lost connections retry with backoff.

const KEPT = "cti.push";
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const PING_MS = 20000;
const GAP = 3000; // our close code when a number was skipped: reconnect and resume at once
const FINAL = new Map([[4401, "expired"], [4403, "forbidden"]]);

/**
 * topics: what hello subscribes to ("agent", "wallboard"); reducers: by the topic's first part
 * ("agent" for "agent:1001"), {snapshot(state) -> model, event(model, event) -> model};
 * token(): the current token; onState(topic, model); onStatus(status, detail).
 */
export function connectPush({ topics, reducers, token, onState, onStatus }) {
  const kept = JSON.parse(sessionStorage.getItem(KEPT) ?? "{}");
  let socket = null;
  let attempt = 0;
  let stopped = false;
  let ping = null;
  let error = null;

  const reducer = (topic) => reducers[topic.split(":")[0]];
  const resume = () => Object.fromEntries(Object.entries(kept).map(([topic, { seq }]) => [topic, seq]));

  function keep(topic, seq, model) {
    kept[topic] = { seq, model };
    sessionStorage.setItem(KEPT, JSON.stringify(kept));
    onState(topic, model);
  }

  function event({ topic, seq, event: body }) {
    const known = kept[topic];
    if (known && seq <= known.seq) return; // a repeat, or older than what is shown
    if (!known || seq !== known.seq + 1) {
      socket.close(GAP, "sequence gap");
      return;
    }
    keep(topic, seq, reducer(topic).event(known.model, body));
  }

  function receive(frame) {
    if (frame.type === "welcome") {
      attempt = 0;
      onStatus("live");
    } else if (frame.type === "snapshot") {
      keep(frame.topic, frame.seq, reducer(frame.topic).snapshot(frame.state));
    } else if (frame.type === "event") {
      event(frame);
    } else if (frame.type === "error") {
      error = frame;
    }
  }

  function closed(close) {
    clearInterval(ping);
    if (stopped) return;
    if (FINAL.has(close.code)) {
      onStatus(FINAL.get(close.code), error?.message ?? close.reason);
      return;
    }
    const delay = close.code === GAP ? 0 : BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    attempt += 1;
    onStatus("lost", Math.ceil(delay / 1000));
    setTimeout(open, delay * (0.8 + Math.random() * 0.4));
  }

  function open() {
    if (stopped) return;
    error = null;
    onStatus("connecting");
    const url = new URL("/api/ws", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(url);
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "hello", token: token(), topics, resume: resume() }));
      ping = setInterval(() => socket.send(JSON.stringify({ type: "ping" })), PING_MS);
    };
    socket.onmessage = (message) => receive(JSON.parse(message.data));
    socket.onclose = closed;
  }

  for (const [topic, { model }] of Object.entries(kept)) onState(topic, model);
  open();
  return {
    /** The renewed token, for the open socket (the service closes it when the old one expires). */
    sendToken(fresh) {
      if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "token", token: fresh }));
    },
    close() {
      stopped = true;
      socket?.close(1000, "signed out");
    },
  };
}
