// The session view (/console/sessions/<id>): recording with the evidence timeline, the verdict's
// reasons (each one click from its moment), faces and match score, location, related sessions,
// notes, claim, and the decision panel.
import {
  api, ApiError, clear, el, explain, formatClock, formatWhen, initShell, requireUser,
  sessionIdFromPath, showStatus,
} from './console.js';
import { renderDecisions, setupDecision } from './decision.js';
import { renderLocation } from './location.js';
import { movePlayhead, renderSparkline, renderTimeline, timelineExtent } from './timeline.js';

const id = sessionIdFromPath();
const video = document.getElementById('recording');
let view = null;
let user = null;

function duration() {
  return timelineExtent(view ? view.timeline || [] : [], video.duration);
}

/** Seek the recording to media time `t` and play from there. */
function seekTo(t) {
  if (!Number.isFinite(t)) return;
  video.currentTime = Math.max(0, t);
  const playing = video.play();
  if (playing && playing.catch) playing.catch(() => { /* autoplay refused: stays paused at t */ });
}

function drawTimeline() {
  const d = duration();
  renderTimeline(document.getElementById('timeline'), view.timeline || [], d, seekTo);
  renderSparkline(document.getElementById('face-match'), view.face_match || [], d, seekTo);
  movePlayhead(document.getElementById('timeline'), video.currentTime || 0, d);
}

function renderReasons(verdict) {
  const list = clear(document.getElementById('reasons'));
  const badge = document.getElementById('verdict-badge');
  badge.className = verdict.decision ? `decision decision-${verdict.decision}` : 'muted small';
  badge.textContent = verdict.decision || 'no verdict yet';
  (verdict.reasons || []).forEach((reason) => {
    const timed = reason.t !== null && reason.t !== undefined && Number.isFinite(Number(reason.t));
    const moment = timed
      ? el('button', { type: 'button', class: 'moment', dataset: { t: String(reason.t) },
        'aria-label': `Go to the moment at ${formatClock(reason.t)}: ${reason.message}` },
      `▶ ${formatClock(reason.t)}${reason.end_t != null ? `–${formatClock(reason.end_t)}` : ''}`)
      : el('span', { class: 'muted small' }, 'no moment in the video');
    if (timed) moment.addEventListener('click', () => seekTo(Number(reason.t)));
    list.append(el('li', {}, moment, ' ',
      el('strong', {}, reason.message || reason.code), ' ',
      el('span', { class: 'muted small' }, `${reason.check} · ${reason.code}`)));
  });
  if (!list.childNodes.length) list.append(el('li', { class: 'muted' }, 'The verdict gives no reasons.'));
}

function showImage(imgId, url) {
  const img = document.getElementById(imgId);
  const missing = document.getElementById(`${imgId}-missing`);
  if (url) {
    img.src = url;
    img.hidden = false;
    img.addEventListener('error', () => { img.hidden = true; missing.hidden = false; }, { once: true });
  }
  missing.hidden = Boolean(url);
}

function renderFaces() {
  showImage('id-photo', view.id_photo_url);
  showImage('reference-frame', view.reference_frame_url);
  const score = document.getElementById('match-score');
  score.textContent = Number.isFinite(Number(view.match_score)) && view.match_score !== null
    ? Number(view.match_score).toFixed(2) : '–';
}

function renderRelated() {
  const list = clear(document.getElementById('related'));
  (view.related || []).forEach((r) => list.append(el('li', {},
    el('a', { href: `/console/sessions/${encodeURIComponent(r.session_id)}`, dataset: { session: r.session_id } }, r.session_id),
    ' ', el('span', { class: 'muted small' }, r.why))));
  if (!list.childNodes.length) list.append(el('li', { class: 'muted' }, 'No sessions share this background or location.'));
}

function renderNotes() {
  const list = clear(document.getElementById('notes'));
  (view.notes || []).forEach((n) => list.append(el('li', {},
    el('span', { class: 'muted small' }, `${n.author} · ${formatWhen(n.at)}`), el('p', {}, n.text))));
  if (!list.childNodes.length) list.append(el('li', { class: 'muted' }, 'No notes yet.'));
}

function renderClaim(claimedBy) {
  const text = document.getElementById('claim-text');
  const toggle = document.getElementById('claim-toggle');
  const mine = user && claimedBy === user.username;
  text.textContent = !claimedBy ? 'Not claimed.' : mine ? 'You are working on this session.'
    : `Claimed by ${claimedBy}: they are working on it.`;
  text.className = claimedBy && !mine ? 'warn' : '';
  toggle.hidden = Boolean(claimedBy && !mine);
  toggle.textContent = mine ? 'Release' : 'Claim';
  toggle.dataset.action = mine ? 'release' : 'claim';
}

async function claim(action) {
  try {
    const result = await api(`sessions/${encodeURIComponent(id)}/${action}`, { method: 'POST' });
    renderClaim(result ? result.claimed_by : null);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) {
      await refresh();
      showStatus(explain(err), 'warn');
    } else {
      showStatus(explain(err), 'error');
    }
  }
}

function render() {
  const s = view.session || {};
  document.title = `${s.application_id || id} · Verification console`;
  document.getElementById('session-title').textContent = `Application ${s.application_id || '–'}`;
  document.getElementById('session-meta').textContent = [
    s.product, s.applicant_name_masked, s.state, s.created_at ? `created ${formatWhen(s.created_at)}` : null,
    view.verdict && view.verdict.policy_version ? `policy ${view.verdict.policy_version}` : null,
  ].filter(Boolean).join(' · ');
  renderReasons(view.verdict || {});
  renderFaces();
  renderLocation(document.getElementById('location'), document.getElementById('location-facts'), view.location);
  renderRelated();
  renderNotes();
  renderDecisions(document.getElementById('decisions'), view.decisions);
  renderClaim(view.claimed_by);
  drawTimeline();
}

async function refresh() {
  view = await api(`sessions/${encodeURIComponent(id)}`);
  render();
}

function setupVideo() {
  if (view.recording_url) {
    video.src = view.recording_url;
  } else {
    video.hidden = true;
    document.getElementById('recording-missing').hidden = false;
  }
  ['loadedmetadata', 'durationchange'].forEach((e) => video.addEventListener(e, drawTimeline));
  video.addEventListener('timeupdate', () => movePlayhead(document.getElementById('timeline'), video.currentTime, duration()));
  window.addEventListener('resize', () => movePlayhead(document.getElementById('timeline'), video.currentTime, duration()));
}

function setupNotes() {
  document.getElementById('note-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const box = document.getElementById('note-text');
    const text = box.value.trim();
    if (!text) { box.focus(); return; }
    try {
      await api(`sessions/${encodeURIComponent(id)}/notes`, { method: 'POST', body: { text } });
      box.value = '';
      await refresh();
    } catch (err) {
      showStatus(explain(err), 'error');
    }
  });
}

/** Supervisors get a download of the session's evidence bundle (the API refuses others). */
function setupExport() {
  if (!user || user.role !== 'supervisor') return;
  const link = el('a', {
    id: 'export-evidence', class: 'link', download: `evidence-${id}.json`,
    href: `/console/api/sessions/${encodeURIComponent(id)}/export`,
  }, 'Export evidence');
  document.querySelector('.section-head').append(el('p', { class: 'export' }, link));
}

async function start() {
  user = await requireUser();
  initShell(user);
  try {
    await refresh();
  } catch (err) {
    showStatus(err instanceof ApiError && err.status === 404 ? 'No such session.' : explain(err), 'error');
    return;
  }
  setupVideo();
  setupNotes();
  setupExport();
  setupDecision(id, async () => { await refresh(); },
    () => (view ? view.current_verdict_id : null));
  document.getElementById('claim-toggle').addEventListener('click', (e) => claim(e.target.dataset.action));
  if (!view.claimed_by) await claim('claim'); // opening a session claims it, so nobody doubles up
}

start().catch((err) => showStatus(explain(err), 'error'));
