/*
 * ollaguard admin page.  Plain JavaScript, no library: every value from
 * the API is put in the page with textContent or an attribute, never as
 * HTML, so a key named like an img tag with an error handler shows as text.
 */
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const STORE = "ollaguard-master";
let keys = [];
let monthTokens = new Map();
let editing = null;
let revoking = null;
let liveTimer = null;
let tab = "keys";

function $(id) { return document.getElementById(id); }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

async function api(method, path, body) {
  const opt = { method, headers: { Authorization: "Bearer " +
    sessionStorage.getItem(STORE) }, cache: "no-store" };
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  const r = await fetch("/admin/api/" + path, opt);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (r.status === 401) {
    signOut("The master key was refused; sign in again.");
    throw new Error("unauthorized");
  }
  if (!r.ok) throw new Error(data && data.error ? data.error : "HTTP " + r.status);
  return data;
}

function show(id, on) { $(id).hidden = !on; }

function signedIn() {
  show("signin", false);
  show("nav", true);
  selectTab(tab);
}

function signOut(msg) {
  sessionStorage.removeItem(STORE);
  if (liveTimer) clearInterval(liveTimer);
  liveTimer = null;
  for (const p of document.querySelectorAll(".panel")) p.hidden = true;
  show("nav", false);
  show("signin", true);
  $("signin-error").textContent = msg || "";
  $("master").value = "";
  $("master").focus();
}

async function signIn(ev) {
  ev.preventDefault();
  const key = $("master").value.trim();
  $("signin-error").textContent = "";
  const r = await fetch("/admin/api/status", { headers:
    { Authorization: "Bearer " + key }, cache: "no-store" });
  if (r.status === 401 || r.status === 403 || r.status === 429) {
    $("signin-error").textContent = r.status === 429 ?
      "Too many wrong keys from this address; wait a minute." :
      "Wrong master key.";
    return;
  }
  if (!r.ok) {
    $("signin-error").textContent = "The daemon answered " + r.status + ".";
    return;
  }
  sessionStorage.setItem(STORE, key);
  signedIn();
}

function selectTab(name) {
  tab = name;
  for (const b of document.querySelectorAll(".tab")) {
    if (b.dataset.tab === name) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  for (const p of document.querySelectorAll(".panel")) p.hidden = p.id !== name;
  if (liveTimer) clearInterval(liveTimer);
  liveTimer = null;
  if (name === "keys") loadKeys();
  else if (name === "usage") loadUsage();
  else {
    loadLive();
    liveTimer = setInterval(loadLive, 2000);
  }
}

/* ---- keys ---- */

function day(iso) { return iso ? iso.slice(0, 10) : "-"; }
function list(a) { return a === null || a === undefined ? "all" : a.join(", "); }
function limits(k) {
  const p = [];
  if (k.rpm !== null) p.push(k.rpm + "/min");
  if (k.concurrency !== null) p.push(k.concurrency + " at once");
  return p.length ? p.join(", ") : "none";
}
function keyLabel(k) { return k.name !== null && k.name !== "" ? k.name : String(k.id); }

async function loadKeys() {
  $("keys-error").textContent = "";
  try {
    const now = new Date();
    const month = now.toISOString().slice(0, 8) + "01";
    const [ks, us] = await Promise.all([api("GET", "keys"),
      api("GET", "usage?since=" + month + "&by=key")]);
    keys = ks;
    monthTokens = new Map();
    for (const u of us)
      monthTokens.set(String(u.key), u.prompt_tokens + u.completion_tokens);
    renderKeys();
  } catch (e) {
    if (e.message !== "unauthorized") $("keys-error").textContent = e.message;
  }
}

function renderKeys() {
  const f = $("filter").value.trim().toLowerCase();
  const tb = $("keys-table").tBodies[0];
  tb.replaceChildren();
  for (const k of keys) {
    const text = [k.name, k.hint, k.state, list(k.models), list(k.allow)]
      .join(" ").toLowerCase();
    if (f && !text.includes(f)) continue;
    const tr = el("tr", null, k.state);
    tr.dataset.id = k.id;
    tr.append(el("td", k.name === null ? "-" : k.name, "name"),
      el("td", k.hint, "hint"), el("td", list(k.allow)),
      el("td", list(k.models)), el("td", limits(k)),
      el("td", day(k.created_at), "date"),
      el("td", day(k.last_used_at), "date"), el("td", k.requests, "num"),
      el("td", monthTokens.get(keyLabel(k)) || 0, "num"),
      el("td", k.state, "state"));
    const td = el("td");
    const div = el("div", null, "actions");
    if (k.state !== "revoked") {
      const eb = el("button", "Edit");
      eb.type = "button";
      eb.setAttribute("aria-label", "Edit " + keyLabel(k));
      eb.addEventListener("click", () => openEdit(k));
      const rb = el("button", "Revoke");
      rb.type = "button";
      rb.setAttribute("aria-label", "Revoke " + keyLabel(k));
      rb.addEventListener("click", () => openRevoke(k));
      div.append(eb, rb);
    }
    td.append(div);
    tr.append(td);
    tb.append(tr);
  }
  $("keys-table").dataset.loaded = "1";
}

function openEdit(k) {
  editing = k;
  $("key-dialog-title").textContent = k ? "Edit " + keyLabel(k) : "New key";
  $("f-name").value = k && k.name !== null ? k.name : "";
  $("f-expires").value = "";
  $("f-expires").placeholder = k && k.expires_at ? "now: " + k.expires_at : "";
  const allow = k ? k.allow : ["infer", "read"];
  for (const c of ["read", "infer", "manage"]) $("f-" + c).checked = allow.includes(c);
  $("f-models").value = k && k.models ? k.models.join(",") : "";
  $("f-rpm").value = k && k.rpm !== null ? k.rpm : "";
  $("f-concurrency").value = k && k.concurrency !== null ? k.concurrency : "";
  $("key-error").textContent = "";
  $("key-dialog").showModal();
  $("f-name").focus();
}

function numOrNull(v, field) {
  v = v.trim();
  if (v === "") return null;
  if (!/^[0-9]+$/.test(v)) throw new Error(field + ": a whole number, or empty");
  return Number(v);
}

function formBody() {
  const b = {};
  const name = $("f-name").value.trim();
  if (editing) b.name = name === "" ? null : name;
  else if (name !== "") b.name = name;
  const exp = $("f-expires").value.trim();
  if (exp !== "") b.expires_in = exp;
  b.allow = ["read", "infer", "manage"].filter((c) => $("f-" + c).checked);
  const models = $("f-models").value.split(",").map((s) => s.trim())
    .filter((s) => s !== "");
  b.models = models.length ? models : null;
  b.rpm = numOrNull($("f-rpm").value, "Requests a minute");
  b.concurrency = numOrNull($("f-concurrency").value, "At once");
  return b;
}

async function saveKey(ev) {
  ev.preventDefault();
  $("key-error").textContent = "";
  try {
    const body = formBody();
    if (editing) {
      await api("PATCH", "keys/" + editing.id, body);
      $("key-dialog").close();
    } else {
      const k = await api("POST", "keys", body);
      $("key-dialog").close();
      $("newkey").textContent = k.key;
      $("copy").textContent = "Copy";
      $("newkey-dialog").showModal();
      $("copy").focus();
    }
    loadKeys();
  } catch (e) {
    if (e.message !== "unauthorized") $("key-error").textContent = e.message;
  }
}

async function copyKey() {
  const text = $("newkey").textContent;
  try {
    await navigator.clipboard.writeText(text);
    $("copy").textContent = "Copied";
  } catch (e) {
    const r = document.createRange();
    r.selectNodeContents($("newkey"));
    const s = getSelection();
    s.removeAllRanges();
    s.addRange(r);
    $("copy").textContent = "Selected: press Ctrl+C";
  }
}

function openRevoke(k) {
  revoking = k;
  $("revoke-name").textContent = keyLabel(k) + " (" + k.hint + ")";
  $("revoke-dialog").showModal();
  $("revoke-cancel").focus();
}

async function confirmRevoke() {
  try {
    await api("POST", "keys/" + revoking.id + "/revoke");
    $("revoke-dialog").close();
    loadKeys();
  } catch (e) {
    $("revoke-dialog").close();
    if (e.message !== "unauthorized") $("keys-error").textContent = e.message;
  }
}

/* ---- usage ---- */

function lastDays(n) {
  const out = [];
  const t = Date.now();
  for (let i = n - 1; i >= 0; i--)
    out.push(new Date(t - i * 86400000).toISOString().slice(0, 10));
  return out;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

async function loadUsage() {
  const by = document.querySelector("input[name=usage-by]:checked").value;
  $("usage-error").textContent = "";
  try {
    const days = lastDays(30);
    const [rows, table] = await Promise.all([
      api("GET", "usage?since=" + days[0] + "&by=day," + by),
      api("GET", "usage?since=" + days[0] + "&by=" + by)]);
    drawChart(days, rows, by);
    $("usage-col").textContent = by === "key" ? "Key" : "Model";
    const tb = $("usage-table").tBodies[0];
    tb.replaceChildren();
    for (const u of table) {
      const tr = el("tr");
      tr.append(el("td", u[by] === "" ? "-" : u[by]), el("td", u.requests, "num"),
        el("td", u.errors, "num"), el("td", u.prompt_tokens, "num"),
        el("td", u.completion_tokens, "num"));
      tb.append(tr);
    }
  } catch (e) {
    if (e.message !== "unauthorized") $("usage-error").textContent = e.message;
  }
}

function drawChart(days, rows, by) {
  const chart = $("chart");
  chart.replaceChildren();
  const series = [];
  const perDay = new Map(days.map((d) => [d, new Map()]));
  for (const r of rows) {
    const name = String(r[by] === "" ? "-" : r[by]);
    if (!series.includes(name)) series.push(name);
    const m = perDay.get(r.day);
    if (m) m.set(name, (m.get(name) || 0) + r.prompt_tokens + r.completion_tokens);
  }
  let max = 1;
  for (const m of perDay.values()) {
    let t = 0;
    for (const v of m.values()) t += v;
    if (t > max) max = t;
  }
  const W = 720, H = 260, L = 50, B = 30, bw = (W - L) / days.length;
  chart.setAttribute("viewBox", "0 0 " + W + " " + H);
  chart.append(svg("text", { x: 0, y: 12 }, String(max)),
    svg("text", { x: 0, y: H - B }, "0"));
  days.forEach((d, i) => {
    const m = perDay.get(d);
    let total = 0, y = H - B;
    const g = svg("g", { class: "day", "data-day": d });
    series.forEach((s, si) => {
      const v = m.get(s) || 0;
      if (!v) return;
      total += v;
      const h = (v / max) * (H - B - 16);
      y -= h;
      const r = svg("rect", { x: L + i * bw + 1, y: y, width: Math.max(bw - 2, 1),
        height: h, class: "c" + (si % 8), "data-series": s, "data-tokens": v });
      r.append(svg("title", {}, d + " " + s + ": " + v + " tokens"));
      g.append(r);
    });
    g.setAttribute("data-total", String(total));
    chart.append(g);
    if (i % 5 === 0)
      chart.append(svg("text", { x: L + i * bw, y: H - 8 }, d.slice(5)));
  });
  const lg = $("legend");
  lg.replaceChildren();
  series.forEach((s, si) => lg.append(el("li", s, "c" + (si % 8))));
}

/* ---- live ---- */

async function loadLive() {
  try {
    const s = await api("GET", "status");
    const p = s.pool;
    $("live-summary").textContent = "ollaguardd " + s.version + ", up " +
      s.uptime + " s; workers: " + p.total + " (" + p.idle + " idle, " +
      (p.reading + p.proxying + p.closing) + " busy)";
    const tb = $("busy-table").tBodies[0];
    tb.replaceChildren();
    for (const b of s.busy) {
      const tr = el("tr");
      tr.append(el("td", b.client), el("td", b.key || "-"), el("td", b.method),
        el("td", b.path), el("td", b.model || "-"),
        el("td", b.seconds.toFixed(1), "num"), el("td", b.bytes, "num"));
      tb.append(tr);
    }
    show("boxes-part", Array.isArray(s.upstreams));
    const bt = $("boxes-table").tBodies[0];
    bt.replaceChildren();
    for (const u of s.upstreams || []) {
      const tr = el("tr");
      tr.append(el("td", u.name), el("td", u.url), el("td", u.state),
        el("td", u.models, "num"), el("td", u.loaded_models, "num"),
        el("td", u.inflight, "num"));
      bt.append(tr);
    }
    $("live-error").textContent = "";
  } catch (e) {
    if (e.message !== "unauthorized") $("live-error").textContent = e.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => signOut());
  for (const b of document.querySelectorAll(".tab"))
    b.addEventListener("click", () => selectTab(b.dataset.tab));
  $("filter").addEventListener("input", renderKeys);
  $("new-key").addEventListener("click", () => openEdit(null));
  $("key-form").addEventListener("submit", saveKey);
  $("key-cancel").addEventListener("click", () => $("key-dialog").close());
  $("copy").addEventListener("click", copyKey);
  $("newkey-close").addEventListener("click", () => {
    $("newkey").textContent = "";
    $("newkey-dialog").close();
  });
  $("revoke-cancel").addEventListener("click", () => $("revoke-dialog").close());
  $("revoke-confirm").addEventListener("click", confirmRevoke);
  for (const r of document.querySelectorAll("input[name=usage-by]"))
    r.addEventListener("change", loadUsage);
  if (sessionStorage.getItem(STORE)) signedIn();
  else signOut();
});
