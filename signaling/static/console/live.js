// The list of interviews in progress (/console/live), refreshed every few seconds; a row opens
// the live watch page.
import {
  api, el, explain, fillTable, formatDuration, formatWhen, initShell, linkRow, requireUser,
  showStatus,
} from './console.js';

const REFRESH_MS = 5000;

function row(item) {
  const tr = el('tr', { tabindex: 0, dataset: { session: item.session_id },
    'aria-label': `Watch the interview of application ${item.application_id}` },
  el('td', {}, el('a', { href: `/console/live/${encodeURIComponent(item.session_id)}`, tabindex: -1 },
    item.application_id || item.session_id)),
  el('td', {}, formatWhen(item.started_at)),
  el('td', { class: 'num' }, formatDuration(item.live_s)),
  el('td', { class: 'num' }, item.prompt_index ?? '–'),
  el('td', {}, el('span', { class: `net net-${item.network || 'unknown'}` }, item.network || 'unknown')));
  return linkRow(tr, `/console/live/${encodeURIComponent(item.session_id)}`);
}

async function load() {
  try {
    const data = await api('live');
    const items = data.items || [];
    fillTable('#live-list', items, row, 'live-empty', 'live-count');
    showStatus('');
  } catch (err) {
    showStatus(explain(err), 'error');
  }
}

async function start() {
  initShell(await requireUser());
  document.getElementById('live-refresh').addEventListener('click', load);
  await load();
  window.setInterval(load, REFRESH_MS);
}

start().catch((err) => showStatus(explain(err), 'error'));
