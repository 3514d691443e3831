// flashgate dashboard: polls /api/overview every second and draws what
// changed. Rates are differences between two polls; charts keep the last
// two minutes. No library: canvas drawing of our own.
"use strict";

const POLL_MS = 1000, HISTORY = 120;
const COLORS = ["#3fb950", "#58a6ff", "#d29922", "#f85149", "#bc8cff", "#39c5cf", "#ff7b72", "#8b98a5"];
const CLASS_COLORS = { "2xx": "#3fb950", "3xx": "#58a6ff", "4xx": "#d29922", "5xx": "#f85149", "1xx": "#8b98a5", "other": "#bc8cff" };

const $ = (id) => document.getElementById(id);
let token = "";
let prev = null;
const hist = { t: [], req: {}, rej: {}, hit: [], p99: [], inflight: [] };

// The token: from the address's fragment once (#token=..., never sent to
// a server), then from this tab's session storage.
function loadToken() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem("fg-admin-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);
  }
  token = sessionStorage.getItem("fg-admin-token") || "";
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    if (r.status === 401 || r.status === 403) $("tokenform").hidden = false;
    const e = new Error((data.error && data.error.message) || (method + " " + path + ": " + r.status));
    e.status = r.status;
    throw e;
  }
  return data;
}

function say(text, bad) {
  const m = $("msg");
  m.textContent = text;
  m.style.color = bad ? "var(--bad)" : "var(--accent)";
}

// A change the operator asked for: the answer or the error is said, and
// the page refreshes at once.
async function act(label, method, path, body) {
  try {
    await api(method, path, body);
    say(label + ": done");
  } catch (e) {
    say(label + ": " + e.message, true);
  }
  poll();
}

function fmtRate(v) {
  if (!isFinite(v)) return "–";
  if (v >= 10000) return (v / 1000).toFixed(1) + "k";
  if (v >= 100) return v.toFixed(0);
  return v.toFixed(1);
}
function fmtMs(s) {
  if (s === null || !isFinite(s)) return "–";
  if (s === Infinity) return "> 10 s";
  return s < 1 ? (s * 1000).toFixed(s < 0.01 ? 2 : 0) + " ms" : s.toFixed(2) + " s";
}
function fmtBytes(b) {
  const u = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return b.toFixed(i ? 1 : 0) + " " + u[i];
}
function fmtDur(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return d ? d + "d " + h + "h" : h ? h + "h " + m + "m" : m + "m " + (s % 60) + "s";
}
function fmtTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "–" : d.toLocaleTimeString();
}

// p99 of the observations between two cumulative histograms, linear
// within the bucket as Prometheus' histogram_quantile is.
function p99(a, b) {
  const total = b.total - a.total;
  if (!(total > 0)) return null;
  const target = 0.99 * total;
  let lower = 0, below = 0;
  for (let i = 0; i < b.le.length; i++) {
    const c = b.counts[i] - a.counts[i];
    if (c >= target) return lower + (b.le[i] - lower) * ((target - below) / Math.max(c - below, 1e-9));
    lower = b.le[i];
    below = c;
  }
  return Infinity;
}

function push(arr, v) {
  arr.push(v);
  if (arr.length > HISTORY) arr.shift();
}
function pushSeries(map, key, v, n) {
  if (!map[key]) map[key] = new Array(n).fill(0);
  push(map[key], v);
}

function update(o) {
  const st = o.status;
  $("version").textContent = st.version;
  $("uptime").textContent = fmtDur(st.uptime_seconds);
  $("loaded").textContent = fmtTime(st.rules_loaded_at);
  const rl = st.last_reload;
  const pill = $("reload");
  pill.textContent = (rl.ok ? "last reload ok " : "last reload REJECTED ") + fmtTime(rl.at);
  pill.className = "pill " + (rl.ok ? "ok" : "bad");
  $("reloaderr").hidden = rl.ok;
  $("reloaderr").textContent = rl.ok ? "" : rl.error;
  $("cache-items").textContent = Math.round(o.cache.items || 0);
  $("cache-bytes").textContent = fmtBytes(o.cache.bytes || 0);

  const waiting = o.queues.reduce((s, q) => s + q.waiting, 0);
  const inflight = o.origins.reduce((s, x) => s + x.in_flight, 0);
  $("k-waiting").textContent = waiting;
  $("k-inflight").textContent = inflight;

  if (prev) {
    const dt = Math.max((o.time_ms - prev.time_ms) / 1000, 0.001);
    const rate = (a, b) => Math.max(0, ((a || 0) - (b || 0)) / dt);
    const n = hist.t.length;
    let total = 0;
    for (const k of Object.keys(o.requests)) {
      const r = rate(o.requests[k], prev.requests[k]);
      total += r;
      pushSeries(hist.req, k, r, n);
    }
    let rejTotal = 0;
    for (const k of Object.keys(o.rejections)) {
      const r = rate(o.rejections[k], prev.rejections[k]);
      rejTotal += r;
      pushSeries(hist.rej, k, r, n);
    }
    const hits = rate(o.cache.hit, prev.cache.hit) + rate(o.cache.stale, prev.cache.stale);
    const lookups = hits + rate(o.cache.miss, prev.cache.miss) + rate(o.cache.expired, prev.cache.expired);
    const ratio = lookups > 0 ? hits / lookups : null;
    const q99 = p99(prev.origin_latency, o.origin_latency);
    push(hist.t, o.time_ms);
    push(hist.hit, ratio === null ? NaN : ratio * 100);
    push(hist.p99, q99 === null ? NaN : Math.min(q99, 10) * 1000);
    push(hist.inflight, inflight);
    $("k-rps").textContent = fmtRate(total);
    $("k-5xx").textContent = fmtRate(rate(o.requests["5xx"], prev.requests["5xx"]));
    $("k-rej").textContent = fmtRate(rejTotal);
    $("k-hit").textContent = ratio === null ? "–" : (ratio * 100).toFixed(1) + " %";
    $("k-p99").textContent = fmtMs(q99);
    const admitted = o.queues.reduce((s, q) => {
      const p = prev.queues.find((x) => x.name === q.name);
      return s + (p ? rate(q.admitted, p.admitted) : 0);
    }, 0);
    $("k-admit").textContent = fmtRate(admitted);
    drawAll();
  }
  renderQueues(o);
  renderItems(o.items);
  renderOrigins(o.origins);
  renderOrders(o);
  renderHotKeys(o.hot_keys);
  renderSwitches(o.switches);
  renderRouteChoices(o.routes);
  prev = o;
}

// Tables are updated row by row, keyed, so that a row being edited keeps
// its input and the page does not jump.
function syncRows(tbody, list, key, build, fill, emptyText, cols) {
  const seen = new Set();
  for (const x of list) {
    const k = key(x);
    seen.add(k);
    let tr = tbody.querySelector('tr[data-k="' + CSS.escape(k) + '"]');
    if (!tr) {
      tr = build(x);
      tr.dataset.k = k;
      tbody.appendChild(tr);
    }
    fill(tr, x);
  }
  for (const tr of Array.from(tbody.children)) {
    if (!tr.dataset.k || !seen.has(tr.dataset.k)) tr.remove();
  }
  if (!list.length) {
    tbody.innerHTML = "";
    const tr = document.createElement("tr");
    tr.innerHTML = '<td class="empty" colspan="' + cols + '"></td>';
    tr.firstChild.textContent = emptyText;
    tbody.appendChild(tr);
  }
}

function cells(tr, n) {
  for (let i = 0; i < n; i++) tr.appendChild(document.createElement("td"));
  return tr.children;
}

function renderQueues(o) {
  syncRows($("queues"), o.queues, (q) => q.name, (q) => {
    const tr = document.createElement("tr");
    const c = cells(tr, 6);
    c[1].className = c[2].className = c[3].className = c[4].className = "n";
    const b = document.createElement("button");
    b.type = "button";
    b.className = "pause";
    b.addEventListener("click", () => {
      const paused = b.dataset.paused === "1";
      act((paused ? "resume " : "pause ") + q.name, "POST", "/api/queues/" + encodeURIComponent(q.name) + (paused ? "/resume" : "/pause"));
    });
    const s = document.createElement("span");
    c[5].append(s, " ", b);
    return tr;
  }, (tr, q) => {
    const c = tr.children;
    const p = prev && prev.queues.find((x) => x.name === q.name);
    const dt = prev ? Math.max((o.time_ms - prev.time_ms) / 1000, 0.001) : 1;
    c[0].textContent = q.name;
    c[1].textContent = q.waiting;
    c[2].textContent = q.active + (q.max_active ? " / " + q.max_active : "");
    c[3].textContent = p ? fmtRate(Math.max(0, q.admitted - p.admitted) / dt) : "–";
    c[4].textContent = q.admit_rate_per_second ? fmtRate(q.admit_rate_per_second) + "/s" : "–";
    const s = c[5].querySelector("span"), b = c[5].querySelector("button");
    s.textContent = q.paused ? "paused" : "open";
    s.className = q.paused ? "paused" : "up";
    b.textContent = q.paused ? "resume" : "pause";
    b.dataset.paused = q.paused ? "1" : "0";
  }, "no waiting room in the rules", 6);
}

function renderItems(items) {
  syncRows($("items"), items, (it) => it.route + "/" + it.item, (it) => {
    const tr = document.createElement("tr");
    const c = cells(tr, 7);
    c[2].className = c[3].className = c[4].className = "n";
    const f = document.createElement("form");
    const inp = document.createElement("input");
    inp.type = "number"; inp.min = "0"; inp.required = true; inp.className = "stock";
    const b = document.createElement("button");
    b.type = "submit"; b.textContent = "set";
    f.append(inp, " ", b);
    f.addEventListener("submit", (e) => {
      e.preventDefault();
      act("stock of " + it.route + "/" + it.item, "POST",
        "/api/items/" + encodeURIComponent(it.route) + "/" + encodeURIComponent(it.item), { set: Number(inp.value) });
      inp.value = "";
    });
    c[6].appendChild(f);
    return tr;
  }, (tr, it) => {
    const c = tr.children;
    c[0].textContent = it.route;
    c[1].textContent = it.item;
    c[2].textContent = it.stock;
    c[3].textContent = it.left;
    c[4].textContent = it.taken + (it.mode === "in_flight" ? " in flight" : "");
    c[5].textContent = it.sold_out ? "SOLD OUT" : it.left === 0 ? "all claimed" : "on sale";
    c[5].className = it.sold_out || it.left === 0 ? "sold" : "up";
  }, "no item has a stock number", 7);
}

// Origins: each server's state, with the buttons of its server switches:
// take it out of rotation, keep it in whatever its checks say, or back to
// automatic (the switch cleared).
function renderOrigins(list) {
  syncRows($("origins"), list, (x) => x.origin + " " + x.server, (x) => {
    const tr = document.createElement("tr");
    const c = cells(tr, 7);
    c[4].className = c[5].className = "n";
    const name = "server:" + x.origin + "/" + x.server;
    const button = (label, cls, run) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = cls;
      b.textContent = label;
      b.addEventListener("click", run);
      c[6].appendChild(b);
    };
    button("take out", "server-down", () => act("take out " + x.server, "POST", "/api/switches", { kind: "down", origin: x.origin, server: x.server }));
    button("keep in", "server-up", () => act("keep in " + x.server, "POST", "/api/switches", { kind: "up", origin: x.origin, server: x.server }));
    button("auto", "server-auto", () => act("automatic " + x.server, "DELETE", "/api/switches/" + name));
    return tr;
  }, (tr, x) => {
    const c = tr.children;
    c[0].textContent = x.origin;
    c[1].textContent = x.server;
    c[2].textContent = (x.up ? "up" : "DOWN") + (x.forced ? " (" + x.forced + " by operator)" : x.healthy ? "" : " (health)");
    c[2].className = x.up ? "up" : "down";
    c[3].textContent = x.breaker || "–";
    c[3].className = x.breaker && x.breaker !== "closed" ? "down" : "";
    c[4].textContent = x.in_flight;
    c[5].textContent = x.limit ? x.origin_in_flight + " / " + x.limit : "max " + x.max_conns;
  }, "no origins", 7);
}

// Purchase queues (async routes): what waits, what is being delivered,
// the outcomes and the delivery rate now against the configured one.
function renderOrders(o) {
  syncRows($("orders"), o.orders, (q) => q.route, () => {
    const tr = document.createElement("tr");
    const c = cells(tr, 8);
    for (let i = 1; i < 7; i++) c[i].className = "n";
    return tr;
  }, (tr, q) => {
    const c = tr.children;
    const p = prev && prev.orders && prev.orders.find((x) => x.route === q.route);
    const dt = prev ? Math.max((o.time_ms - prev.time_ms) / 1000, 0.001) : 1;
    const done = (x) => x.delivered + x.sold_out + x.expired + x.failed;
    c[0].textContent = q.route;
    c[1].textContent = q.waiting + " / " + q.limit;
    c[2].textContent = q.in_delivery + " / " + q.concurrency;
    c[3].textContent = q.delivered;
    c[4].textContent = q.sold_out;
    c[5].textContent = q.expired + q.failed;
    c[5].className = q.failed ? "n down" : "n";
    c[6].textContent = (p ? fmtRate(Math.max(0, done(q) - done(p)) / dt) : "–") + " of " + q.rate;
    c[7].textContent = q.durable ? "redis" : "memory";
  }, "no async route in the rules", 8);
}

function renderHotKeys(list) {
  syncRows($("hotkeys"), list, (h) => h.kind + " " + h.key, () => {
    const tr = document.createElement("tr");
    const c = cells(tr, 5);
    c[2].className = c[3].className = "n";
    return tr;
  }, (tr, h) => {
    const c = tr.children;
    c[0].textContent = h.kind;
    c[1].textContent = h.key;
    c[2].textContent = h.static ? "static" : fmtRate(h.rate) + "/s";
    c[3].textContent = h.static ? "–" : (h.share * 100).toFixed(1) + " %";
    c[4].textContent = fmtTime(h.since);
  }, "nothing hot", 5);
}

function switchName(w) {
  return (w.kind === "down" || w.kind === "up") ? "server:" + w.origin + "/" + w.server : w.kind + ":" + w.route;
}

function renderSwitches(list) {
  syncRows($("switches"), list, switchName, (w) => {
    const tr = document.createElement("tr");
    const c = cells(tr, 4);
    const b = document.createElement("button");
    b.type = "button";
    b.className = "switch-off";
    b.textContent = "turn off";
    b.addEventListener("click", () => act("turn off " + switchName(w), "DELETE", "/api/switches/" + switchName(w)));
    c[3].appendChild(b);
    return tr;
  }, (tr, w) => {
    const c = tr.children;
    c[0].textContent = w.kind;
    c[0].className = "paused";
    c[1].textContent = (w.route || w.origin + " " + w.server) + (w.factor ? " ×" + w.factor : "") + (w.message ? " “" + w.message + "”" : "");
    c[2].textContent = fmtTime(w.since);
  }, "no switch on: every route runs as its rules say", 4);
}

// The route choices of the switch form follow the serving rules; the
// chosen one stays chosen.
function renderRouteChoices(routes) {
  const sel = $("sw-route");
  const have = Array.from(sel.options).map((o) => o.value).join("\n");
  if (have === routes.join("\n")) return;
  const keep = sel.value;
  sel.innerHTML = "";
  for (const r of routes) {
    const o = document.createElement("option");
    o.value = o.textContent = r;
    sel.appendChild(o);
  }
  if (routes.includes(keep)) sel.value = keep;
}

// Charts: lines over the history, y from 0 to the largest value shown.
function draw(canvas, series, opts) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== w * dpr || canvas.height !== h * dpr) {
    canvas.width = w * dpr;
    canvas.height = h * dpr;
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  let max = opts.max || 0;
  for (const s of series) for (const v of s.data) if (isFinite(v) && v > max) max = v;
  if (max <= 0) max = 1;
  const left = 44, bottom = h - 4, top = 6, right = w - 4;
  g.strokeStyle = "#2a3541";
  g.fillStyle = "#8b98a5";
  g.font = "11px system-ui, sans-serif";
  g.lineWidth = 1;
  for (let i = 0; i <= 2; i++) {
    const y = top + (bottom - top) * i / 2;
    g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
    g.fillText(fmtRate(max * (2 - i) / 2) + (opts.unit || ""), 2, y + 4);
  }
  const step = (right - left) / (HISTORY - 1);
  for (const s of series) {
    g.strokeStyle = s.color;
    g.lineWidth = 1.6;
    g.beginPath();
    let pen = false;
    const off = HISTORY - s.data.length;
    s.data.forEach((v, i) => {
      if (!isFinite(v)) { pen = false; return; }
      const x = left + (off + i) * step, y = bottom - (bottom - top) * v / max;
      if (pen) g.lineTo(x, y); else g.moveTo(x, y);
      pen = true;
    });
    g.stroke();
  }
}

function legend(el, series) {
  el.innerHTML = "";
  for (const s of series) {
    const i = document.createElement("i");
    i.style.background = s.color;
    el.append(i, s.name);
  }
}

function drawAll() {
  const req = Object.keys(hist.req).sort().map((k) => ({ name: k, color: CLASS_COLORS[k] || "#8b98a5", data: hist.req[k] }));
  draw($("c-req"), req, { unit: "/s" });
  legend($("l-req"), req);
  const rej = Object.keys(hist.rej).sort().map((k, i) => ({ name: k, color: COLORS[i % COLORS.length], data: hist.rej[k] }))
    .sort((a, b) => b.data[b.data.length - 1] - a.data[a.data.length - 1]).slice(0, 8);
  draw($("c-rej"), rej, { unit: "/s" });
  legend($("l-rej"), rej);
  const hit = [{ name: "hit + stale %", color: "#3fb950", data: hist.hit }];
  draw($("c-hit"), hit, { max: 100, unit: "%" });
  legend($("l-hit"), hit);
  const p = [{ name: "p99 ms", color: "#d29922", data: hist.p99 }, { name: "in flight", color: "#58a6ff", data: hist.inflight }];
  draw($("c-p99"), p, {});
  legend($("l-p99"), p);
}

let polling = false;
async function poll() {
  if (polling) return;
  polling = true;
  try {
    update(await api("GET", "/api/overview"));
    $("live").textContent = "live";
    $("live").className = "pill ok";
  } catch (e) {
    $("live").textContent = e.status === 401 ? "token needed" : "no answer";
    $("live").className = "pill bad";
  } finally {
    polling = false;
  }
}

function init() {
  loadToken();
  $("tokenform").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem("fg-admin-token", token);
    $("tokenform").hidden = true;
    poll();
  });
  $("purge").addEventListener("submit", (e) => {
    e.preventDefault();
    const kind = $("purge-kind").value, v = $("purge-value").value.trim();
    const body = { soft: $("purge-soft").checked };
    if (kind === "all") body.all = true; else body[kind] = v;
    act("purge " + (kind === "all" ? "everything" : v), "POST", "/api/purge", body);
  });
  $("reload-btn").addEventListener("click", () => act("reload", "POST", "/api/reload"));
  $("sw-kind").addEventListener("change", () => { $("sw-factor").hidden = $("sw-kind").value !== "scale"; });
  $("switch-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { kind: $("sw-kind").value, route: $("sw-route").value };
    if (body.kind === "scale") body.factor = Number($("sw-factor").value);
    if (body.kind === "close" && $("sw-message").value.trim()) body.message = $("sw-message").value.trim();
    act(body.kind + " " + body.route, "POST", "/api/switches", body);
  });
  poll();
  setInterval(poll, POLL_MS);
}

init();
