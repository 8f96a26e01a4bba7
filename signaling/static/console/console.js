// Shared by every reviewer-console page: the JSON API client (CSRF header, auth redirects),
// the page header, small DOM builders and formatters. ES module, no framework, nothing fetched
// from outside this server (the pages run under CSP script-src 'self').
//
// Exports used by other modules (live_watch.js included): api, ApiError, requireUser,
// initShell, el, svg, clear, fillTable, linkRow, formatDuration, formatClock, formatWhen,
// sessionIdFromPath, csrfToken.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
  }
}

let csrfFromServer = '';

/** The CSRF token: the `vs_csrf` cookie (double submit), else the value login/me returned. */
export function csrfToken() {
  const match = document.cookie.split(';').map((c) => c.trim())
    .find((c) => c.startsWith('vs_csrf='));
  return match ? decodeURIComponent(match.slice('vs_csrf='.length)) : csrfFromServer;
}

/** fetch() for /console/api: JSON in and out, CSRF header on unsafe methods, errors thrown
 *  as ApiError with the server's `code` so pages can explain them. */
export async function api(path, { method = 'GET', body, query } = {}) {
  let url = path.startsWith('/') ? path : `/console/api/${path}`;
  if (query) {
    const params = new URLSearchParams();
    Object.entries(query).forEach(([k, v]) => { if (v !== undefined && v !== null && v !== '') params.set(k, v); });
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!['GET', 'HEAD'].includes(method)) headers['X-CSRF-Token'] = csrfToken();
  const response = await fetch(url, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  const text = await response.text();
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  }
  if (!response.ok) {
    const code = data && (data.code || (data.detail && data.detail.code));
    const message = data && (data.message || (data.detail && data.detail.message));
    throw new ApiError(response.status, code, message);
  }
  if (data && typeof data.csrf === 'string') csrfFromServer = data.csrf;
  return data;
}

/** Send the browser to the login page, remembering where it was. */
export function goToLogin() {
  const next = window.location.pathname + window.location.search;
  window.location.assign(`/console?next=${encodeURIComponent(next)}`);
}

/** The signed-in reviewer ({username, role, csrf}); redirects to the login page when the
 *  session cookie is missing or expired. */
export async function requireUser() {
  try {
    return await api('me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      goToLogin();
      return new Promise(() => {}); // navigation is under way
    }
    throw err;
  }
}

const NAV = [['/console', 'Queue'], ['/console/live', 'Live interviews']];

/** Draw the page header (brand, navigation, who is signed in, sign-out) into <header
 *  id="shell">; one place for it instead of a copy in every page. */
export function initShell(user) {
  const header = document.getElementById('shell');
  if (!header) return;
  const here = window.location.pathname;
  const section = here.startsWith('/console/live') ? '/console/live' : '/console';
  const logout = el('button', { id: 'logout', type: 'button', class: 'link' }, 'Sign out');
  logout.addEventListener('click', async () => {
    try { await api('logout', { method: 'POST' }); } catch (e) { /* signed out anyway */ }
    window.location.assign('/console');
  });
  clear(header).append(
    el('a', { class: 'brand', href: '/console' }, 'Verification console'),
    el('nav', { 'aria-label': 'Console' }, NAV.map(([href, label]) => el('a', {
      href, 'aria-current': href === section ? 'page' : null }, label))),
    el('span', { class: 'user' }, el('span', { id: 'who' }, user ? `${user.username} · ${user.role}` : ''),
      user ? logout : null));
}

/** Show a message in the page's status line (role=status / alert). */
export function showStatus(text, kind = 'info') {
  const box = document.getElementById('status');
  if (!box) return;
  box.textContent = text;
  box.className = `status status-${kind}`;
  box.hidden = !text;
}

/** Explain an API error in words a reviewer can act on. */
export function explain(err) {
  if (!(err instanceof ApiError)) return `Network error: ${err.message}`;
  const known = {
    not_authenticated: 'Your session has ended; please sign in again.',
    forbidden: 'Your role is not allowed to do this.',
    csrf: 'The page is out of date; reload it and try again.',
    claimed: 'Another reviewer is working on this session.',
    four_eyes: 'Overturning an automatic reject needs a supervisor (four-eyes rule).',
    decided_meanwhile: 'Another reviewer decided this session a moment ago; reload it to see their decision.',
    invalid_credentials: 'Wrong username or password.',
  };
  return known[err.code] || err.message || `Request failed (HTTP ${err.status}).`;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  children.flat().forEach((c) => {
    if (c === null || c === undefined || c === false) return;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  });
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  children.flat().forEach((c) => {
    if (c === null || c === undefined || c === false) return;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  });
  return node;
}

function setAttrs(node, attrs) {
  Object.entries(attrs).forEach(([k, v]) => {
    if (v === null || v === undefined || v === false) return;
    if (k === 'class') node.setAttribute('class', v);
    else if (k === 'text') node.textContent = v;
    // Styles through the CSSOM: a style="" attribute is inline style, which the console's CSP
    // (style-src 'self') refuses.
    else if (k === 'style') Object.entries(v).forEach(([prop, value]) => { node.style[prop] = value; });
    else if (k === 'dataset') Object.entries(v).forEach(([dk, dv]) => { node.dataset[dk] = dv; });
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  });
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** Replace a table's rows: one `row(item)` per item; the empty note and the count follow. */
export function fillTable(table, items, row, emptyId, countId) {
  const body = clear(document.querySelector(`${table} tbody`));
  items.forEach((item) => body.append(row(item)));
  document.getElementById(emptyId).hidden = items.length > 0;
  document.getElementById(countId).textContent = `(${items.length})`;
}

/** A table row that opens `href` on click, Enter or Space (its own link keeps working). */
export function linkRow(tr, href) {
  const open = () => window.location.assign(href);
  tr.addEventListener('click', (event) => { if (!event.target.closest('a')) open(); });
  tr.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      open();
    }
  });
  return tr;
}

/** "45 s", "12 min", "3 h 05 min", "2 d 4 h" — waiting times in the queue. */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** Media time as m:ss.s — the position in the recording. */
export function formatClock(t) {
  if (t === null || t === undefined || !Number.isFinite(Number(t))) return '–';
  const v = Math.max(0, Number(t));
  const m = Math.floor(v / 60);
  const s = v - m * 60;
  return `${m}:${s.toFixed(1).padStart(4, '0')}`;
}

/** An ISO time or unix seconds, in the reviewer's locale. */
export function formatWhen(value) {
  if (value === null || value === undefined || value === '') return '–';
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

/** The last path segment: /console/sessions/<id> -> <id>. */
export function sessionIdFromPath() {
  const parts = window.location.pathname.split('/').filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] || '');
}
