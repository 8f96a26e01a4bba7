// Live watch (/console/live/<id>): the applicant's camera and microphone relayed by the server,
// the evidence as it arrives, and a text message to the applicant's page.
//
// The reviewer's peer only receives: it offers recvonly audio + video, waits for its own ICE
// candidates (the server does not take trickled ones for watchers) and plays what the server's
// MediaRelay sends. Leaving the page tells the server to close its side at once.
import { api, ApiError, clear, csrfToken, el, explain, formatClock, sessionIdFromPath } from './console.js';

const POLL_MS = 1500;
const GATHER_WAIT_MS = 3000;
const MAX_SHOWN_EVENTS = 300;

const interviewId = sessionIdFromPath();
const base = `live/${encodeURIComponent(interviewId)}`;
const state = { watcherId: null, connection: 'new', next: 0, events: 0, live: true, errors: [] };
window.__liveWatch = state; // read by the browser tests

let pc = null;
let pollTimer = null;

function setState(text) {
  const box = document.getElementById('live-state');
  if (box) box.textContent = text;
}

function explainLive(err) {
  if (err instanceof ApiError) {
    if (err.code === 'not_live') return 'This interview is not in progress any more.';
    if (err.code === 'watch_limit') return 'Too many reviewers are already watching this interview.';
    if (err.code === 'not_connected') return 'The applicant is not connected right now; try again in a moment.';
  }
  return explain(err);
}

function gatheringComplete(peer, waitMs) {
  if (peer.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { peer.removeEventListener('icegatheringstatechange', check); resolve(); };
    const check = () => { if (peer.iceGatheringState === 'complete') done(); };
    peer.addEventListener('icegatheringstatechange', check);
    window.setTimeout(done, waitMs);
  });
}

async function play(video) {
  try {
    await video.play();
  } catch (err) {
    // Autoplay with sound needs a user gesture in most browsers: start muted, the controls
    // (or a click on the picture) turn the sound on.
    video.muted = true;
    try { await video.play(); } catch (e) { state.errors.push(`play: ${e.message}`); }
    setState('Watching live (sound muted: use the speaker control to listen).');
  }
}

async function watch() {
  const video = document.getElementById('live-video');
  const info = await api(base);
  pc = new RTCPeerConnection({ iceServers: info.ice_servers || [] });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  video.srcObject = stream;
  pc.addEventListener('track', (event) => {
    stream.addTrack(event.track);
    play(video);
  });
  pc.addEventListener('connectionstatechange', () => {
    state.connection = pc.connectionState;
    if (pc.connectionState === 'connected') setState('Watching live.');
    else if (pc.connectionState === 'failed') setState('The live connection failed; reload to try again.');
    else if (pc.connectionState === 'disconnected') setState('Connection interrupted…');
  });
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc, GATHER_WAIT_MS);
  const answer = await api(`${base}/watch`, {
    method: 'POST', body: { sdp: pc.localDescription.sdp, type: 'offer' },
  });
  state.watcherId = answer.watcher_id;
  await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  setState('Connecting to the live picture…');
}

function leave() {
  if (state.watcherId) {
    // keepalive: the request outlives the page (sendBeacon cannot carry the CSRF header)
    fetch(`/console/api/${base}/watch/${encodeURIComponent(state.watcherId)}/close`, {
      method: 'POST', keepalive: true, credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrfToken() },
    }).catch(() => {});
    state.watcherId = null;
  }
  if (pc) pc.close();
}

function eventRow(item) {
  const t = item.window ? item.window.start : null;
  const words = [item.check, item.outcome, item.code].filter(Boolean).join(' · ');
  return el('li', { class: `event event-${item.outcome}`, dataset: { t: t ?? '' } },
    el('span', { class: 'muted' }, formatClock(t)), ' ', el('strong', {}, words),
    item.summary ? el('span', {}, ` — ${item.summary}`) : null);
}

function showEvents(items) {
  const list = document.getElementById('live-events');
  if (!list) return;
  items.forEach((item) => list.prepend(eventRow(item))); // newest first
  while (list.children.length > MAX_SHOWN_EVENTS) list.removeChild(list.lastChild);
}

function ended() {
  state.live = false;
  setState('The interview has ended.');
  if (pc) pc.close();
  state.watcherId = null;
}

async function poll() {
  try {
    const data = await api(`${base}/events`, { query: { after: state.next } });
    const items = data.items || [];
    state.next = data.next;
    state.events += items.length;
    showEvents(items);
    if (data.live === false) { ended(); return; }
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 401)) {
      setState(explainLive(err));
      return;
    }
    state.errors.push(`events: ${err.message}`);
  }
  pollTimer = window.setTimeout(poll, POLL_MS);
}

function wireMessages() {
  const form = document.getElementById('live-message-form');
  const input = document.getElementById('live-message');
  const send = document.getElementById('live-send');
  const result = document.getElementById('live-message-result');
  const say = (text) => { if (result) { result.textContent = text; result.hidden = !text; } };
  const submit = async (event) => {
    if (event) event.preventDefault();
    const text = (input.value || '').trim();
    if (!text) return;
    send.disabled = true;
    try {
      await api(`${base}/message`, { method: 'POST', body: { text } });
      input.value = '';
      say(`Sent at ${new Date().toLocaleTimeString()}.`);
    } catch (err) {
      say(explainLive(err));
    } finally {
      send.disabled = false;
    }
  };
  if (form) form.addEventListener('submit', submit);
  else if (send) send.addEventListener('click', submit);
}

async function start() {
  clear(document.getElementById('live-events') || document.createElement('ol'));
  wireMessages();
  window.addEventListener('pagehide', leave);
  poll();
  try {
    await watch();
  } catch (err) {
    state.errors.push(`watch: ${err.message}`);
    setState(explainLive(err));
    if (pollTimer !== null && err instanceof ApiError && err.code === 'not_live') {
      window.clearTimeout(pollTimer);
    }
  }
}

start();
