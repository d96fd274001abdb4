"use strict";
// The Verdict console. Every value from the server or the user is shown with textContent, never as HTML; links
// from answers are web links only. The API key lives in this tab's session storage, never in a URL.

const $ = (id) => document.getElementById(id);
const severity = ["malicious", "suspicious", "unknown", "harmless", "suppressed"];
const perRequest = 100;          // the API's limit of indicators in one lookup
const answerTimeout = 60000;     // ms the page waits for the server
const state = { planned: [], results: [], filter: "all", extractedFrom: null };

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

// Only http(s) links from a source's answer become links: never javascript:, data: and the like.
function safeLink(text) {
  try { const url = new URL(text); return url.protocol === "https:" || url.protocol === "http:" ? url.href : null; }
  catch (error) { return null; }
}

function key() { return $("key").value.trim(); }

// Readers of a report paste defanged values: hxxp, [.] and [@], so nothing is clicked by mistake.
function defang(type, value) {
  if (type === "url") {
    return value.replace(/^http/i, "hxxp").replace(/^([a-z]+:\/\/)([^/?#]*)/i, (m, scheme, host) => scheme + host.replace(/\./g, "[.]"));
  }
  if (type === "ipv4" || type === "domain") return value.replace(/\./g, "[.]");
  if (type === "email") return value.replace("@", "[@]").replace(/\./g, "[.]");
  return value;
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (error) {
    const area = el("textarea"); area.value = text; document.body.append(area); area.select();
    document.execCommand("copy"); area.remove();
  }
  const label = button.textContent; button.textContent = "copied"; setTimeout(() => { button.textContent = label; }, 1200);
}

function say(text, items) {
  const box = $("message"); box.replaceChildren();
  if (!text) return;
  box.append(el("div", null, text));
  if (items && items.length) {
    const list = el("ul", "error");
    for (const item of items) list.append(el("li", null, item));
    box.append(list);
  }
}

// One call to the API: the answer's JSON, or an Error whose message says what went wrong and what to do.
async function call(method, path, body) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), answerTimeout);
  let response;
  try {
    response = await fetch(path, {
      method, signal: controller.signal,
      headers: Object.assign({"Authorization": "Bearer " + key()}, body ? {"Content-Type": "application/json"} : {}),
      body: body ? JSON.stringify(body) : undefined
    });
  } catch (error) {
    throw new Error(controller.signal.aborted
      ? "The server did not answer within " + answerTimeout / 1000 + " s. The lookup may still finish: look again in a moment (cached answers are free)."
      : "Cannot reach the Verdict server (" + error.message + "). Check that verdict serve is running and this page's address.");
  } finally { clearTimeout(timer); }
  let answer = null;
  try { answer = await response.json(); } catch (error) { answer = null; }
  if (response.ok && answer) return answer;
  const problem = answer && answer.error ? answer.error : {code: "", message: "the answer was not JSON"};
  const failure = new Error(explain(response, problem));
  failure.status = response.status; failure.problem = problem;
  throw failure;
}

function explain(response, problem) {
  switch (response.status) {
    case 401: return "The API key was not accepted (401): " + problem.message + ". Check the key above, or make one on the server with: verdict keys create --name NAME";
    case 402: return "Not enough credits (402): this lookup needs " + (problem.required ?? "more") + " credits and the key has " + (problem.remaining ?? 0) +
      " left this month. Nothing was looked up or charged. Look up fewer new values (cached ones are free), or ask for more credits.";
    case 429: return "Too many requests (429): wait " + (response.headers.get("Retry-After") || "a few") + " s and try again. " + problem.message;
    case 503: return "The server cannot reach its store (503): try again in a moment; if it lasts, check the server's database. " + problem.message;
    case 504: return "The lookup took too long (504): " + problem.message;
    case 413: return "Too much text at once (413): " + problem.message;
    default: return "The server refused the request (" + response.status + (problem.code ? " " + problem.code : "") + "): " + problem.message;
  }
}

// What the input is: a Wazuh alert (a JSON object), a list (one value a line, no spaces) or free text.
function request(input) {
  const text = input.trim();
  if (text.startsWith("{")) {
    try { const alert = JSON.parse(text); if (alert && typeof alert === "object" && !Array.isArray(alert)) return {alert}; }
    catch (error) { /* not JSON: read as text */ }
  }
  const lines = input.split("\n").map((line) => line.trim());
  const values = lines.filter((line) => line);
  if (values.length && values.length <= perRequest && values.every((line) => !/\s/.test(line))) return {indicators: values, lines};
  return {text: input};
}

async function extract() {
  say(""); $("status").textContent = "";
  const input = $("input").value;
  if (!input.trim()) { say("Paste something first: values, a log line, a report paragraph or a Wazuh alert."); return false; }
  if (!key()) { say("Give an API key first (it stays in this tab)."); $("key").focus(); return false; }
  const asked = request(input);
  let notIndicators = [];
  let answer;
  try {
    if (asked.indicators) {
      try {
        answer = await call("POST", "/v1/extract", {indicators: asked.indicators});
      } catch (error) {
        if (error.problem?.code !== "invalid_indicators") throw error;
        // Name the lines that are not indicators, by their line number, and go on with the others.
        const bad = new Set(error.problem.invalid.map((item) => item.index));
        const numbers = []; asked.lines.forEach((line, index) => { if (line) numbers.push(index + 1); });
        notIndicators = error.problem.invalid.map((item) => "line " + numbers[item.index] + ": " + JSON.stringify(item.input) + ": " + item.reason);
        const rest = asked.indicators.filter((value, index) => !bad.has(index));
        answer = rest.length ? await call("POST", "/v1/extract", {indicators: rest}) : {indicators: [], suppressed: []};
      }
    } else {
      answer = await call("POST", "/v1/extract", asked.alert ? {alert: asked.alert} : {text: asked.text});
    }
  } catch (error) { say(error.message); return false; }
  state.planned = answer.indicators; state.extractedFrom = input;
  showPreview(answer, notIndicators);
  return true;
}

function showPreview(answer, notIndicators) {
  const box = $("preview"); box.replaceChildren(); box.hidden = false;
  const count = answer.indicators.length;
  box.append(el("strong", null, count ? count + " to look up" : "Nothing to look up"));
  box.append(el("span", "muted", count ? " (3 credits each unless cached or answered locally)" : ""));
  if (count) {
    const list = el("ul");
    for (const found of answer.indicators) {
      const item = el("li", "planned", found.value + " (" + found.type + ")" + (found.field ? " from " + found.field : ""));
      if (found.warninglists) item.append(el("span", "muted", " on " + found.warninglists.join(", ")));
      list.append(item);
    }
    box.append(list);
  }
  if (answer.suppressed.length) {
    box.append(el("strong", null, answer.suppressed.length + " left out"));
    const list = el("ul");
    for (const left of answer.suppressed) list.append(el("li", "suppressed-value", left.value + " (" + left.type + "): " + left.reason));
    box.append(list);
  }
  if (answer.dropped) {
    const parts = Object.entries(answer.dropped).map(([type, n]) => n + " " + type);
    box.append(el("p", "warning", "Past " + perRequest + " of one type, left out: " + parts.join(", ")));
  }
  if (notIndicators.length) {
    box.append(el("strong", null, "Not indicators"));
    const list = el("ul", "error");
    for (const line of notIndicators) list.append(el("li", null, line));
    box.append(list);
  }
  $("lookup").textContent = count ? "Look up " + count : "Look up";
}

async function lookUp() {
  if (state.extractedFrom !== $("input").value && !(await extract())) return;
  if (!state.planned.length) { say("Nothing in the input is worth a lookup (see what was left out, and why)."); return; }
  say(""); $("lookup").disabled = true; $("status").textContent = "looking up " + state.planned.length + "…";
  const refresh = $("refresh").checked;
  const results = []; const warnings = []; let charged = 0; let remaining = null;
  try {
    for (let start = 0; start < state.planned.length; start += perRequest) {
      const batch = state.planned.slice(start, start + perRequest).map((found) => ({type: found.type, value: found.value}));
      const answer = await call("POST", "/v1/enrichment/lookup", {indicators: batch, refresh});
      results.push(...answer.results); warnings.push(...(answer.warnings || []));
      charged += answer.credits.charged; remaining = answer.credits.remaining;
    }
  } catch (error) {
    say(error.message);
    if (!results.length) { $("status").textContent = ""; return; }
  } finally { $("lookup").disabled = false; }
  $("status").textContent = "credits charged " + charged + ", left " + (remaining ?? "unlimited");
  state.results = results;
  showResults(warnings);
  refreshPanels();
}

function order(a, b) {
  const rank = severity.indexOf(a.verdict) - severity.indexOf(b.verdict);
  return rank !== 0 ? rank : (b.score || 0) - (a.score || 0);
}

function showResults(warnings) {
  const out = $("results"); out.replaceChildren();
  for (const warning of [...new Set(warnings || [])]) out.append(el("p", "warning", "Warning: " + warning));
  $("toolbar").hidden = state.results.length === 0;
  for (const result of [...state.results].sort(order)) out.append(card(result));
  applyFilter();
}

function card(result) {
  const verdict = result.verdict;
  const box = el("article", "card " + verdict);
  box.dataset.verdict = verdict; box.dataset.value = result.indicator.value; box.dataset.type = result.indicator.type;
  box.dataset.score = String(result.score ?? 0);
  const head = el("div", "head");
  head.append(el("span", "value", result.indicator.value), el("span", "muted", result.indicator.type), el("span", "badge " + verdict, verdict));
  if (verdict !== "suppressed") {
    head.append(el("span", null, "score " + result.score), el("span", null, "confidence " + result.confidence));
    head.append(el("span", "muted", result.cached ? "cached, " + age(result.age_s) + " old" : "asked now"));
  }
  const tools = el("span", "tools");
  const asIs = el("button", null, "copy"); asIs.type = "button"; asIs.title = "Copy the value as it is";
  asIs.addEventListener("click", () => copy(result.indicator.value, asIs));
  const defanged = el("button", null, "copy defanged"); defanged.type = "button";
  defanged.addEventListener("click", () => copy(defang(result.indicator.type, result.indicator.value), defanged));
  tools.append(asIs, defanged);
  if (verdict !== "suppressed") {
    const again = el("button", "again", "ask again"); again.type = "button"; again.title = "Ask every source again (ignore the cache)";
    again.addEventListener("click", () => askAgain(result, again));
    tools.append(again);
  }
  head.append(tools);
  box.append(head);
  box.append(el("div", "summary", result.reason || result.summary));
  const tags = el("div", "tags");
  for (const category of result.categories || []) tags.append(el("span", "tag", category));
  for (const list of result.warninglists || []) tags.append(el("span", "tag", "warninglist: " + list));
  if (tags.childElementCount) box.append(tags);
  if (result.sources && result.sources.length) {
    const table = el("table"); const top = el("tr");
    for (const name of ["source", "status", "verdict", "score", "categories", "first seen", "last seen", "link"]) top.append(el("th", null, name));
    table.append(top);
    for (const source of result.sources) {
      const row = el("tr");
      row.append(el("td", "word", source.source), el("td", "word", source.status), el("td", "word", source.verdict ?? ""), el("td", "word", source.score ?? ""));
      row.append(el("td", null, source.error ?? (source.categories || []).join(", ")), seen(source.first_seen), seen(source.last_seen));
      const cell = el("td"); const link = safeLink(source.link);
      if (link) { const a = el("a", null, "open"); a.href = link; a.target = "_blank"; a.rel = "noopener noreferrer"; cell.append(a); }
      row.append(cell); table.append(row);
    }
    box.append(table);
  }
  return box;
}

// A sighting as a reader scans it: `2026-12-01 21:14` (UTC, as the sources give it); the full time on hover.
function seen(text) {
  const cell = el("td", "word", text ? text.replace("T", " ").slice(0, 16) : "");
  if (text) cell.title = text;
  return cell;
}

function age(seconds) {
  if (seconds < 120) return seconds + " s";
  if (seconds < 7200) return Math.round(seconds / 60) + " min";
  if (seconds < 172800) return Math.round(seconds / 3600) + " h";
  return Math.round(seconds / 86400) + " days";
}

async function askAgain(result, button) {
  button.disabled = true; say("");
  try {
    const answer = await call("POST", "/v1/enrichment/lookup", {indicators: [{type: result.indicator.type, value: result.indicator.value}], refresh: true});
    const fresh = answer.results[0];
    const index = state.results.indexOf(result);
    if (index >= 0) state.results[index] = fresh;
    $("status").textContent = "asked again: credits charged " + answer.credits.charged + ", left " + (answer.credits.remaining ?? "unlimited");
    showResults(answer.warnings);
    refreshPanels();
  } catch (error) { say(error.message); button.disabled = false; }
}

function applyFilter() {
  for (const box of $("results").querySelectorAll(".card")) box.hidden = state.filter !== "all" && box.dataset.verdict !== state.filter;
  for (const button of $("filters").querySelectorAll("button")) button.setAttribute("aria-pressed", String(button.dataset.filter === state.filter));
}

function download(name, type, text) {
  const link = el("a"); link.href = URL.createObjectURL(new Blob([text], {type})); link.download = name;
  document.body.append(link); link.click(); link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// One row per indicator; a cell that a spreadsheet would run as a formula is quoted with a leading '.
function csv(results) {
  const cell = (value) => {
    let text = value === undefined || value === null ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return /[",\n\r]/.test(text) ? "\"" + text.replace(/"/g, "\"\"") + "\"" : text;
  };
  const rows = [["type", "value", "verdict", "score", "confidence", "summary", "categories", "warninglists", "cached", "age_s", "sources"]];
  for (const r of [...results].sort(order)) {
    rows.push([r.indicator.type, r.indicator.value, r.verdict, r.score, r.confidence, r.reason || r.summary,
      (r.categories || []).join(" "), (r.warninglists || []).join(" "), r.cached, r.age_s,
      (r.sources || []).map((s) => s.source + ":" + s.status + (s.verdict ? ":" + s.verdict : "")).join(" ")]);
  }
  return rows.map((row) => row.map(cell).join(",")).join("\r\n") + "\r\n";
}

async function refreshPanels() {
  if (!key()) return;
  await Promise.all([showUsage(), showSources(), showHistory()]);
}

async function showUsage() {
  try {
    const usage = await call("GET", "/v1/usage");
    const credits = usage.credits;
    $("usage").textContent = usage.key.name + " · plan " + usage.key.plan + " · " + usage.month + ": " + credits.used + " credits used" +
      (credits.monthly === null ? " (unlimited)" : ", " + credits.remaining + " of " + credits.monthly + " left");
  } catch (error) { $("usage").textContent = error.status === 401 ? "key not accepted" : ""; if (error.status === 401) say(error.message); }
}

async function showSources() {
  const box = $("sources");
  let answer;
  try { answer = await call("GET", "/v1/sources"); } catch (error) { box.textContent = error.message; return; }
  const table = el("table"); const top = el("tr");
  for (const name of ["source", "state", "calls left"]) top.append(el("th", null, name));
  table.append(top);
  const off = el("ul", "off");
  for (const source of answer.sources) {
    if (!source.on) {
      const item = el("li"); item.dataset.source = source.name;
      item.append(el("strong", null, source.name), document.createTextNode(": " + source.reason));
      off.append(item);
      continue;
    }
    const row = el("tr"); row.dataset.source = source.name;
    row.append(el("td", "name", source.name));
    if (!source.external) {
      row.append(el("td", null, "on"), el("td", "muted", "local, no limit"));
    } else {
      const circuit = el("td", "state-" + source.circuit, source.circuit === "closed" ? "on" : "circuit " + source.circuit.replace("_", "-"));
      if (source.open_until) circuit.title = "until " + source.open_until;
      const left = (source.windows || []).map((w) => w.left + "/" + w.limit + " per " + period(w.seconds));
      if (source.provider_quota) left.push("provider: " + source.provider_quota.remaining + " left");
      if (source.blocked_until) left.push("blocked until " + source.blocked_until);
      row.append(circuit, el("td", null, left.join(", ") || "no limit set"));
    }
    table.append(row);
  }
  box.replaceChildren(table);
  if (off.childElementCount) {
    // Off sources, and how to turn each on, folded away: they are the same until the server's settings change.
    const folded = el("details"); folded.append(el("summary", null, off.childElementCount + " off, and why"), off);
    box.append(folded);
  }
  const cache = answer.cache;
  box.append(el("p", "muted", cache.lookups ? "cache: " + Math.round(cache.hit_ratio * 100) + "% of " + cache.lookups + " lookups answered from it" : "cache: no lookups yet"));
}

function period(seconds) {
  return {1: "second", 60: "minute", 3600: "hour", 86400: "day", 2592000: "month"}[seconds] || seconds + " s";
}

async function showHistory() {
  const list = $("history");
  let answer;
  try { answer = await call("GET", "/v1/history?limit=20"); } catch (error) { list.replaceChildren(el("li", null, error.message)); return; }
  list.replaceChildren();
  if (!answer.lookups.length) { list.append(el("li", null, "none yet")); return; }
  for (const entry of answer.lookups) {
    const item = el("li"); const button = el("button");
    button.type = "button";
    const values = entry.indicators.slice(0, 3).join(", ") + (entry.indicators.length > 3 ? ", +" + (entry.indicators.length - 3) : "");
    button.append(el("span", "badge " + entry.verdict, entry.verdict), document.createTextNode(" " + values));
    button.append(el("div", "muted", new Date(entry.at).toLocaleString() + " · " + entry.credits_charged + " credits"));
    button.addEventListener("click", () => {
      state.results = entry.results; state.filter = "all";
      $("status").textContent = "the lookup of " + new Date(entry.at).toLocaleString() + ", as it was answered then";
      showResults([]);
    });
    item.append(button); list.append(item);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("key").value = sessionStorage.getItem("verdict-key") || "";
  $("key").addEventListener("input", () => sessionStorage.setItem("verdict-key", key()));
  $("key").addEventListener("change", refreshPanels);
  $("extract").addEventListener("click", extract);
  $("lookup").addEventListener("click", lookUp);
  $("sources-reload").addEventListener("click", showSources);
  $("input").addEventListener("input", () => { $("lookup").textContent = "Look up"; });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); lookUp(); }
  });
  for (const button of $("filters").querySelectorAll("button")) {
    button.addEventListener("click", () => { state.filter = button.dataset.filter; applyFilter(); });
  }
  $("export-json").addEventListener("click", () => download("verdict-results.json", "application/json", JSON.stringify(state.results, null, 2) + "\n"));
  $("export-csv").addEventListener("click", () => download("verdict-results.csv", "text/csv", csv(state.results)));
  refreshPanels();
});
