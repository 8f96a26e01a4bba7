// Login and the review queue (/console). The queue is shown in the order the API returns it
// (risk first, then age); a row opens the session view, where the decision takes two clicks.
import {
  api, ApiError, el, explain, fillTable, formatDuration, initShell, linkRow, showStatus,
} from './console.js';

const REFRESH_MS = 30000;
const seen = { products: new Set(), reasons: new Set() };
let refreshTimer = null;

function nextTarget() {
  const next = new URLSearchParams(window.location.search).get('next') || '';
  // Only our own console pages: never an absolute or protocol-relative URL (open redirect).
  return /^\/console(\/[\w\-/]*)?$/.test(next) ? next : '';
}

function showLogin() {
  document.getElementById('login').hidden = false;
  document.getElementById('queue-section').hidden = true;
  document.getElementById('username').focus();
}

async function onLogin(event) {
  event.preventDefault();
  const error = document.getElementById('login-error');
  const submit = document.getElementById('login-submit');
  const username = document.getElementById('username').value.trim();
  const password = document.getElementById('password').value;
  error.hidden = true;
  if (!username || !password) {
    error.textContent = 'Enter your username and password.';
    error.hidden = false;
    return;
  }
  submit.disabled = true;
  try {
    const user = await api('login', { method: 'POST', body: { username, password } });
    document.getElementById('password').value = '';
    const next = nextTarget();
    if (next && next !== '/console') {
      window.location.assign(next);
      return;
    }
    await showQueue(user);
  } catch (err) {
    error.textContent = err instanceof ApiError && err.status === 429
      ? 'Too many failed attempts; wait a few minutes and try again.' : explain(err);
    error.hidden = false;
  } finally {
    submit.disabled = false;
  }
}

function riskCell(risk) {
  const value = Math.max(0, Math.min(1, Number(risk) || 0));
  const level = value >= 0.66 ? 'high' : value >= 0.33 ? 'medium' : 'low';
  return el('td', { class: `risk risk-${level}` },
    el('meter', { min: 0, max: 1, low: 0.33, high: 0.66, optimum: 0, value: value.toFixed(2),
      'aria-label': `risk ${Math.round(value * 100)} %` }),
    ` ${Math.round(value * 100)}`);
}

function row(item) {
  const reasons = el('td', { class: 'reasons-cell' },
    (item.reasons || []).map((code) => el('span', { class: 'chip' }, code)));
  const claimed = item.claimed_by
    ? el('td', {}, el('span', { class: 'chip chip-claimed', title: `claimed by ${item.claimed_by}` }, item.claimed_by))
    : el('td', { class: 'muted' }, 'free');
  const tr = el('tr', {
    tabindex: 0, class: item.claimed_by ? 'is-claimed' : '',
    dataset: { session: item.session_id },
    'aria-label': `Open session of application ${item.application_id}`,
  },
  riskCell(item.risk),
  el('td', {}, el('a', { href: `/console/sessions/${encodeURIComponent(item.session_id)}`, tabindex: -1 },
    item.application_id || item.session_id)),
  el('td', {}, item.product || '–'),
  el('td', {}, el('span', { class: `decision decision-${item.decision}` }, item.decision),
    item.sampled ? el('span', { class: 'chip chip-sampled', title: 'sampled for audit' }, 'audit sample') : null),
  reasons,
  el('td', { class: 'num' }, formatDuration(item.waiting_s)),
  claimed);
  return linkRow(tr, `/console/sessions/${encodeURIComponent(item.session_id)}`);
}

function rememberOptions(items) {
  items.forEach((item) => {
    if (item.product) seen.products.add(item.product);
    (item.reasons || []).forEach((r) => seen.reasons.add(r));
  });
  [['filter-product', seen.products], ['filter-reason', seen.reasons]].forEach(([id, values]) => {
    const select = document.getElementById(id);
    const present = new Set(Array.from(select.options).map((o) => o.value));
    Array.from(values).sort().forEach((v) => {
      if (!present.has(v)) select.append(el('option', { value: v }, v));
    });
  });
}

async function loadQueue() {
  const product = document.getElementById('filter-product').value;
  const reason = document.getElementById('filter-reason').value;
  try {
    const data = await api('queue', { query: { product, reason } });
    const items = data.items || [];
    rememberOptions(items);
    fillTable('#queue', items, row, 'queue-empty', 'queue-count');
    showStatus('');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      showLogin();
      return;
    }
    showStatus(explain(err), 'error');
  }
}

async function showQueue(user) {
  initShell(user);
  document.getElementById('login').hidden = true;
  document.getElementById('queue-section').hidden = false;
  await loadQueue();
  if (refreshTimer === null) refreshTimer = window.setInterval(loadQueue, REFRESH_MS);
}

async function start() {
  initShell(null);
  document.getElementById('login-form').addEventListener('submit', onLogin);
  document.getElementById('filter-product').addEventListener('change', loadQueue);
  document.getElementById('filter-reason').addEventListener('change', loadQueue);
  document.getElementById('refresh').addEventListener('click', loadQueue);
  try {
    const user = await api('me');
    await showQueue(user);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showLogin();
    else showStatus(explain(err), 'error');
  }
}

start();
