// AVAP console: playground and mesh view. Plain JavaScript, no build step,
// no inline code (the page's CSP allows same-origin scripts only). Every
// request goes to this origin's public API.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const KEY_STORE = "avap.apiKey";       // sessionStorage only
  const DRAFT_STORE = "avap.draft";      // sessionStorage only
  const API = "/api/v1";

  // ---------------------------------------------------------------- API ---

  function apiKey() {
    try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
  }

  // api calls the edge. It returns {status, ok, json, text, ms}; network
  // failures come back as status 0. A 401 opens the key dialog.
  async function api(method, path, body, opts) {
    opts = opts || {};
    const headers = { "Accept": "application/json" };
    const key = apiKey();
    if (key) {
      headers["X-API-Key"] = key;
      headers["Authorization"] = "Bearer " + key;
    }
    let payload;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const t0 = performance.now();
    let res;
    try {
      res = await fetch(path, { method, headers, body: payload, cache: "no-store", credentials: "same-origin", redirect: "error" });
    } catch (e) {
      return { status: 0, ok: false, json: null, text: String(e), ms: performance.now() - t0 };
    }
    const text = await res.text();
    const ms = performance.now() - t0;
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    if (res.status === 401 && !opts.quiet401) {
      openKeyDialog("The server answered 401" + (json && json.error ? ": " + json.error : "") + ". Enter an API key.");
    }
    return { status: res.status, ok: res.ok, json, text, ms, headers: res.headers };
  }

  // ------------------------------------------------------------ helpers ---

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") e.className = v;
        else if (k === "text") e.textContent = v;
        else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const k of kids) {
      if (k === null || k === undefined || k === false) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }

  function fmtBytes(n) {
    if (n === undefined || n === null || isNaN(n)) return "–";
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + " KiB";
    if (n < 1024 * 1024 * 1024) return (n / 1048576).toFixed(1) + " MiB";
    return (n / 1073741824).toFixed(2) + " GiB";
  }
  function fmtUS(us) {
    if (us === undefined || us === null || isNaN(us)) return "–";
    if (us < 1000) return us + " µs";
    if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 2 : 1) + " ms";
    return (us / 1e6).toFixed(2) + " s";
  }
  function fmtMS(ms) { return fmtUS(Math.round(ms * 1000)); }
  function fmtNum(n) { return (n === undefined || n === null) ? "–" : Number(n).toLocaleString("en-US"); }
  function ago(t) {
    const s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 2) return "just now";
    if (s < 90) return s + " s ago";
    return Math.round(s / 60) + " min ago";
  }
  function fmtDur(sec) {
    sec = Math.floor(sec || 0);
    const d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600), m = Math.floor(sec % 3600 / 60), s = sec % 60;
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + s + "s";
    return s + "s";
  }

  let toastTimer = 0;
  function toast(msg) {
    const t = $("toast");
    t.textContent = msg;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 3500);
  }

  // renderJSON fills pre with value pretty-printed and coloured (DOM nodes
  // only: nothing from the server is parsed as HTML).
  function renderJSON(pre, value) {
    pre.textContent = "";
    const text = JSON.stringify(value === undefined ? null : value, null, 2);
    const re = /("(?:\\u[a-fA-F0-9]{4}|\\[^u]|[^\\"])*"(\s*:)?|\b(?:true|false)\b|\bnull\b|-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)/g;
    let last = 0, m;
    const frag = document.createDocumentFragment();
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) frag.append(text.slice(last, m.index));
      const tok = m[0];
      let cls = "j-num";
      if (tok[0] === '"') cls = m[2] ? "j-key" : "j-str";
      else if (tok === "true" || tok === "false") cls = "j-bool";
      else if (tok === "null") cls = "j-null";
      frag.append(el("span", { class: cls, text: tok }));
      last = m.index + tok.length;
    }
    if (last < text.length) frag.append(text.slice(last));
    pre.append(frag);
  }

  // ------------------------------------------------------------- editor ---

  const KEYWORDS = new Set(["if", "else", "end", "startLoop", "endLoop", "try", "exception", "function",
    "return", "go_async", "gather", "import", "include", "IF", "ELSE", "END", "and", "or", "not", "in", "is"]);
  const BOOLS = new Set(["True", "False", "None", "true", "false"]);
  let knownCommands = new Set(["addVar", "addParam", "addResult", "variableToList", "variableFromJSON",
    "AddvariableToJSON", "getListLen", "itemFromList", "getQueryParamList", "replace", "randomString",
    "getTimeStamp", "getDateTime", "stampToDatetime", "encodeSHA256", "encodeMD5", "getRegex", "RequestGet",
    "RequestPost", "ormDirect", "ormCheckTable", "ormAccessSelect", "ormAccessInsert", "ormAccessUpdate",
    "avapConnector", "registerEndpoint", "str", "int", "float", "len"]);

  const code = $("code"), hl = $("hl"), gutter = $("gutter");
  const marks = { syntax: [], runtime: null }; // {line, col, msg}
  let tabEscapes = false;

  // tokenize returns [{s, e, c}] covering only the coloured spans, plus the
  // offsets of brackets outside strings and comments.
  function tokenize(src) {
    const toks = [], brackets = [];
    const n = src.length;
    let i = 0;
    const isIdStart = (ch) => /[A-Za-z_$]/.test(ch);
    const isId = (ch) => /[A-Za-z0-9_]/.test(ch);
    while (i < n) {
      const ch = src[i];
      if (ch === "/" && src[i + 1] === "/") {
        let j = src.indexOf("\n", i); if (j < 0) j = n;
        toks.push({ s: i, e: j, c: "t-com" }); i = j; continue;
      }
      if (ch === "/" && src[i + 1] === "*") {
        let j = src.indexOf("*/", i + 2); j = j < 0 ? n : j + 2;
        toks.push({ s: i, e: j, c: "t-com" }); i = j; continue;
      }
      if (ch === '"' || ch === "'") {
        let j = i + 1;
        while (j < n && src[j] !== ch && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
        j = Math.min(n, src[j] === ch ? j + 1 : j);
        toks.push({ s: i, e: j, c: "t-str" }); i = j; continue;
      }
      if (ch === "`") {
        let j = src.indexOf("`", i + 1); j = j < 0 ? n : j + 1;
        toks.push({ s: i, e: j, c: "t-str" }); i = j; continue;
      }
      if (/[0-9]/.test(ch) || (ch === "." && /[0-9]/.test(src[i + 1] || ""))) {
        let j = i + 1;
        while (j < n && /[0-9._eE]/.test(src[j])) j++;
        toks.push({ s: i, e: j, c: "t-num" }); i = j; continue;
      }
      if (isIdStart(ch)) {
        let j = i + 1;
        while (j < n && isId(src[j])) j++;
        const w = src.slice(i, j);
        let k = j; while (k < n && (src[k] === " " || src[k] === "\t")) k++;
        let c = null;
        if (w[0] === "$") c = "t-var";
        else if (BOOLS.has(w)) c = "t-bool";
        else if (KEYWORDS.has(w) && (src[k] === "(" || w === "function" || w === "return" || w === "and" || w === "or" || w === "not" || w === "in" || w === "is")) c = "t-kw";
        else if (src[k] === "(") c = knownCommands.has(w) ? "t-cmd" : "t-call";
        if (c) toks.push({ s: i, e: j, c });
        i = j; continue;
      }
      if ("()[]{}".includes(ch)) { brackets.push(i); toks.push({ s: i, e: i + 1, c: "t-br" }); }
      i++;
    }
    return { toks, brackets };
  }

  // matchBracket finds the bracket at or just before the caret and its
  // partner: {a, b} (b = -1 when unmatched), or null.
  function matchBracket(src, brackets, caret) {
    const set = new Set(brackets);
    let at = -1;
    if (set.has(caret) ) at = caret;
    else if (set.has(caret - 1)) at = caret - 1;
    if (at < 0) return null;
    const open = "([{", close = ")]}";
    const ch = src[at];
    const idx = brackets.indexOf(at);
    if (open.includes(ch)) {
      const want = close[open.indexOf(ch)];
      let depth = 0;
      for (let k = idx; k < brackets.length; k++) {
        const c = src[brackets[k]];
        if (c === ch) depth++;
        else if (c === want && --depth === 0) return { a: at, b: brackets[k] };
      }
    } else {
      const want = open[close.indexOf(ch)];
      let depth = 0;
      for (let k = idx; k >= 0; k--) {
        const c = src[brackets[k]];
        if (c === ch) depth++;
        else if (c === want && --depth === 0) return { a: at, b: brackets[k] };
      }
    }
    return { a: at, b: -1 };
  }

  function lineStarts(src) {
    const starts = [0];
    for (let i = 0; i < src.length; i++) if (src[i] === "\n") starts.push(i + 1);
    return starts;
  }

  function escapeHTML(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  // render redraws the highlight layer and the gutter from the textarea.
  function render() {
    const src = code.value;
    const { toks, brackets } = tokenize(src);
    const starts = lineStarts(src);
    const caret = code.selectionStart;
    const caretLine = lineOf(starts, caret);
    // decorations: offset -> class, for single characters
    const deco = new Map();
    const bm = document.activeElement === code ? matchBracket(src, brackets, caret) : null;
    if (bm) {
      deco.set(bm.a, bm.b < 0 ? "bx" : "bm");
      if (bm.b >= 0) deco.set(bm.b, "bm");
    }
    const errLines = new Map();
    const all = marks.syntax.concat(marks.runtime ? [marks.runtime] : []);
    let eolMark = -1;
    all.forEach((m, i) => {
      if (!m.line || m.line > starts.length) return;
      if (!errLines.has(m.line)) errLines.set(m.line, m.msg);
      if (i === 0 || m === marks.runtime) {
        const ls = starts[m.line - 1];
        const le = m.line < starts.length ? starts[m.line] - 1 : src.length;
        const off = ls + Math.max(0, (m.col || 1) - 1);
        if (off < le) deco.set(off, (deco.get(off) ? deco.get(off) + " " : "") + "errcol");
        else eolMark = m.line;
      }
    });
    // Build HTML line by line.
    const out = [];
    let line = 1;
    let lineHTML = "";
    const flush = () => {
      const cls = "line" + (errLines.has(line) ? " error" : "") + (line === caretLine && document.activeElement === code ? " current" : "");
      const eol = eolMark === line ? '<span class="errcol-eol"></span>' : "";
      out.push('<div class="' + cls + '" data-line="' + line + '">' + lineHTML + eol + "</div>");
      lineHTML = ""; line++;
    };
    const emit = (s, e, c) => {
      // split at newlines and at decorated offsets
      let p = s;
      while (p < e) {
        let q = p;
        while (q < e && src[q] !== "\n" && !deco.has(q)) q++;
        if (q > p) {
          const txt = escapeHTML(src.slice(p, q));
          lineHTML += c ? '<span class="' + c + '">' + txt + "</span>" : txt;
        }
        if (q >= e) break;
        if (src[q] === "\n") { flush(); p = q + 1; continue; }
        const d = deco.get(q);
        lineHTML += '<span class="' + (c ? c + " " : "") + d + '">' + escapeHTML(src[q]) + "</span>";
        p = q + 1;
      }
    };
    let pos = 0;
    for (const t of toks) {
      if (t.s > pos) emit(pos, t.s, null);
      emit(t.s, t.e, t.c);
      pos = t.e;
    }
    if (pos < src.length) emit(pos, src.length, null);
    flush();
    hl.innerHTML = '<div class="hl-inner">' + out.join("") + "</div>";
    // gutter
    const g = [];
    for (let i = 1; i <= starts.length; i++) {
      const msg = errLines.get(i);
      const cls = (msg ? "error" : "") + (i === caretLine ? " current" : "");
      g.push('<div data-line="' + i + '"' + (cls.trim() ? ' class="' + cls.trim() + '"' : "") + (msg ? ' title="' + escapeHTML(msg).replace(/"/g, "&quot;") + '"' : "") + ">" + i + "</div>");
    }
    gutter.innerHTML = g.join("") + '<div class="pad"></div>';
    $("caret-pos").textContent = caretLine + ":" + (caret - starts[caretLine - 1] + 1);
    syncScroll();
  }

  function lineOf(starts, off) {
    let lo = 0, hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= off) lo = mid; else hi = mid - 1;
    }
    return lo + 1;
  }

  function syncScroll() {
    hl.scrollTop = code.scrollTop;
    hl.scrollLeft = code.scrollLeft;
    gutter.scrollTop = code.scrollTop;
  }

  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; render(); });
  }

  // goTo puts the caret at line:col and scrolls it into view.
  function goTo(line, col) {
    const starts = lineStarts(code.value);
    const l = Math.min(Math.max(1, line || 1), starts.length);
    const off = Math.min(starts[l - 1] + Math.max(0, (col || 1) - 1), code.value.length);
    code.focus();
    code.setSelectionRange(off, off);
    const lh = 20;
    const top = (l - 1) * lh;
    if (top < code.scrollTop || top > code.scrollTop + code.clientHeight - 2 * lh) {
      code.scrollTop = Math.max(0, top - code.clientHeight / 3);
    }
    scheduleRender();
  }

  function insertText(text) {
    // execCommand keeps the browser's undo stack; fall back when missing.
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      code.setRangeText(text, code.selectionStart, code.selectionEnd, "end");
      code.dispatchEvent(new Event("input"));
    }
  }

  function setScript(text) {
    code.value = text;
    code.setSelectionRange(0, 0);
    code.scrollTop = 0;
    marks.syntax = []; marks.runtime = null;
    setEditorStatus("", "");
    saveDraft();
    render();
  }

  function setEditorStatus(text, cls) {
    const s = $("editor-status");
    s.textContent = text;
    s.className = cls || "";
  }

  code.addEventListener("input", () => {
    marks.runtime = null;
    saveDraft();
    scheduleRender();
    scheduleCheck();
  });
  code.addEventListener("scroll", syncScroll);
  for (const ev of ["keyup", "click", "focus", "blur", "select"]) code.addEventListener(ev, scheduleRender);
  document.addEventListener("selectionchange", () => { if (document.activeElement === code) scheduleRender(); });
  code.addEventListener("keydown", (e) => {
    const mod = e.ctrlKey || e.metaKey;
    if (e.key === "Escape") { tabEscapes = true; return; }
    if (e.key === "Tab" && !mod && !e.altKey) {
      if (tabEscapes) { tabEscapes = false; return; } // let focus move on
      e.preventDefault();
      if (e.shiftKey) { outdent(); return; }
      insertText("  ");
      return;
    }
    tabEscapes = false;
    if (e.key === "Enter" && !mod && !e.shiftKey && !e.altKey) {
      const v = code.value, p = code.selectionStart;
      const ls = v.lastIndexOf("\n", p - 1) + 1;
      const indent = /^[ \t]*/.exec(v.slice(ls, p))[0];
      if (indent) { e.preventDefault(); insertText("\n" + indent); }
    }
  });

  function outdent() {
    const v = code.value, p = code.selectionStart;
    const ls = v.lastIndexOf("\n", p - 1) + 1;
    const m = /^( {1,2}|\t)/.exec(v.slice(ls));
    if (!m) return;
    code.setSelectionRange(ls, ls + m[0].length);
    insertText("");
  }

  // Global shortcuts: Ctrl/Cmd+Enter runs, with Shift it checks.
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      if (currentView() !== "play") return;
      if (e.shiftKey) check(true); else run();
    }
  });

  // ------------------------------------------------------- check & run ---

  let checkTimer = 0, checkSeq = 0;
  function scheduleCheck() {
    clearTimeout(checkTimer);
    checkTimer = setTimeout(() => check(false), 700);
  }

  // check asks POST /api/v1/check. explicit checks report success too.
  async function check(explicit) {
    clearTimeout(checkTimer);
    const seq = ++checkSeq;
    const src = code.value;
    if (!src.trim()) { marks.syntax = []; render(); return; }
    const r = await api("POST", API + "/check", { script: src }, { quiet401: !explicit });
    if (seq !== checkSeq) return; // a newer check is on its way
    if (r.status === 200 && r.json && r.json.success) {
      marks.syntax = [];
      setEditorStatus(explicit ? "✓ No syntax errors" : "", "ok");
      if (explicit) { $("error-box").hidden = true; setBadge("ok", "Syntax OK", "The script parses. Run it to see its result."); }
    } else if (r.json && Array.isArray(r.json.errors) && r.json.errors.length) {
      marks.syntax = r.json.errors.map((e) => ({ line: e.line, col: e.column, msg: e.message }));
      const first = r.json.errors[0];
      setEditorStatus("✗ " + r.json.errors.length + " syntax error" + (r.json.errors.length > 1 ? "s" : "") +
        (first.line ? " — line " + first.line + ":" + first.column + ": " : ": ") + first.message, "bad");
      if (explicit) {
        showError(r.status, r.json, r.json.errors);
        setBadge("bad", "Syntax error", "Fix the marked line" + (r.json.errors.length > 1 ? "s" : "") + ", then run.");
      }
    } else if (explicit) {
      showError(r.status, r.json || { error: r.text || "no answer", code: "" }, null);
    }
    render();
  }

  function readJSONField(id) {
    const f = $(id);
    const v = f.value.trim();
    f.removeAttribute("aria-invalid");
    if (!v) return { ok: true, value: undefined };
    try {
      const x = JSON.parse(v);
      if (x === null || typeof x !== "object" || Array.isArray(x)) throw new Error("must be a JSON object");
      return { ok: true, value: x };
    } catch (e) {
      f.setAttribute("aria-invalid", "true");
      return { ok: false, error: id + ": " + e.message };
    }
  }

  const LIMITS = [
    { id: "lim-steps", key: "max_steps", scale: 1 },
    { id: "lim-timeout", key: "timeout_ms", scale: 1 },
    { id: "lim-memory", key: "max_memory_bytes", scale: 1048576 },
    { id: "lim-depth", key: "max_call_depth", scale: 1 },
    { id: "lim-output", key: "max_output_bytes", scale: 1024 },
  ];

  function readLimits() {
    const out = {};
    const errs = [];
    for (const l of LIMITS) {
      const f = $(l.id);
      f.removeAttribute("aria-invalid");
      if (f.value === "") continue;
      const v = Number(f.value);
      const max = f.max ? Number(f.max) : Infinity;
      if (!Number.isFinite(v) || v < 1 || v > max) {
        f.setAttribute("aria-invalid", "true");
        errs.push(f.labels[0].textContent + " must be between 1 and " + (Number.isFinite(max) ? fmtNum(max) : "the server maximum"));
        continue;
      }
      out[l.key] = Math.round(v * l.scale);
    }
    const n = Object.keys(out).length;
    $("limits-summary").textContent = n ? n + " set" : "server defaults";
    return { out: n ? out : undefined, errs };
  }

  let running = false;
  async function run() {
    if (running) return;
    const script = code.value;
    if (!script.trim()) { setBadge("bad", "Empty", "Write a script first."); return; }
    const p = readJSONField("params"), v = readJSONField("variables"), lim = readLimits();
    const problems = [p, v].filter((x) => !x.ok).map((x) => x.error).concat(lim.errs);
    if (problems.length) {
      showError(0, { error: problems.join("\n"), code: "INPUT" }, null);
      setBadge("bad", "Invalid input", "Fix the highlighted fields.");
      return;
    }
    const body = { script };
    if (p.value) body.params = p.value;
    if (v.value) body.variables = v.value;
    if (lim.out) body.limits = lim.out;
    let q = $("query").value.trim().replace(/^\?/, "");
    running = true;
    $("run").disabled = true;
    setBadge("busy", "Running…", "");
    const r = await api("POST", API + "/execute" + (q ? "?" + q : ""), body);
    running = false;
    $("run").disabled = false;
    showRun(r);
  }

  function setBadge(kind, label, text) {
    const b = $("status-badge");
    b.className = "badge " + kind;
    b.textContent = label;
    $("outcome-text").textContent = text || "";
  }

  function statusText(s) {
    const t = { 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved", 302: "Found", 400: "Bad Request",
      401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Too Large",
      415: "Unsupported Media Type", 422: "Unprocessable", 429: "Too Many Requests", 500: "Internal Error",
      502: "Bad Gateway", 503: "Unavailable", 504: "Timeout" };
    return t[s] || "";
  }

  function showRun(r) {
    const j = r.json;
    $("stat-rtt").textContent = fmtMS(r.ms);
    $("request-id").textContent = j && j.request_id ? "request id " + j.request_id : "";
    if (r.status === 0) {
      setBadge("bad", "No answer", "The edge could not be reached: " + r.text);
      return;
    }
    if (!j) {
      setBadge("bad", "HTTP " + r.status, "The answer is not JSON.");
      showError(r.status, { error: r.text.slice(0, 2000), code: "" }, null);
      return;
    }
    const label = r.status + " " + statusText(r.status);
    if (j.success) {
      $("error-box").hidden = true;
      marks.runtime = null;
      const kind = r.status >= 200 && r.status < 300 ? "ok" : "warn";
      setBadge(kind, label.trim(), r.status !== 200 ? "The script ran and set _status " + r.status + "." : "The script ran.");
      renderJSON($("result"), j.result || {});
      renderJSON($("vars"), j.variables || {});
      renderJSON($("logs"), j.logs || []);
      const st = j.stats || {};
      $("stats").hidden = false;
      $("stat-steps").textContent = fmtNum(st.steps);
      $("stat-duration").textContent = fmtUS(st.duration_us);
      $("stat-memory").textContent = fmtBytes(st.peak_memory);
    } else {
      setBadge("bad", label.trim(), j.code === "AVAP_SYNTAX" ? "The script does not compile." : "The run failed.");
      showError(r.status, j, null);
      renderJSON($("result"), j.result || {});
      renderJSON($("vars"), j.variables || {});
      renderJSON($("logs"), j.logs || []);
      if (j.stats) {
        $("stats").hidden = false;
        $("stat-steps").textContent = fmtNum(j.stats.steps);
        $("stat-duration").textContent = fmtUS(j.stats.duration_us);
        $("stat-memory").textContent = fmtBytes(j.stats.peak_memory);
      }
      if (j.position && j.position.line) {
        marks.runtime = { line: j.position.line, col: j.position.column, msg: j.error };
        if (j.code === "AVAP_SYNTAX") marks.syntax = [marks.runtime];
        render();
      }
    }
  }

  // showError fills the error box: code, position, message, every syntax
  // error (clickable) and the call stack when the answer has one.
  function showError(status, j, errors) {
    const box = $("error-box");
    box.hidden = false;
    $("error-code").textContent = (j.code || "ERROR") + (status ? " · HTTP " + status : "");
    const pos = j.position && j.position.line ? j.position : null;
    const posEl = $("error-pos");
    posEl.textContent = "";
    if (pos) {
      posEl.append("at ", el("button", { type: "button", class: "linklike", text: "line " + pos.line + ", column " + pos.column,
        onclick: () => goTo(pos.line, pos.column) }));
    }
    $("error-msg").textContent = j.error || "";
    const list = $("error-list");
    list.textContent = "";
    if (errors && errors.length > 1) {
      for (const e of errors) {
        list.append(el("li", null, el("button", { type: "button", text: e.line + ":" + e.column, onclick: () => goTo(e.line, e.column) }), " " + e.message));
      }
    }
    const stack = Array.isArray(j.stack) ? j.stack : (Array.isArray(j.call_stack) ? j.call_stack : null);
    const sw = $("stack-wrap"), ol = $("stack");
    ol.textContent = "";
    sw.hidden = !stack || !stack.length;
    if (stack) {
      for (const f of stack) {
        const fn = f.func || f.function || f.name || "<main>";
        const line = f.line || (f.position && f.position.line), col = f.column || f.col || (f.position && f.position.column);
        ol.append(el("li", null, fn + " ", line ? el("button", { type: "button", text: "at " + line + ":" + (col || 1), onclick: () => goTo(line, col) }) : ""));
      }
    }
  }

  $("run").addEventListener("click", run);
  $("check").addEventListener("click", () => check(true));

  // ------------------------------------------------------------ examples ---

  let examples = [];
  async function loadExamples() {
    const r = await fetch("assets/examples/index.json", { cache: "no-cache" }).catch(() => null);
    if (!r || !r.ok) return;
    examples = await r.json();
    const sel = $("examples");
    for (const ex of examples) {
      sel.append(el("option", { value: ex.file, title: ex.description || "" }, ex.title + (ex.description ? " — " + ex.description : "")));
    }
  }
  $("examples").addEventListener("change", async (e) => {
    const ex = examples.find((x) => x.file === e.target.value);
    if (!ex) return;
    const r = await fetch("assets/examples/" + encodeURIComponent(ex.file), { cache: "no-cache" }).catch(() => null);
    if (!r || !r.ok) { toast("Could not load the example."); return; }
    setScript(await r.text());
    $("query").value = ex.query ? new URLSearchParams(ex.query).toString() : "";
    $("params").value = ex.params ? JSON.stringify(ex.params, null, 2) : "";
    $("variables").value = "";
    saveDraft();
    setBadge("idle", "Ready", "Example " + ex.title + (ex.status && ex.status !== 200 ? " (expects HTTP " + ex.status + ")" : "") + ". Press Run.");
    check(false);
  });

  // -------------------------------------------------------------- share ---

  function b64urlEncode(str) {
    const bytes = new TextEncoder().encode(str);
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function b64urlDecode(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const bin = atob(s);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new TextDecoder().decode(bytes);
  }

  function currentState() {
    return { s: code.value, q: $("query").value, p: $("params").value, v: $("variables").value };
  }
  function applyState(st) {
    setScript(typeof st.s === "string" ? st.s : "");
    $("query").value = typeof st.q === "string" ? st.q : "";
    $("params").value = typeof st.p === "string" ? st.p : "";
    $("variables").value = typeof st.v === "string" ? st.v : "";
  }

  function loadFromHash() {
    const m = /^#x=([A-Za-z0-9_-]+)$/.exec(location.hash);
    if (!m) return false;
    try {
      applyState(JSON.parse(b64urlDecode(m[1])));
      return true;
    } catch (e) {
      toast("The link's script could not be read.");
      return false;
    }
  }

  $("share").addEventListener("click", async () => {
    const hash = "#x=" + b64urlEncode(JSON.stringify(currentState()));
    history.replaceState(null, "", hash);
    const url = location.href;
    let copied = false;
    try {
      // The clipboard may wait for a permission prompt; do not hang on it.
      await Promise.race([navigator.clipboard.writeText(url), new Promise((_, no) => setTimeout(() => no(new Error("timeout")), 1500))]);
      copied = true;
    } catch (e) { copied = false; }
    toast((copied ? "Link copied" : "Link is in the address bar") + " — the script travels in the URL fragment; nothing is stored on the server." +
      (url.length > 32000 ? " (Long link: some tools may cut it.)" : ""));
  });
  window.addEventListener("hashchange", () => { if (loadFromHash()) check(false); });

  function saveDraft() {
    try { sessionStorage.setItem(DRAFT_STORE, JSON.stringify(currentState())); } catch (e) { /* full or disabled */ }
  }
  for (const id of ["query", "params", "variables"]) $(id).addEventListener("input", saveDraft);

  // --------------------------------------------------------------- tabs ---

  const tabs = [$("tab-play"), $("tab-mesh")];
  function currentView() { return $("view-mesh").hidden ? "play" : "mesh"; }
  function selectTab(tab, focus) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
    if (tab.id === "tab-mesh") { pollMesh(); }
    scheduleMeshPoll();
  }
  tabs.forEach((t, i) => {
    t.addEventListener("click", () => selectTab(t, false));
    t.addEventListener("keydown", (e) => {
      let k = -1;
      if (e.key === "ArrowRight") k = (i + 1) % tabs.length;
      else if (e.key === "ArrowLeft") k = (i - 1 + tabs.length) % tabs.length;
      else if (e.key === "Home") k = 0;
      else if (e.key === "End") k = tabs.length - 1;
      if (k >= 0) { e.preventDefault(); selectTab(tabs[k], true); }
    });
  });

  // ------------------------------------------------------------ API key ---

  const dlg = $("key-dialog");
  function updateKeyButton() { $("key-button").textContent = "API key: " + (apiKey() ? "set" : "none"); }
  function openKeyDialog(reason) {
    if (dlg.open) return;
    $("key-reason").textContent = (reason ? reason + " " : "") +
      "The key is kept in this tab's session storage only and sent as X-API-Key and Authorization: Bearer.";
    $("key-input").value = apiKey();
    if (dlg.showModal) dlg.showModal(); else dlg.setAttribute("open", "");
    $("key-input").focus();
  }
  $("key-button").addEventListener("click", () => openKeyDialog(""));
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const action = e.submitter ? e.submitter.value : "save";
    try {
      if (action === "save" && $("key-input").value.trim()) sessionStorage.setItem(KEY_STORE, $("key-input").value.trim());
      else if (action === "clear") sessionStorage.removeItem(KEY_STORE);
    } catch (err) { toast("Session storage is unavailable; the key cannot be kept."); }
    $("key-input").value = "";
    dlg.close();
    updateKeyButton();
    if (action === "save") { loadInfo(); }
  });

  // --------------------------------------------------------------- info ---

  let info = null;
  async function loadInfo() {
    const r = await api("GET", API + "/info", undefined, { quiet401: true });
    if (!r.ok || !r.json) return null;
    info = r.json;
    const ns = $("node-summary");
    ns.textContent = [info.node_id, info.version && (/^\d/.test(info.version) ? "v" : "") + info.version, info.language && info.language.version && "AVAP " + info.language.version].filter(Boolean).join(" · ");
    if (info.language && Array.isArray(info.language.commands) && info.language.commands.length) {
      knownCommands = new Set(info.language.commands.concat(["str", "int", "float", "len"]));
      scheduleRender();
    }
    applyLimits(info.limits);
    return info;
  }

  function applyLimits(l) {
    if (!l) return;
    const def = l.default || {}, max = l.max || {};
    for (const x of LIMITS) {
      const f = $(x.id);
      if (max[x.key]) f.max = String(Math.floor(max[x.key] / x.scale));
      if (def[x.key]) f.placeholder = "default " + fmtNum(Math.round(def[x.key] / x.scale));
      f.title = max[x.key] ? "at most " + fmtNum(Math.floor(max[x.key] / x.scale)) : "";
    }
    $("limits-note").textContent = "Leave empty for the server's default (shown greyed). The server's maxima are the upper bounds of each field.";
  }

  // --------------------------------------------------------------- mesh ---

  const HISTORY = 150;                  // points kept for charts
  const series = { rps: [], p99: [] };  // {t, v}
  const seen = new Map();               // executor id -> {last: ms, m: member}
  let prevTotals = null;                // {t, byID: Map(id -> count)}
  let metrics = { state: "unknown", prev: null }; // "unknown" | "none" | "ok"
  let dlqState = "unknown";             // "unknown" | "none" | "ok"
  let registryState = "unknown";
  let meshTimer = 0, meshBusy = false;

  function scheduleMeshPoll() {
    clearTimeout(meshTimer);
    const visible = currentView() === "mesh";
    const live = $("mesh-live").checked;
    const delay = visible && live ? 2000 : 10000;
    meshTimer = setTimeout(() => { if (!document.hidden && (visible ? live : true)) pollMesh(); else scheduleMeshPoll(); }, delay);
  }
  $("mesh-live").addEventListener("change", scheduleMeshPoll);
  $("mesh-refresh").addEventListener("click", () => pollMesh());

  async function pollMesh() {
    if (meshBusy) return;
    meshBusy = true;
    try {
      const now = Date.now();
      const inf = await loadInfo();
      if (inf) {
        renderEdges(inf, now);
        renderExecutors(inf, now);
        renderLanguage(inf);
        trackRates(inf, now);
      }
      await pollMetrics(now);
      if (currentView() === "mesh") { await pollDLQ(); await pollRegistry(); }
      drawCharts();
      $("mesh-updated").textContent = inf ? "updated " + new Date(now).toLocaleTimeString() : "info unavailable";
    } finally {
      meshBusy = false;
      scheduleMeshPoll();
    }
  }

  // renderEdges lists the non-executor nodes: from the heartbeat members
  // list (mesh.nodes: edges and registries, with zone, load and last
  // heartbeat) when the server has one, else this edge alone.
  function renderEdges(inf, now) {
    const tb = $("edges").tBodies[0];
    tb.textContent = "";
    const nodes = (inf.mesh && Array.isArray(inf.mesh.nodes)) ? inf.mesh.nodes.filter((n) => n.role !== "executor") : [];
    const edges = nodes.length ? nodes.map((n) => ({
      id: n.id, version: n.version, roles: [n.role, n.zone && "zone " + n.zone].filter(Boolean).join(" · "),
      uptime_seconds: n.started ? Math.max(0, (now - Date.parse(n.started)) / 1000) : undefined,
      load: n.load, in_flight: n.in_flight, queued: n.queued, http: n.http,
      seen: n.age_ms !== undefined ? now - n.age_ms : (n.last_seen ? Date.parse(n.last_seen) : now),
      self: n.id === inf.node_id,
    })).sort((x, y) => String(x.roles).localeCompare(String(y.roles)) || String(x.id).localeCompare(String(y.id))) : [{
      id: inf.node_id, version: inf.version, roles: inf.roles, uptime_seconds: inf.uptime_seconds,
      commit: inf.commit, go_version: inf.go_version, self: true, seen: now,
    }];
    for (const e of edges) {
      const id = e.id || e.node_id || "?";
      const load = e.load !== undefined ? meter(e.load, Math.round(100 * (e.load || 0)) + "%" + (e.in_flight ? ", " + e.in_flight + " in flight" : "") + (e.queued ? ", " + e.queued + " queued" : "")) : "–";
      tb.append(el("tr", null,
        el("td", { class: "mono" }, el("span", { class: "dot", "aria-hidden": "true" }), id, e.self ? el("span", { class: "muted", text: " (this edge)" }) : ""),
        el("td", null, e.version || "–"),
        el("td", null, Array.isArray(e.roles) ? e.roles.join(", ") : (e.roles || "–")),
        el("td", null, load),
        el("td", null, e.uptime_seconds !== undefined ? fmtDur(e.uptime_seconds) : "–"),
        el("td", { class: "mono" }, [e.commit && String(e.commit).slice(0, 10), e.go_version, e.http].filter(Boolean).join(" · ") || "–"),
        el("td", null, ago(e.seen))));
    }
  }

  const sum = (o) => o && typeof o === "object" ? Object.values(o).reduce((a, b) => a + (Number(b) || 0), 0) : 0;

  function meter(frac, label) {
    const f = Math.max(0, Math.min(1, frac || 0));
    const bar = el("span");
    bar.style.width = (f * 100).toFixed(0) + "%";   // CSSOM: allowed by the CSP
    if (f >= 0.9) bar.className = "full"; else if (f >= 0.6) bar.className = "hot";
    return el("span", null, el("span", { class: "meter", role: "img", "aria-label": label }, bar), label);
  }

  function renderExecutors(inf, now) {
    const list = (inf.mesh && Array.isArray(inf.mesh.executors)) ? inf.mesh.executors : [];
    for (const m of list) seen.set(m.id, { last: now, m });
    for (const [id, s] of seen) if (now - s.last > 5 * 60 * 1000) seen.delete(id);
    const tb = $("executors").tBodies[0];
    tb.textContent = "";
    const ids = [...seen.keys()].sort();
    for (const id of ids) {
      const { last, m } = seen.get(id);
      const st = m.stats || {};
      const workers = sum(st.workers) || Number(m.metadata && m.metadata.workers) || 0;
      const queued = sum(st.queued), cap = sum(st.queue_capacity);
      const age = now - last;
      const state = age < 1000 ? "" : (age < 15000 ? "stale" : "gone");
      const hits = st.cache_hits || 0, miss = st.cache_misses || 0;
      tb.append(el("tr", { class: state ? "stale" : null },
        el("td", { class: "mono" }, el("span", { class: "dot " + state, "aria-hidden": "true" }), id,
          state === "gone" ? el("span", { class: "muted", text: " (not answering)" }) : ""),
        el("td", null, m.version || "–"),
        el("td", null, meter(workers ? (st.in_flight || 0) / workers : 0, (st.in_flight || 0) + " / " + (workers || "?") + " busy")),
        el("td", null, meter(cap ? queued / cap : 0, queued + " / " + (cap || "?"))),
        el("td", null, fmtNum(st.runs)),
        el("td", null, fmtNum(st.errors)),
        el("td", null, fmtNum(st.overloads)),
        el("td", null, (hits + miss ? Math.round(100 * hits / (hits + miss)) + "% hit" : "–") + (st.cached_programs !== undefined ? ", " + st.cached_programs + " programs" : "")),
        el("td", null, state === "" ? "just now" : ago(last))));
    }
    $("exec-count").textContent = "(" + list.length + " answering)";
    $("exec-empty").hidden = ids.length > 0;
    if (inf.mesh && inf.mesh.error) $("exec-empty").textContent = "Discovery failed: " + inf.mesh.error;
  }

  function renderLanguage(inf) {
    const l = inf.language || {};
    const p = $("lang-panel");
    if (!l.version && !(l.commands && l.commands.length)) { p.hidden = true; return; }
    p.hidden = false;
    $("lang").textContent = (l.version ? "Language version " + l.version + ". " : "") +
      (l.commands ? l.commands.length + " commands: " + l.commands.join(", ") : "");
  }

  // trackRates derives requests/s from the executors' counters (the
  // fallback when /metrics has no request counter).
  function trackRates(inf, now) {
    const byID = new Map();
    for (const m of (inf.mesh && inf.mesh.executors) || []) {
      const s = m.stats || {};
      byID.set(m.id, (s.runs || 0) + (s.errors || 0) + (s.overloads || 0));
    }
    if (prevTotals && metrics.state !== "ok") {
      let d = 0;
      for (const [id, v] of byID) { const p = prevTotals.byID.get(id); if (p !== undefined && v >= p) d += v - p; }
      const dt = (now - prevTotals.t) / 1000;
      if (dt > 0.2) push(series.rps, now, d / dt);
      $("rps-src").textContent = "executor runs";
    }
    prevTotals = { t: now, byID };
  }

  function push(arr, t, v) {
    arr.push({ t, v });
    while (arr.length > HISTORY) arr.shift();
  }

  // parseProm reads the Prometheus text format into samples.
  function parseProm(text) {
    const out = [];
    for (const line of text.split("\n")) {
      if (!line || line[0] === "#") continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const labels = {};
      if (m[3]) for (const lm of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"/g)) labels[lm[1]] = lm[2];
      out.push({ name: m[1], labels, v: Number(m[4]) });
    }
    return out;
  }

  // pollMetrics looks for an HTTP request-duration histogram in /metrics
  // and turns two scrapes into requests/s and p99.
  async function pollMetrics(now) {
    if (metrics.state === "none") return;
    let r = await api("GET", "/metrics", undefined, { quiet401: true });
    if (r.status === 404) r = await api("GET", API + "/metrics", undefined, { quiet401: true });
    if (!r.ok || !r.text || r.text[0] === "{") {
      if (r.status === 404 || r.status === 405) metrics.state = "none";
      $("p99-src").textContent = "no latency histogram exposed";
      return;
    }
    const samples = parseProm(r.text);
    showJobCounts(samples);
    const fam = pickHistogram(samples);
    if (!fam) { metrics.state = "none"; $("p99-src").textContent = "no latency histogram in /metrics"; return; }
    metrics.state = "ok";
    // Only the execution API counts: the console's own polling (info
    // waits for discovery) would skew p99.
    const exec = (s) => s.labels.route === undefined || /^\/api\/v1\/execute/.test(s.labels.route);
    const buckets = new Map(); let count = 0;
    for (const s of samples) {
      if (!exec(s)) continue;
      if (s.name === fam + "_bucket" && s.labels.le !== undefined) buckets.set(s.labels.le, (buckets.get(s.labels.le) || 0) + s.v);
      else if (s.name === fam + "_count") count += s.v;
    }
    const cur = { t: now, buckets, count };
    const prev = metrics.prev;
    metrics.prev = cur;
    $("rps-src").textContent = $("p99-src").textContent = "/api/v1/execute*, from " + fam;
    if (!prev) return;
    const dt = (now - prev.t) / 1000;
    const dc = count - prev.count;
    if (dt <= 0 || dc < 0) return;
    push(series.rps, now, dc / dt);
    if (dc === 0) return; // no requests: no latency point
    const les = [...buckets.keys()].sort((a, b) => parseFloat(a) - parseFloat(b));
    const target = dc * 0.99;
    let p99 = NaN, prevLe = 0, prevCum = 0;
    for (const le of les) {
      const cum = buckets.get(le) - (prev.buckets.get(le) || 0);
      const ub = le === "+Inf" ? Infinity : parseFloat(le);
      if (cum >= target) {
        if (ub === Infinity) { p99 = prevLe; break; }
        const inBucket = cum - prevCum;
        p99 = prevLe + (ub - prevLe) * (inBucket > 0 ? (target - prevCum) / inBucket : 1);
        break;
      }
      prevLe = ub; prevCum = cum;
    }
    if (!isNaN(p99)) push(series.p99, now, p99 * 1000); // ms
  }

  // showJobCounts shows the async job queues by priority and the dead
  // letter count from the jobs gauges in /metrics (every executor reports
  // the cluster-wide figure, so the largest sample wins).
  function showJobCounts(samples) {
    const queued = {}; let dead = null;
    for (const s of samples) {
      if (s.name === "avap_jobs_queued") queued[s.labels.priority || "?"] = Math.max(queued[s.labels.priority || "?"] || 0, s.v);
      else if (s.name === "avap_jobs_dlq_size") dead = Math.max(dead || 0, s.v);
    }
    const parts = ["high", "normal", "low"].filter((p) => p in queued).map((p) => p + " " + queued[p]);
    if (!parts.length && dead === null) { $("jobs-counts").textContent = ""; return; }
    $("jobs-counts").textContent = "queued: " + (parts.join(" · ") || "none") + (dead === null ? "" : " — dead letters: " + dead);
  }

  function pickHistogram(samples) {
    const names = new Set(samples.filter((s) => s.name.endsWith("_bucket")).map((s) => s.name.slice(0, -7)));
    const pref = [...names].filter((n) => /http/.test(n) && /duration|latency/.test(n) && /second/.test(n));
    const alt = [...names].filter((n) => /request/.test(n) && /duration|latency/.test(n));
    return pref[0] || alt[0] || null;
  }

  async function pollDLQ() {
    if (dlqState === "none") return;
    const r = await api("GET", API + "/dlq?limit=10", undefined, { quiet401: true });
    if (r.status === 404 || r.status === 405) { dlqState = "none"; $("jobs-panel").hidden = true; return; }
    $("jobs-panel").hidden = false;
    const tb = $("dlq").tBodies[0];
    tb.textContent = "";
    if (!r.ok || !r.json) {
      $("dlq-count").textContent = r.status === 401 || r.status === 403 ? "(needs an API key with access)" : "(unavailable: " + ((r.json && r.json.error) || "HTTP " + r.status) + ")";
      return;
    }
    dlqState = "ok";
    const items = r.json.items || [];
    $("dlq-count").textContent = "(" + items.length + (r.json.next ? "+" : "") + " recent)";
    if (!items.length) tb.append(el("tr", null, el("td", { colspan: "4", class: "muted" }, "No dead letters.")));
    for (const d of items) {
      tb.append(el("tr", null,
        el("td", { class: "mono" }, d.id || "–"),
        el("td", null, d.dead_at ? new Date(d.dead_at).toLocaleString() : "–"),
        el("td", null, fmtNum(d.attempts)),
        el("td", null, (d.last_code ? d.last_code + ": " : "") + (d.last_error || d.reason || ""))));
    }
  }

  // pollRegistry lists the registry's packages (one row per name, its
  // versions marked deprecated or revoked); 503 = no registry answering.
  async function pollRegistry() {
    if (registryState === "none") return;
    const r = await api("GET", API + "/registry/packages", undefined, { quiet401: true });
    if (r.status === 404 || r.status === 405) { registryState = "none"; $("registry-panel").hidden = true; return; }
    $("registry-panel").hidden = false;
    const tb = $("registry").tBodies[0];
    tb.textContent = "";
    if (!r.ok || !r.json) {
      registryState = "unavailable";
      $("registry-count").textContent = r.status === 401 || r.status === 403 ? "(needs an API key with access)" : "(unavailable: " + ((r.json && r.json.error) || "HTTP " + r.status) + ")";
      return;
    }
    registryState = "ok";
    const list = Array.isArray(r.json) ? r.json : (r.json.packages || r.json.items || []);
    const byName = new Map();
    for (const p of list) {
      const name = p.name || "?";
      if (!byName.has(name)) byName.set(name, []);
      const vs = Array.isArray(p.versions) ? p.versions : [p];
      for (const v of vs) byName.get(name).push(typeof v === "string" ? { version: v } : v);
    }
    for (const [name, vs] of [...byName].sort((a, b) => a[0].localeCompare(b[0]))) {
      const cell = el("td", { class: "mono" });
      vs.forEach((v, i) => {
        const mark = v.revoked || v.status === "revoked" ? "revoked" : (v.deprecated || v.status === "deprecated" ? "deprecated" : "");
        if (i) cell.append(", ");
        cell.append(el("span", { class: mark ? "pkg-" + mark : null, title: [mark, v.reason].filter(Boolean).join(": ") || null }, (v.version || "–") + (mark ? " (" + mark + ")" : "")));
      });
      tb.append(el("tr", null, el("td", { class: "mono" }, name), cell));
    }
    $("registry-count").textContent = "(" + byName.size + " packages, " + list.length + " versions)";
    $("registry-empty").hidden = byName.size > 0;
  }

  // chart draws an inline SVG line chart of pts over the last 5 minutes.
  function chart(box, pts, unit, label, unavailable) {
    const W = 600, H = 110, L = 44, B = 16, T = 6;
    const ns = "http://www.w3.org/2000/svg";
    const mk = (tag, attrs) => { const e = document.createElementNS(ns, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; };
    // The window grows with the data, from one minute up to five.
    const now = Date.now();
    const span = Math.min(5 * 60 * 1000, Math.max(60 * 1000, pts.length ? now - pts[0].t : 0));
    const vis = pts.filter((p) => p.t >= now - span);
    const maxV = Math.max(1e-9, ...vis.map((p) => p.v));
    const top = niceCeil(maxV);
    const x = (t) => L + (W - L - 4) * (1 - (now - t) / span);
    const y = (v) => T + (H - T - B) * (1 - v / top);
    const svg = mk("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img",
      "aria-label": label + (vis.length ? ", latest " + fmtVal(vis[vis.length - 1].v, unit) + ", peak " + fmtVal(maxV, unit) : ", no data yet") });
    svg.append(mk("line", { class: "axis", x1: L, y1: H - B, x2: W, y2: H - B }));
    svg.append(mk("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
    const tTop = mk("text", { x: L - 4, y: T + 8, "text-anchor": "end" }); tTop.textContent = fmtVal(top, unit); svg.append(tTop);
    const tZero = mk("text", { x: L - 4, y: H - B, "text-anchor": "end" }); tZero.textContent = "0"; svg.append(tZero);
    const tL = mk("text", { x: L + 2, y: H - 3 }); tL.textContent = "−" + Math.round(span / 60000) + " min"; svg.append(tL);
    const tR = mk("text", { x: W - 2, y: H - 3, "text-anchor": "end" }); tR.textContent = "now"; svg.append(tR);
    if (vis.length > 1) {
      const d = vis.map((p, i) => (i ? "L" : "M") + x(p.t).toFixed(1) + " " + y(p.v).toFixed(1)).join(" ");
      svg.append(mk("path", { class: "area", d: d + " L" + x(vis[vis.length - 1].t).toFixed(1) + " " + (H - B) + " L" + x(vis[0].t).toFixed(1) + " " + (H - B) + " Z" }));
      svg.append(mk("path", { class: "stroke", d }));
    } else {
      const t = mk("text", { x: (W + L) / 2, y: H / 2, "text-anchor": "middle" }); t.textContent = unavailable || "collecting…"; svg.append(t);
    }
    box.textContent = "";
    box.append(svg);
  }
  function niceCeil(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function fmtVal(v, unit) {
    if (unit === "ms") return v < 1 ? (v * 1000).toFixed(0) + " µs" : v < 100 ? v.toFixed(1) + " ms" : v.toFixed(0) + " ms";
    return v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString("en-US");
  }
  function drawCharts() {
    if (currentView() !== "mesh") return;
    chart($("chart-rps"), series.rps, "rps", "Requests per second over the last 5 minutes");
    chart($("chart-p99"), series.p99, "ms", "p99 latency over the last 5 minutes",
      metrics.state === "none" ? "not available: /metrics exposes no HTTP latency histogram" : "");
    const last = (a) => a.length ? a[a.length - 1].v : null;
    $("rps-now").textContent = last(series.rps) === null ? "" : fmtVal(last(series.rps), "rps");
    $("p99-now").textContent = last(series.p99) === null ? "" : fmtVal(last(series.p99), "ms");
  }

  document.addEventListener("visibilitychange", () => { if (!document.hidden) scheduleMeshPoll(); });

  // --------------------------------------------------------------- start ---

  const SAMPLE = "// Welcome to the AVAP playground. Ctrl/Cmd+Enter runs.\naddParam(name, who)\nif(who, None, \"=\")\n  addVar(who, \"world\")\nend()\ngreeting = \"Hello, \" + who\naddResult(greeting)\n";

  function start() {
    updateKeyButton();
    if (!loadFromHash()) {
      let restored = false;
      try {
        const d = sessionStorage.getItem(DRAFT_STORE);
        if (d) { applyState(JSON.parse(d)); restored = true; }
      } catch (e) { restored = false; }
      if (!restored) setScript(SAMPLE);
    }
    render();
    loadExamples();
    loadInfo().then(() => pollMesh());
    document.body.dataset.ready = "true";
  }
  start();
})();
