// kvstore ui: the page's script. Plain JavaScript, no framework, no build step.
// Every key and value from the store is put in the page as text (textContent, text
// nodes), never as HTML, so a key like <script>...</script> is only ever shown.
"use strict";

const state = {
  info: null,
  revision: 0, // the newest store revision the page has seen
  prefix: "",
  pageStarts: [null], // the start of each page seen, for "Previous"
  pageIndex: 0,
  nextStart: null,
  key: null,
  detail: null,
  shownBytes: null,
  mode: "auto",
  historyBefore: null,
  tab: "keys",
  source: null,
  leases: [],
  leasesFetched: 0,
  etcdLock: "", // the etcd-layout lock shown on the locks tab ("": none)
  timers: [],
};

// ------------------------------------------------------------------ helpers

function $(id) {
  return document.getElementById(id);
}

// el("td", {class: "x"}, "text", otherNode): strings become text nodes, never HTML.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) {
  node.replaceChildren();
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined) query.set(name, value);
  }
  const text = query.toString();
  const response = await fetch(text ? `${path}?${text}` : path, { credentials: "same-origin" });
  return answer(response);
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return answer(response);
}

async function answer(response) {
  const kind = response.headers.get("content-type") || "";
  const body = kind.includes("json") ? await response.json() : { error: await response.text() };
  if (!response.ok) {
    throw new Error(body.error || `HTTP ${response.status}`);
  }
  return body;
}

function guard(action) {
  return async (...args) => {
    try {
      await action(...args);
    } catch (error) {
      showError(error.message);
    }
  };
}

function bytesOf(base64) {
  const raw = atob(base64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function utf8(bytes) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    return null;
  }
}

function hexDump(bytes) {
  const lines = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = bytes.slice(offset, offset + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = Array.from(row, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${offset.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}

function prettyJson(text) {
  if (text === null) return null;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (error) {
    return null;
  }
}

// The text of a value in a mode: [text, note].
function render(bytes, mode) {
  const text = utf8(bytes);
  if (mode === "hex") return [hexDump(bytes), null];
  if (mode === "json") {
    const pretty = prettyJson(text);
    return pretty === null ? [text === null ? hexDump(bytes) : text, "not JSON"] : [pretty, null];
  }
  if (mode === "text") {
    return text === null ? [hexDump(bytes), "not UTF-8 text: shown as hex"] : [text, null];
  }
  if (text === null) return [hexDump(bytes), "binary value: shown as hex"];
  const trimmed = text.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    const pretty = prettyJson(text);
    if (pretty !== null) return [pretty, null];
  }
  return [text, null];
}

// A short one-line preview of a shown value (for lists).
function preview(shown) {
  if (shown.value === null || shown.value === undefined) return shown.error || "";
  const bytes = bytesOf(shown.value);
  const text = utf8(bytes);
  const line = text === null ? `(${bytes.length} bytes, binary)` : text.replace(/\s+/g, " ");
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

// ------------------------------------------------------------------ tabs

function selectTab(name) {
  state.tab = name;
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.tab === name);
  }
  for (const section of document.querySelectorAll("section.tab")) {
    section.hidden = section.id !== `tab-${name}`;
  }
  showError("");
  if (name === "leases") guard(loadLeases)();
  if (name === "locks") guard(loadLocks)();
  if (name === "cluster") guard(loadCluster)();
}

// ------------------------------------------------------------------ the key tree

async function loadTree() {
  const start = state.pageStarts[state.pageIndex];
  const page = await api("/api/tree", { prefix: state.prefix, start });
  state.revision = Math.max(state.revision, page.revision);
  $("revision").textContent = `revision ${state.revision}`;
  $("prefix-input").value = state.prefix;
  const crumbs = $("crumbs");
  clear(crumbs);
  const top = el("a", { href: "#", "data-prefix": "" }, "(top)");
  crumbs.append(top);
  let acc = "";
  for (const part of state.prefix.split("/").slice(0, -1)) {
    acc += `${part}/`;
    crumbs.append(" / ", el("a", { href: "#", "data-prefix": acc }, part || "(empty)"));
  }
  const rest = state.prefix.slice(acc.length);
  if (rest) crumbs.append(" / ", el("span", {}, `${rest}…`));
  $("tree-count").textContent = `${page.count} key(s) under ${state.prefix ? `"${state.prefix}"` : "the top level"}`;
  const tree = $("tree");
  clear(tree);
  for (const entry of page.entries) {
    if (entry.dir) {
      tree.append(
        el("li", { class: "dir" },
          el("a", { href: "#", "data-prefix": entry.key, "data-testid": "tree-dir" }, entry.name),
          el("span", { class: "muted" }, ` ${entry.count}`)),
      );
    } else {
      const label = entry.name === "" ? "(the prefix itself)" : entry.name;
      const attrs = { href: "#", "data-key": entry.key, "data-testid": "tree-key" };
      if (entry.key === state.key) attrs.class = "selected";
      tree.append(el("li", { class: "key" }, el("a", attrs, label)));
    }
  }
  if (!page.entries.length) tree.append(el("li", { class: "muted" }, "(no keys)"));
  state.nextStart = page.next;
  $("tree-next").disabled = page.next === null;
  $("tree-prev").disabled = state.pageIndex === 0;
}

function openPrefix(prefix) {
  state.prefix = prefix;
  state.pageStarts = [null];
  state.pageIndex = 0;
  return loadTree();
}

// ------------------------------------------------------------------ one key

function metaRow(name, value) {
  return el("tr", {}, el("th", {}, name), el("td", { "data-field": name }, value === null ? "–" : value));
}

async function openKey(key) {
  let detail;
  try {
    detail = await api("/api/key", { key });
  } catch (error) {
    $("key-panel").hidden = true;
    $("key-empty").hidden = false;
    throw error;
  }
  state.key = key;
  state.detail = detail;
  $("key-empty").hidden = true;
  $("key-panel").hidden = false;
  $("key-name").textContent = key;
  const meta = $("key-meta");
  clear(meta);
  meta.append(
    metaRow("create revision", detail.create_revision),
    metaRow("mod revision", detail.mod_revision),
    metaRow("version", detail.version),
    metaRow("lease", detail.lease === null ? null : `${detail.lease}${detail.lease_ttl === null ? "" : ` (TTL ${detail.lease_ttl} s)`}`),
    metaRow("size", `${detail.size} bytes stored`),
  );
  if (detail.encrypted) {
    meta.append(metaRow("encryption", `key id ${detail.encrypted.key_id}${detail.encrypted.decrypted ? ", decrypted" : ""}`));
  }
  showValue(detail);
  const editable = state.info.write && detail.value !== null;
  $("edit-tools").hidden = !state.info.write;
  $("edit-value").disabled = !editable;
  $("edit-save").disabled = !editable;
  $("edit-value").value = editable ? (utf8(bytesOf(detail.value)) ?? "") : "";
  for (const link of document.querySelectorAll("#tree a[data-key]")) {
    link.classList.toggle("selected", link.dataset.key === key);
  }
  state.historyBefore = null;
  clear($("history"));
  await loadHistory();
}

function showValue(shown) {
  const note = $("value-note");
  if (shown.value === null || shown.value === undefined) {
    state.shownBytes = null;
    $("value").textContent = "";
    note.textContent = shown.error;
    note.hidden = false;
    return;
  }
  state.shownBytes = bytesOf(shown.value);
  const [text, remark] = render(state.shownBytes, state.mode);
  $("value").textContent = text;
  note.textContent = remark || "";
  note.hidden = !remark;
}

async function loadHistory() {
  const found = await api("/api/history", { key: state.key, before: state.historyBefore });
  const body = $("history");
  for (const version of found.versions) {
    const row = el("tr", { "data-testid": "history-row" },
      el("td", {}, version.mod_revision),
      el("td", {}, version.version),
      el("td", {}, preview(version)));
    row.addEventListener("click", () => showValue(version));
    body.append(row);
  }
  state.historyBefore = found.next;
  $("history-more").hidden = found.next === null;
  let note = "";
  if (found.compacted !== null) note = `history compacted below revision ${found.compacted}`;
  else if (found.absent_at !== null) note = `the key did not exist at revision ${found.absent_at}`;
  $("history-note").textContent = note;
}

// ------------------------------------------------------------------ writes

async function putValue(key, value) {
  const result = await post("/api/put", { key, value });
  showError("");
  await loadTree();
  await openKey(result.key);
}

async function deleteKey() {
  if (!window.confirm(`Delete the key ${state.key}?`)) return;
  await post("/api/delete", { key: state.key });
  state.key = null;
  $("key-panel").hidden = true;
  $("key-empty").hidden = false;
  await loadTree();
}

async function deletePrefix(event) {
  event.preventDefault();
  const prefix = $("delete-prefix").value;
  const confirmation = $("delete-prefix-confirm").value;
  if (prefix !== confirmation) {
    showError("type the prefix again, exactly, to confirm");
    return;
  }
  const result = await post("/api/delete-prefix", { prefix, confirm: confirmation });
  $("delete-prefix").value = "";
  $("delete-prefix-confirm").value = "";
  showError("");
  await loadTree();  // then say what was deleted, beside what is left (not overwritten by it)
  const left = $("tree-count").textContent;
  $("tree-count").textContent = `deleted ${result.deleted} key(s) under "${result.prefix}"; ${left}`;
}

// ------------------------------------------------------------------ live changes

function watchPrefix(prefix) {
  if (state.source) state.source.close();
  // from the revision after the page's first read: no change is missed meanwhile
  const query = new URLSearchParams({ prefix, from: String(state.revision + 1) });
  const source = new EventSource(`/api/watch?${query}`);
  state.source = source;
  $("live-state").textContent = "connecting…";
  source.onopen = () => {
    $("live-state").textContent = `watching ${prefix ? `"${prefix}"` : "every key"}`;
    $("live-state").dataset.state = "open";
  };
  source.onerror = () => {
    $("live-state").textContent = "disconnected; retrying…";
    $("live-state").dataset.state = "retrying";
  };
  source.addEventListener("change", (message) => {
    const change = JSON.parse(message.data);
    const row = el("tr", { class: change.type.toLowerCase(), "data-testid": "event" },
      el("td", {}, change.revision),
      el("td", {}, change.type),
      el("td", { "data-testid": "event-key" }, change.key),
      el("td", {}, change.type === "PUT" ? preview(change) : ""));
    $("events").prepend(row);
    while ($("events").children.length > 500) $("events").lastElementChild.remove();
    state.revision = Math.max(state.revision, change.revision);
    $("revision").textContent = `revision ${state.revision}`;
  });
  source.addEventListener("failure", (message) => {
    showError(`watch: ${JSON.parse(message.data).error}`);
  });
}

// ------------------------------------------------------------------ leases

async function loadLeases() {
  const found = await api("/api/leases");
  state.leases = found.leases;
  state.leasesFetched = Date.now();
  const note = !found.supported
    ? "this backend has no leases"
    : `${found.total} lease(s)${found.total > found.leases.length ? `, ${found.leases.length} shown` : ""}`;
  $("leases-note").textContent = note;
  const body = $("leases");
  clear(body);
  for (const lease of found.leases) {
    const keys = el("td", {});
    for (const key of lease.keys) keys.append(el("div", { class: "lease-key" }, key));
    if (lease.key_count > lease.keys.length) keys.append(el("div", { class: "muted" }, `… ${lease.key_count} in all`));
    body.append(el("tr", { "data-testid": "lease" },
      el("td", {}, lease.id),
      el("td", { class: "ttl", "data-ttl": lease.ttl }, `${lease.ttl} s`),
      el("td", {}, `${lease.granted_ttl} s`),
      keys));
  }
}

function tickLeases() {
  const elapsed = Math.floor((Date.now() - state.leasesFetched) / 1000);
  for (const cell of document.querySelectorAll("#leases td.ttl")) {
    const left = Math.max(0, Number(cell.dataset.ttl) - elapsed);
    cell.textContent = left > 0 ? `${left} s` : "expired";
  }
}

// ------------------------------------------------------------------ locks and other recipes

async function loadLocks() {
  const found = await api("/api/recipes", { prefix: state.etcdLock || null });
  const locks = $("locks");
  clear(locks);
  for (const lock of found.locks) locks.append(lockRow("lock", lock.name, lock));
  if (!found.locks.length) locks.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "no lock is held")));
  const elections = $("elections");
  clear(elections);
  for (const election of found.elections) {
    elections.append(el("tr", { "data-testid": "election" },
      el("td", { "data-testid": "election-name" }, election.name),
      el("td", {}, election.holder.key),
      el("td", {}, election.holder.lease || "–"),
      el("td", {}, election.holder.since),
      el("td", { "data-testid": "leader-value" }, preview(election.holder)),
      waitersCell(election.waiters)));
  }
  if (!found.elections.length) elections.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "no election has a leader")));
  const recipes = $("recipes");
  clear(recipes);
  for (const recipe of found.recipes) {
    recipes.append(el("tr", { "data-testid": "recipe", "data-kind": recipe.kind },
      el("td", { "data-testid": "recipe-kind" }, recipe.kind.replace(/_/g, " ")),
      el("td", { "data-testid": "recipe-name" }, recipe.name),
      el("td", { "data-testid": "recipe-state" }, recipeState(recipe)),
      entriesCell(recipe.holders, "recipe-holder", "–"),
      entriesCell(recipe.waiters, "recipe-waiter", "none")));
  }
  if (!found.recipes.length) recipes.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "no other recipe has keys")));
  const etcdLock = $("etcd-lock");
  clear(etcdLock);
  if (found.etcd_lock) {
    const shown = found.etcd_lock;
    if (shown.lock) etcdLock.append(lockRow("etcd-lock-row", shown.name, shown.lock));
    else etcdLock.append(el("tr", {}, el("td", { colspan: 5, class: "muted", "data-testid": "etcd-lock-empty" }, `no key under "${shown.prefix}": the lock is free`)));
  }
  $("locks-note").textContent = found.truncated ? "more recipe keys exist than are shown" : "";
}

function lockRow(testid, name, lock) {
  return el("tr", { "data-testid": testid },
    el("td", { "data-testid": "lock-name" }, name),
    el("td", { "data-testid": "holder-key" }, lock.holder.key),
    el("td", {}, lock.holder.lease || "–"),
    el("td", { "data-testid": "fencing-token" }, lock.holder.fencing_token),
    waitersCell(lock.waiters));
}

function recipeState(recipe) {
  const count = (list, noun) => `${list.length} ${noun}${list.length === 1 ? "" : "s"}`;
  switch (recipe.kind) {
    case "semaphore":
      return recipe.limit === null ? "limit unknown: the oldest holds" : `${recipe.holders.length} of ${recipe.limit} held`;
    case "rwlock":
      return recipe.holders.some((holder) => holder.mode === "write") ? "write-locked" : `read-locked by ${count(recipe.holders, "reader")}`;
    case "barrier":
      return `held since revision ${recipe.since}`;
    case "double_barrier":
      return recipe.ready ? `released: ${count(recipe.holders, "member")} inside` : `${count(recipe.waiters, "member")} waiting for the round`;
    case "party":
      return count(recipe.holders, "member");
    case "queue":
    case "priority_queue":
      return `${recipe.items} item${recipe.items === 1 ? "" : "s"}`;
    case "counter":
      return `value ${preview(recipe)}`;
    default:
      return "";
  }
}

// A list of queue keys: "[mode or member] key (lease …, since revision …)".
function entriesCell(entries, testid, empty) {
  const cell = el("td", {});
  if (!entries.length) cell.append(el("span", { class: "muted" }, empty));
  for (const entry of entries) {
    const label = entry.member ?? entry.mode;
    cell.append(el("div", { "data-testid": testid },
      label === undefined ? null : el("strong", {}, `${label} `),
      `${entry.key} (since ${entry.create_revision})`));
  }
  return cell;
}

function waitersCell(waiters) {
  return entriesCell(waiters, "waiter", "none");
}

// ------------------------------------------------------------------ cluster

async function loadCluster() {
  const found = await api("/api/cluster");
  const status = $("cluster-status");
  clear(status);
  if (found.status === null) {
    status.append(metaRow("status", found.errors.status || "not offered by this backend"));
  } else {
    for (const [name, value] of Object.entries(found.status)) status.append(metaRow(name.replace(/_/g, " "), value));
  }
  const members = $("cluster-members");
  clear(members);
  if (found.members === null) {
    members.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, found.errors.members || "not offered by this backend")));
  } else {
    for (const member of found.members) {
      const role = [member.leader ? "leader" : "follower", member.is_learner ? "learner" : null].filter(Boolean).join(", ");
      members.append(el("tr", { "data-testid": "member" },
        el("td", {}, member.id),
        el("td", {}, member.name || "(unstarted)"),
        el("td", {}, member.client_urls.join(", ")),
        el("td", {}, member.peer_urls.join(", ")),
        el("td", {}, role)));
    }
  }
  const alarms = $("cluster-alarms");
  clear(alarms);
  if (found.alarms === null) alarms.append(el("li", { class: "muted" }, found.errors.alarms || "not offered by this backend"));
  else if (!found.alarms.length) alarms.append(el("li", { class: "muted", "data-testid": "no-alarms" }, "no alarm"));
  for (const alarm of found.alarms || []) alarms.append(el("li", { class: "alarm" }, `${alarm.alarm} on member ${alarm.member_id}`));
}

// ------------------------------------------------------------------ start

async function start() {
  state.info = await api("/api/info");
  $("store-url").textContent = state.info.url;
  $("mode").textContent = state.info.write ? "read-write" : "read-only";
  $("mode").classList.toggle("write", state.info.write);
  $("write-tools").hidden = !state.info.write;
  state.prefix = state.info.prefix;
  $("live-prefix").value = state.info.prefix;

  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => selectTab(button.dataset.tab));
  }
  for (const button of document.querySelectorAll("#modes button")) {
    button.addEventListener("click", () => {
      state.mode = button.dataset.mode;
      for (const other of document.querySelectorAll("#modes button")) other.classList.toggle("active", other === button);
      if (state.shownBytes !== null) {
        const [text, remark] = render(state.shownBytes, state.mode);
        $("value").textContent = text;
        $("value-note").textContent = remark || "";
        $("value-note").hidden = !remark;
      }
    });
  }
  document.body.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-prefix], a[data-key]");
    if (!link) return;
    event.preventDefault();
    if (link.dataset.key !== undefined) guard(openKey)(link.dataset.key);
    else guard(openPrefix)(link.dataset.prefix);
  });
  $("prefix-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guard(openPrefix)($("prefix-input").value);
  });
  $("tree-next").addEventListener("click", guard(async () => {
    state.pageStarts = state.pageStarts.slice(0, state.pageIndex + 1);
    state.pageStarts.push(state.nextStart);
    state.pageIndex += 1;
    await loadTree();
  }));
  $("tree-prev").addEventListener("click", guard(async () => {
    state.pageIndex = Math.max(0, state.pageIndex - 1);
    await loadTree();
  }));
  $("tree-refresh").addEventListener("click", guard(loadTree));
  $("history-more").addEventListener("click", guard(loadHistory));
  $("edit-save").addEventListener("click", guard(() => putValue(state.key, $("edit-value").value)));
  $("edit-delete").addEventListener("click", guard(deleteKey));
  $("new-key-form").addEventListener("submit", guard(async (event) => {
    event.preventDefault();
    await putValue($("new-key").value, $("new-value").value);
  }));
  $("delete-prefix-form").addEventListener("submit", guard(deletePrefix));
  $("etcd-lock-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.etcdLock = $("etcd-lock-name").value;
    guard(loadLocks)();
  });
  $("live-form").addEventListener("submit", (event) => {
    event.preventDefault();
    watchPrefix($("live-prefix").value);
  });

  await loadTree();
  watchPrefix(state.info.prefix);
  state.timers.push(setInterval(tickLeases, 1000));
  state.timers.push(setInterval(() => {
    if (document.hidden) return;
    if (state.tab === "locks") guard(loadLocks)();
    if (state.tab === "leases" && Date.now() - state.leasesFetched > 5000) guard(loadLeases)();
  }, 1000));
}

document.addEventListener("DOMContentLoaded", guard(start));
