// smsgate dashboard. Plain browser JavaScript, no build step.
//
// The admin key is kept in sessionStorage (gone when the tab closes) and
// sent only as "Authorization: Bearer" to /api/sms/admin/*; it never goes in
// a URL. Everything shown is built with textContent, never innerHTML: order
// texts and platform errors come from outside.
"use strict";

(() => {
  const KEY = "smsgate.adminKey";
  const API = "/api/sms/";
  const PLATFORMS_EVERY_MS = 5000;
  const ORDERS_EVERY_MS = 3000;
  const STATS_EVERY_MS = 60000;
  const STATS_MIN_GAP_MS = 3000; // refreshes asked for by the feed, at most this often

  const $ = (id) => document.getElementById(id);

  // el builds an element: el("td", {class: "x", "data-label": "State"}, child, "text", …).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  // ---- API ---------------------------------------------------------------

  class AuthError extends Error {}

  async function api(method, path, body, key) {
    const headers = { Authorization: "Bearer " + (key || sessionStorage.getItem(KEY) || "") };
    const init = { method, headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(API + path, init);
    let answer = null;
    try { answer = await resp.json(); } catch (_) { /* not JSON: reported below */ }
    if (resp.status === 401 || resp.status === 403) throw new AuthError((answer && answer.msg) || "admin key refused");
    if (!resp.ok || !answer || answer.code !== 0) {
      throw new Error((answer && answer.msg) || ("HTTP " + resp.status));
    }
    return answer.data;
  }

  // ---- login -------------------------------------------------------------

  const timers = [];

  function showLogin(msg) {
    for (const t of timers.splice(0)) clearInterval(t);
    feed.stop();
    $("app").hidden = true;
    $("login").hidden = false;
    $("login-error").hidden = !msg;
    $("login-error").textContent = msg || "";
    $("login-key").value = "";
    $("login-key").focus();
  }

  async function login(ev) {
    ev.preventDefault();
    const key = $("login-key").value.trim();
    $("login-submit").disabled = true;
    try {
      await api("GET", "admin/platforms", undefined, key); // proves the key before it is kept
      sessionStorage.setItem(KEY, key);
      start();
    } catch (err) {
      showLogin(err instanceof AuthError ? "That is not the admin key." : "Cannot reach the gateway: " + err.message);
    } finally {
      $("login-submit").disabled = false;
    }
  }

  function logout() {
    sessionStorage.removeItem(KEY);
    showLogin("");
  }

  // guard runs a refresh; a refused key ends the session, other errors are shown by the caller.
  function guard(fn, onError) {
    return async () => {
      try {
        await fn();
        $("updated").textContent = "updated " + new Date().toLocaleTimeString();
      } catch (err) {
        if (err instanceof AuthError) { logout(); return; }
        if (onError) onError(err);
      }
    };
  }

  function start() {
    $("login").hidden = true;
    $("app").hidden = false;
    const platforms = guard(refreshPlatforms, (err) => showError("platforms-error", err));
    const stats = guard(refreshStats);
    platforms();
    stats();
    feed.start();
    timers.push(setInterval(platforms, PLATFORMS_EVERY_MS), setInterval(stats, STATS_EVERY_MS));
  }

  function showError(id, err) {
    $(id).hidden = !err;
    $(id).textContent = err ? err.message : "";
  }

  // ---- formatting --------------------------------------------------------

  const pct = (x) => (x * 100).toFixed(1) + "%";
  const neverTime = (s) => !s || s.startsWith("0001-");
  const shortTime = (s) => (neverTime(s) ? "never" : new Date(s).toLocaleString());

  function badge(text, kind) {
    return el("span", { class: "badge " + (kind || "") }, text);
  }

  const stateKind = { up: "ok", down: "bad" };
  const breakerKind = { closed: "ok", "half-open": "warn", open: "bad" };
  const orderKind = { code_received: "ok", finished: "ok", waiting: "", retry_waiting: "", cancelled: "warn", expired: "warn", banned: "bad" };

  // ---- platforms ---------------------------------------------------------

  let lastStats = null; // the last statistics answer: success rates per platform
  let lastHealth = [];

  async function refreshPlatforms() {
    const data = await api("GET", "admin/platforms");
    // Redrawing would take the field from under someone typing a priority.
    if ($("platform-rows").contains(document.activeElement) && document.activeElement.tagName === "INPUT") return;
    const health = new Map((data.health || []).map((h) => [h.platform, h]));
    lastHealth = data.health || [];
    const rates = new Map(((lastStats && lastStats.platforms) || []).map((r) => [r.key, r]));
    const rows = data.platforms.map((p) => platformRow(p, health.get(p.code) || {}, rates.get(p.code)));
    $("platform-rows").replaceChildren(...rows);
    showError("platforms-error", null);
    renderAlerts();
    renderEstimates();
  }

  // renderEstimates lists the router's estimates, the best-evidenced pairs
  // first: a gateway selling many pairs would otherwise show hundreds.
  const ESTIMATE_ROWS = 50;
  function renderEstimates() {
    const all = [];
    for (const h of lastHealth) for (const x of h.estimates || []) all.push([h.platform, x]);
    all.sort((a, b) => b[1].evidence - a[1].evidence || a[0].localeCompare(b[0]));
    const rows = all.slice(0, ESTIMATE_ROWS).map(([code, x]) =>
      el("tr", { "data-platform": code, "data-pair": x.country + "/" + x.service },
        el("td", { "data-label": "Platform" }, el("b", {}, code)),
        el("td", { "data-label": "Country / service" }, x.country + " / " + x.service),
        el("td", { "data-label": "Delivery", class: "delivery" }, pct(x.deliveryProbability)),
        el("td", { "data-label": "Delay to code", class: "delay" }, x.delayEvidence > 0 ? x.delaySeconds.toFixed(1) + " s" : "— (prior " + x.delaySeconds.toFixed(0) + " s)"),
        el("td", { "data-label": "Evidence" }, x.evidence.toFixed(1) + " orders"),
        el("td", { "data-label": "Waiting", class: "waiting" }, String(x.waiting))));
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No ended orders yet: every platform has the prior.")));
    $("estimate-rows").replaceChildren(...rows);
  }

  function platformRow(p, h, stat) {
    const on = p.effective.enabled;
    const overridden = Object.keys(p.override || {}).length > 0;
    const balance = h.balance ? h.balance + " " + h.currency + (h.baseBalance && h.currency !== h.baseCurrency ? " (" + h.baseBalance + " " + h.baseCurrency + ")" : "") : "—";
    const prio = el("input", { type: "number", step: 1, value: p.effective.priority, "aria-label": "priority of " + p.code, class: "priority" });
    prio.addEventListener("change", () => patch(p.code, { priority: parseInt(prio.value, 10) }, prio));
    const toggle = el("button", { type: "button", class: "toggle " + (on ? "danger" : "secondary") }, on ? "Disable" : "Enable");
    toggle.addEventListener("click", () => patch(p.code, { enabled: !on }, toggle));
    return el("tr", { "data-platform": p.code, "data-enabled": String(on) },
      el("td", { "data-label": "Platform" }, el("b", {}, p.code), overridden ? el("span", { class: "muted small", title: "changed by an admin" }, " *") : null),
      el("td", { "data-label": "State" }, badge(h.state || "unknown", stateKind[h.state])),
      el("td", { "data-label": "Routing" }, badge(on ? "enabled" : "disabled", on ? "ok" : "warn"), " ", toggle),
      el("td", { "data-label": "Priority" }, prio),
      el("td", { "data-label": "Breaker" }, badge(h.breaker || "—", breakerKind[h.breaker]), h.breakerTrips ? " " + h.breakerTrips + " trips" : ""),
      el("td", { "data-label": "Balance" }, balance),
      el("td", { "data-label": "Latency" }, h.latencyMs ? Math.round(h.latencyMs) + " ms" : "—"),
      el("td", { "data-label": "Success" }, stat ? pct(stat.successRate) + " of " + stat.orders : "—"),
      el("td", { "data-label": "Penalties", class: "wrap penalties" }, penaltyText(h.penalties)),
      el("td", { "data-label": "Last error", class: "wrap" }, h.lastError || ""),
      el("td", { "data-label": "Checked" }, shortTime(h.checkedAt)));
  }

  // penaltyText lists what the router is skipping on a platform, with the
  // reason and when it ends (a whole account, or one country × service).
  function penaltyText(list) {
    if (!list || list.length === 0) return "";
    return list.map((p) => (p.scope === "pair" ? p.country + "/" + p.service + ": " : "") + p.reason + " until " + shortTime(p.until)).join("; ");
  }

  async function patch(code, change, control) {
    control.disabled = true;
    try {
      await api("PATCH", "admin/platforms/" + encodeURIComponent(code), change);
      showError("platforms-error", null);
    } catch (err) {
      if (err instanceof AuthError) { logout(); return; }
      showError("platforms-error", new Error("cannot change " + code + ": " + err.message));
    }
    await guard(refreshPlatforms, (err) => showError("platforms-error", err))();
  }

  // ---- alerts ------------------------------------------------------------

  // No API lists the alerter's incidents yet, so alerts are read off the
  // platforms' health: the same conditions the alerter raises on.
  function renderAlerts() {
    const items = [];
    for (const h of lastHealth) {
      if (h.breaker === "open") items.push(["bad", h.platform + ": circuit breaker open (" + h.breakerTrips + " trips)"]);
      else if (h.breaker === "half-open") items.push(["warn", h.platform + ": circuit breaker probing (half-open)"]);
      if (h.state === "down") items.push(["bad", h.platform + ": down" + (h.lastError ? " — " + h.lastError : "")]);
      if (!h.enabled) items.push(["warn", h.platform + ": disabled by an admin"]);
      for (const p of h.penalties || []) items.push(["warn", h.platform + ": skipped — " + penaltyText([p])]);
    }
    if (items.length === 0) items.push(["ok", "All platforms healthy."]);
    $("alert-list").replaceChildren(...items.map(([kind, text]) => el("li", { class: kind }, text)));
  }

  // ---- order feed --------------------------------------------------------

  // The feed shows the newest orders and marks what is new. Its source is
  // the order-event stream (streamSource); where a browser cannot read a
  // fetch() body as a stream it falls back to polling GET admin/orders.
  const feed = {
    rows: new Map(), // order id → last seen state+codes, to mark changes
    source: null,
    start() {
      const streams = typeof ReadableStream !== "undefined" && typeof TextDecoderStream !== "undefined";
      this.source = streams ? streamSource(this) : pollSource(this);
      this.source.start();
    },
    stop() { if (this.source) this.source.stop(); this.source = null; this.rows.clear(); },

    // apply shows the newest orders (newest first); it asks for fresh
    // statistics when an order is new or changed.
    apply(orders) {
      let changed = false;
      const trs = orders.map((o) => {
        const sig = o.state + "|" + o.codes.length;
        const fresh = this.rows.size > 0 && this.rows.get(o.id) !== sig;
        if (this.rows.get(o.id) !== sig) changed = true;
        this.rows.set(o.id, sig);
        return orderRow(o, fresh);
      });
      $("order-rows").replaceChildren(...trs);
      $("orders-empty").hidden = orders.length > 0;
      if (changed) statsSoon();
    },
  };

  function pollSource(f) {
    let timer = null;
    const tick = guard(async () => f.apply((await api("GET", "admin/orders?limit=50")).orders));
    return {
      start() { $("feed-source").textContent = "(refreshed every " + ORDERS_EVERY_MS / 1000 + " s)"; tick(); timer = setInterval(tick, ORDERS_EVERY_MS); },
      stop() { clearInterval(timer); },
    };
  }

  // streamSource reads GET admin/events (Server-Sent Events of every
  // tenant) with fetch() and a body reader: EventSource cannot send the
  // Authorization header, and the key stays out of URLs. The stream's
  // first block (a comment) says it is listening; the newest orders are
  // loaded then, so nothing falls between the list and the events, and
  // each event then updates its order in place. A dropped stream is
  // reopened after RECONNECT_MS (and the list loaded again: what happened
  // meanwhile is in it).
  const RECONNECT_MS = 2000;
  const FEED_ROWS = 50;

  function streamSource(f) {
    let ctl = null;
    let retry = null;
    let stopped = false;
    const orders = new Map(); // order id → order, as admin/orders shows it
    const show = () => f.apply([...orders.values()].sort((a, b) => b.id - a.id).slice(0, FEED_ROWS));

    async function load() {
      const list = (await api("GET", "admin/orders?limit=" + FEED_ROWS)).orders;
      orders.clear();
      for (const o of list) orders.set(o.id, o);
      show();
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    }

    function onEvent(ev) {
      let o = orders.get(ev.orderId);
      if (!o) {
        o = { id: ev.orderId, createdAt: ev.at, tenant: ev.tenant, platform: ev.platform, country: ev.country,
          service: ev.service, phone: ev.phone, price: ev.price, currency: ev.currency, codes: [] };
        orders.set(o.id, o);
      }
      o.state = ev.state;
      if (ev.kind === "code" && !o.codes.some((c) => c.code === ev.code && c.text === ev.text)) {
        o.codes = [...o.codes, { code: ev.code, text: ev.text, receivedAt: ev.at }];
      }
      show();
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    }

    async function run() {
      ctl = new AbortController();
      const resp = await fetch(API + "admin/events", {
        headers: { Authorization: "Bearer " + (sessionStorage.getItem(KEY) || "") },
        cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer", signal: ctl.signal,
      });
      if (resp.status === 401 || resp.status === 403) throw new AuthError("admin key refused");
      if (!resp.ok || !resp.body) throw new Error("HTTP " + resp.status);
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      let listening = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (!listening) { listening = true; await load(); }
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) onEvent(JSON.parse(data));
        }
      }
    }

    async function loop() {
      while (!stopped) {
        try {
          await run();
        } catch (err) {
          if (err instanceof AuthError) { logout(); return; }
        }
        if (stopped) return;
        $("feed-source").textContent = "(reconnecting)";
        await new Promise((r) => { retry = setTimeout(r, RECONNECT_MS); });
        if (!stopped) $("feed-source").textContent = "(live)";
      }
    }

    return {
      start() { $("feed-source").textContent = "(live)"; stopped = false; loop(); },
      stop() { stopped = true; clearTimeout(retry); if (ctl) ctl.abort(); },
    };
  }

  function orderRow(o, fresh) {
    const last = o.codes.length ? o.codes[o.codes.length - 1].code : "";
    return el("tr", { "data-order-id": o.id, "data-platform": o.platform, class: fresh ? "fresh" : null },
      el("td", { "data-label": "#" }, o.id),
      el("td", { "data-label": "Created" }, shortTime(o.createdAt)),
      el("td", { "data-label": "Tenant" }, o.tenant),
      el("td", { "data-label": "Platform", class: "platform" }, o.platform),
      el("td", { "data-label": "Country" }, o.country.toUpperCase()),
      el("td", { "data-label": "Service" }, o.service),
      el("td", { "data-label": "Phone" }, o.phone),
      el("td", { "data-label": "Price" }, o.price + " " + o.currency),
      el("td", { "data-label": "State" }, badge(o.state.replace("_", " "), orderKind[o.state])),
      el("td", { "data-label": "Code" }, last));
  }

  // ---- statistics --------------------------------------------------------

  const charts = {};
  let statsAt = 0;
  let statsTimer = null;

  // statsSoon refreshes the statistics now, or once STATS_MIN_GAP_MS after the last refresh.
  function statsSoon() {
    if (statsTimer) return;
    const wait = Math.max(0, statsAt + STATS_MIN_GAP_MS - Date.now());
    statsTimer = setTimeout(() => { statsTimer = null; guard(refreshStats)(); }, wait);
  }

  // statsQuery asks for 30 days by day, 12 weeks by week or 12 months by
  // month, ending on the gateway's today (its clock, not the browser's).
  function statsQuery(groupBy) {
    let q = "groupBy=" + groupBy;
    if (groupBy === "day" || !lastStats) return q;
    const to = new Date(lastStats.to + "T00:00:00Z");
    const from = new Date(to);
    if (groupBy === "week") from.setUTCDate(from.getUTCDate() - 7 * 11);
    else from.setUTCMonth(from.getUTCMonth() - 11, 1);
    return q + "&startDate=" + from.toISOString().slice(0, 10) + "&endDate=" + lastStats.to;
  }

  async function refreshStats() {
    statsAt = Date.now();
    const groupBy = $("group-by").value;
    if (groupBy !== "day" && !lastStats) lastStats = await api("GET", "admin/statistics"); // learn the gateway's today
    const st = await api("GET", "admin/statistics?" + statsQuery(groupBy));
    lastStats = st;
    $("stats-range").textContent = st.from + " … " + st.to + " (UTC), amounts in " + st.baseCurrency;
    renderTotals(st);
    renderCharts(st);
  }

  function renderTotals(st) {
    const t = st.total;
    const tile = (label, value) => el("div", {}, el("span", { class: "muted small" }, label), el("b", {}, value));
    $("totals").replaceChildren(
      tile("Orders", t.orders), tile("Delivered", t.delivered), tile("Success rate", pct(t.successRate)),
      tile("Spend", t.spend + " " + st.baseCurrency), tile("Revenue", t.revenue + " " + st.baseCurrency),
      tile("Margin", t.margin + " " + st.baseCurrency), tile("Avg time to code", t.avgTimeToCodeSec.toFixed(1) + " s"),
      tile("Active", t.active));
  }

  const palette = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#475569"];

  // draw creates a chart once and updates it in place afterwards.
  function draw(id, config) {
    if (typeof Chart === "undefined") return; // the library failed to load: the tables still work
    const c = charts[id];
    if (c && c.config.type === config.type) {
      c.data = config.data;
      c.update("none");
      return;
    }
    if (c) c.destroy();
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options);
    charts[id] = new Chart($(id), config);
  }

  function renderCharts(st) {
    const keys = (rows) => rows.map((r) => r.key);
    draw("chart-periods", {
      type: "bar",
      data: {
        labels: keys(st.periods),
        datasets: [
          { label: "orders", data: st.periods.map((r) => r.orders), backgroundColor: palette[0], yAxisID: "y" },
          { label: "delivered", data: st.periods.map((r) => r.delivered), backgroundColor: palette[1], yAxisID: "y" },
          { label: "spend " + st.baseCurrency, type: "line", data: st.periods.map((r) => parseFloat(r.spend)), borderColor: palette[2], backgroundColor: palette[2], yAxisID: "spend" },
        ],
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, spend: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } } } },
    });
    draw("chart-platforms", {
      type: "bar",
      data: {
        labels: keys(st.platforms),
        datasets: [
          { label: "orders", data: st.platforms.map((r) => r.orders), backgroundColor: palette[0], yAxisID: "y" },
          { label: "spend " + st.baseCurrency, data: st.platforms.map((r) => parseFloat(r.spend)), backgroundColor: palette[2], yAxisID: "spend" },
          { label: "success %", type: "line", data: st.platforms.map((r) => Math.round(r.successRate * 1000) / 10), borderColor: palette[1], backgroundColor: palette[1], yAxisID: "rate" },
        ],
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, spend: { display: false, beginAtZero: true }, rate: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false } } } },
    });
    draw("chart-money", {
      type: "bar",
      data: {
        labels: keys(st.periods),
        datasets: [
          { label: "cost " + st.baseCurrency, data: st.periods.map((r) => parseFloat(r.cost)), backgroundColor: palette[2] },
          { label: "revenue " + st.baseCurrency, data: st.periods.map((r) => parseFloat(r.revenue)), backgroundColor: palette[0] },
          { label: "margin " + st.baseCurrency, type: "line", data: st.periods.map((r) => parseFloat(r.margin)), borderColor: palette[1], backgroundColor: palette[1] },
        ],
      },
      options: { scales: { y: { beginAtZero: true } } },
    });
    draw("chart-countries", {
      type: "doughnut",
      data: {
        labels: st.countries.map((r) => r.key.toUpperCase()),
        datasets: [{ label: "orders", data: st.countries.map((r) => r.orders), backgroundColor: st.countries.map((_, i) => palette[i % palette.length]) }],
      },
      options: { plugins: { legend: { position: "right" } } },
    });
    draw("chart-ttc", {
      type: "bar",
      data: {
        labels: keys(st.platforms),
        datasets: [
          { label: "average", data: st.platforms.map((r) => r.avgTimeToCodeSec), backgroundColor: palette[5] },
          { label: "p95", data: st.platforms.map((r) => r.p95TimeToCodeSec), backgroundColor: palette[4] },
        ],
      },
      options: { scales: { y: { beginAtZero: true } } },
    });
  }

  // ---- start -------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    $("group-by").addEventListener("change", guard(refreshStats));
    if (sessionStorage.getItem(KEY)) start();
    else showLogin("");
  });
})();
