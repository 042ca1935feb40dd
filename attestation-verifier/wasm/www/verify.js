// The Strongroom verification page. Fails closed: <body data-verification>
// is "verified" only when the WebAssembly verifier accepted the whole chain;
// any error, missing input or exception sets "failed" with data-reason.
import init, { initSync, verifyResult, verifierVersion } from "./strongroom_verifier.js";

const $ = (id) => document.getElementById(id);
const STEPS = ["bundle", "root", "attestation", "pcrs", "signing_key", "result", "log", "witnesses"];

// Inlined WebAssembly (the single-file page) or the file beside this script.
async function loadVerifier() {
  const inline = document.getElementById("wasm-base64");
  if (inline) {
    const bin = atob(inline.textContent.trim());
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    initSync({ module: bytes });
  } else {
    await init();
  }
}

function setVerdict(state, title, reason) {
  document.body.dataset.verification = state;
  if (reason) document.body.dataset.reason = reason; else delete document.body.dataset.reason;
  const v = $("verdict");
  v.className = "verdict " + state;
  $("verdict-title").textContent = title;
  $("verdict-reason").textContent = reason || "";
}

function fail(reason) {
  setVerdict("failed", "NOT VERIFIED", reason);
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : String(c ?? ""));
  return e;
}

function showSteps(steps, dev) {
  const ol = $("steps");
  ol.replaceChildren();
  for (const s of steps) {
    let cls = s.status;
    let label = s.label;
    if (s.id === "root" && s.status === "passed" && dev) {
      cls = "dev";
      label = "Trust root: DEVELOPMENT / SIMULATOR root, NOT the AWS Nitro root";
    }
    ol.append(el("li", { class: cls, "data-step": s.id, "data-status": s.status }, " " + label));
  }
}

function kvTable(table, rows) {
  table.replaceChildren();
  for (const [k, v] of rows) table.append(el("tr", {}, el("th", {}, k), el("td", {}, v)));
}

function gridTable(table, header, rows) {
  table.replaceChildren();
  const numeric = header.map((h) => h.num);
  table.append(el("tr", {}, ...header.map((h) => el("th", { class: h.num ? "num" : "" }, h.name))));
  for (const r of rows) {
    table.append(el("tr", {}, ...r.map((v, i) => el("td", { class: numeric[i] ? "num" : "" }, v ?? "—"))));
  }
}

function showFigures(p) {
  kvTable($("summary"), [
    ["exchange / label", `${p.exchange} / ${p.label}`],
    ["account (pseudonym)", el("code", {}, p.account)],
    ["window", `${p.from ?? "inception"} → ${p.to ?? "computed_at"}`],
    ["computed at (enclave clock)", p.computed_at],
    ["payload version", p.version],
    // Payload v2: whose credential, under which terms, which symbols, and
    // where the result sits in the account's chain.
    ...(p.version >= 2 ? [
      ["credential", el("code", {}, p.credential)],
      ["owner key (SHA-256)", p.owner ? el("code", {}, p.owner) : "none sealed"],
      ["trader's policy", p.policy ? `windows ${p.policy.windows}, symbols ${p.policy.symbols}, ` +
        `at most every ${p.policy.min_interval_seconds} s, ${p.policy.publish ? "public" : "private"}` : "?"],
      ["symbols considered", p.selection ? `${p.selection.mode}: ${p.selection.considered.length} ` +
        `(${p.selection.complete ? "complete" : "INCOMPLETE"})` : "?"],
      ["previous result of the account", p.previous ? el("code", {}, p.previous) : "none (the chain starts here)"],
    ] : []),
  ]);
  gridTable($("totals"),
    [{ name: "quote" }, { name: "trades", num: 1 }, { name: "volume", num: 1 }, { name: "realized PnL", num: 1 },
     { name: "wins", num: 1 }, { name: "losses", num: 1 }, { name: "max drawdown", num: 1 }],
    Object.entries(p.totals || {}).map(([q, t]) =>
      [q, t.trade_count, t.volume_quote, t.realized_pnl_quote, t.wins, t.losses, t.max_drawdown_quote]));
  gridTable($("symbols"),
    [{ name: "symbol" }, { name: "trades", num: 1 }, { name: "buy qty", num: 1 }, { name: "sell qty", num: 1 },
     { name: "volume", num: 1 }, { name: "realized PnL", num: 1 }, { name: "win rate", num: 1 },
     { name: "max drawdown", num: 1 }],
    Object.entries(p.symbols || {}).map(([s, a]) =>
      [s, a.trade_count, a.buy_qty, a.sell_qty, a.volume_quote, a.realized_pnl_quote, a.win_rate,
       a.max_drawdown_quote]));
  $("figures").hidden = false;
  const daily = p.returns && Array.isArray(p.returns.daily) ? p.returns.daily : null;
  if (daily && daily.length > 1) {
    $("chart-svg").replaceChildren(chart(daily));
    $("chart").hidden = false;
  }
}

// Inline SVG: equity (top) and drawdown from the running peak (bottom).
export function chart(daily) {
  const NS = "http://www.w3.org/2000/svg";
  const W = 900, H = 320, L = 70, R = 10, TOP = 10, MID = 210, BOT = 300;
  const eq = daily.map((d) => Number(d.equity));
  let peak = -Infinity;
  const dd = eq.map((e) => { peak = Math.max(peak, e); return peak > 0 ? e / peak - 1 : 0; });
  const lo = Math.min(...eq), hi = Math.max(...eq), ddMin = Math.min(...dd, -1e-9);
  const x = (i) => L + (i * (W - L - R)) / (eq.length - 1);
  const yE = (v) => MID - 10 - ((v - lo) / (hi - lo || 1)) * (MID - 10 - TOP);
  const yD = (v) => MID + 10 + (v / ddMin) * (BOT - MID - 10);
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("width", "100%");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "equity and drawdown by day");
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
  };
  add("polyline", { points: eq.map((v, i) => `${x(i)},${yE(v)}`).join(" "), fill: "none", stroke: "#0a58ca", "stroke-width": 2 });
  add("polygon", { points: `${x(0)},${yD(0)} ` + dd.map((v, i) => `${x(i)},${yD(v)}`).join(" ") + ` ${x(dd.length - 1)},${yD(0)}`, fill: "#b00020", opacity: 0.35 });
  add("text", { x: 4, y: yE(hi) + 4 }, hi.toPrecision(6));
  add("text", { x: 4, y: yE(lo) + 4 }, lo.toPrecision(6));
  add("text", { x: 4, y: yD(ddMin) }, (ddMin * 100).toFixed(2) + " %");
  add("text", { x: L, y: H - 2 }, daily[0].date);
  add("text", { x: W - R - 70, y: H - 2 }, daily[daily.length - 1].date);
  return svg;
}

function showDetails(r) {
  kvTable($("proof"), [
    ["result id (SHA-256 of the COSE bytes)", el("code", {}, r.id)],
    ["trust root", r.dev ? "DEVELOPMENT / SIMULATOR root" : "AWS Nitro Enclaves Root-G1 (pinned)"],
    ["attestation time", new Date(r.attestation_time_ms).toISOString()],
    ["leaf certificate valid until", new Date(r.leaf_not_after * 1000).toISOString()],
    ...Object.entries(r.pcrs).filter(([k]) => ["PCR0", "PCR1", "PCR2", "PCR8"].includes(k))
      .map(([k, v]) => [k, el("code", {}, v)]),
    ["enclave key id", el("code", {}, r.key_id)],
    ["log entry", `leaf ${r.leaf_index} of a tree of ${r.tree_size} (head signed ${r.tree_time})`],
    ["cosigned checkpoint", r.tlog_proof],
    ...(r.witnessed ? [["witnessed by", `${r.witnessed.witnesses.join(", ") || "(quorum none)"} — checkpoint of ${r.witnessed.tree_size} of ${r.witnessed.origin}`]] : []),
    ["published with the consent of", r.publish_consent],
  ]);
  $("details").hidden = false;
}

async function fetchText(url, what) {
  let resp;
  try {
    resp = await fetch(url, { cache: "no-store", credentials: "omit" });
  } catch (e) {
    throw new Error(`${what}: could not fetch ${url}`);
  }
  if (!resp.ok) throw new Error(`${what}: ${url} answered ${resp.status}`);
  return resp.text();
}

async function optionalText(url) {
  try {
    const r = await fetch(url, { cache: "no-store", credentials: "omit" });
    return r.ok ? await r.text() : null;
  } catch (e) {
    return null;
  }
}

// #/r/{id}[?at=...] or #bundle=URL&pcrs=URL&root=URL&tlog=URL&at=RFC3339|ms (relative URLs).
function parseHash() {
  const h = location.hash.replace(/^#/, "");
  const out = {};
  let query = h;
  const m = h.match(/^\/r\/([0-9a-fA-F]{64})(?:\?(.*))?$/);
  if (m) {
    out.bundle = new URL(`../r/${m[1].toLowerCase()}`, location.href).href;
    query = m[2] || "";
  }
  for (const part of query.split("&")) {
    const [k, v] = part.split("=");
    if (["bundle", "pcrs", "root", "tlog", "at"].includes(k) && v !== undefined) out[k] = decodeURIComponent(v);
  }
  return out;
}

function parseAt(s) {
  if (s === undefined || s === null || s === "") return undefined;
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(ms)) throw new Error(`invalid verification time: ${s}`);
  return ms;
}

async function readFile(input) {
  const f = input.files && input.files[0];
  return f ? f.text() : null;
}

let verifierReady = null;

async function run(inputs) {
  setVerdict("pending", "Verifying…");
  try {
    await verifierReady;
    if (!inputs.bundle) throw new Error("no result bundle: choose a bundle file or open #/r/{id}");
    if (!inputs.pcrs) throw new Error("no pcrs.json: choose the release's measurements (pcrs.json)");
    $("sources").textContent = inputs.sources.join(" · ");
    const t1 = performance.now();
    const report = verifyResult(inputs.bundle, inputs.pcrs, Date.now(), inputs.at, inputs.root ?? undefined,
      inputs.tlog ?? undefined);
    // Timings for automation (scripts/checks/verify-page-bench): the verifier
    // call alone, and navigation start to verdict.
    document.body.dataset.verifyMs = (performance.now() - t1).toFixed(1);
    document.body.dataset.totalMs = performance.now().toFixed(1);
    showSteps(report.steps || [], report.root === "dev");
    $("dev-banner").hidden = report.root !== "dev";
    document.body.dataset.root = report.root || "";
    if (report.ok === true) {
      showFigures(report.payload);
      showDetails(report);
      setVerdict("verified", report.dev ? "VERIFIED — DEV/SIMULATOR ROOT, NOT AWS" : "VERIFIED");
    } else {
      $("figures").hidden = true; $("chart").hidden = true; $("details").hidden = true;
      fail(`${report.code || "refused"}: ${report.reason || "refused"}`);
    }
  } catch (e) {
    fail(e && e.message ? e.message : String(e));
  }
}

async function fromUrl() {
  const h = parseHash();
  if (!h.bundle && !h.pcrs) return;
  const pcrsUrl = new URL(h.pcrs || "pcrs.json", location.href).href;
  const rootUrl = new URL(h.root || "dev-root.pem", location.href).href;
  const tlogUrl = new URL(h.tlog || "tlog-policy", location.href).href;
  const inputs = { sources: [] };
  try {
    inputs.at = parseAt(h.at);
    if (h.bundle) {
      const url = new URL(h.bundle, location.href).href;
      inputs.bundle = await fetchText(url, "result bundle");
      inputs.sources.push(`bundle: ${url}`);
    }
    inputs.pcrs = await fetchText(pcrsUrl, "pcrs.json");
    inputs.sources.push(`pcrs.json: ${pcrsUrl}`);
    inputs.root = await optionalText(rootUrl);
    if (inputs.root) inputs.sources.push(`development root: ${rootUrl}`);
    // The witnesses to trust: the deployment's tlog-policy, or the user's
    // (#tlog=URL). Without one the witnessed-log step says "not checked".
    inputs.tlog = h.tlog ? await fetchText(tlogUrl, "tlog-policy") : await optionalText(tlogUrl);
    if (inputs.tlog) inputs.sources.push(`tlog-policy: ${tlogUrl}`);
  } catch (e) {
    fail(e.message);
    return;
  }
  await run(inputs);
}

async function fromForm(ev) {
  ev.preventDefault();
  const inputs = { sources: ["files chosen on this page"] };
  try {
    inputs.bundle = await readFile($("bundle-file"));
    inputs.pcrs = await readFile($("pcrs-file"));
    inputs.root = await readFile($("root-file"));
    inputs.tlog = await readFile($("tlog-file"));
    inputs.at = parseAt($("at-time").value.trim());
  } catch (e) {
    fail(e.message);
    return;
  }
  await run(inputs);
}

function start() {
  verifierReady = loadVerifier().then(() => { $("version").textContent = verifierVersion(); });
  verifierReady.catch((e) => fail(`the WebAssembly verifier did not load: ${e && e.message ? e.message : e}`));
  $("inputs-form").addEventListener("submit", fromForm);
  window.addEventListener("hashchange", fromUrl);
  fromUrl();
}

// Only on the page itself (a test harness may import chart() alone).
if ($("inputs-form")) start();
