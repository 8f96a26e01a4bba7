// The evidence timeline under the recording and the face-match sparkline. Positions are
// media seconds / recording duration, so a marker sits where its evidence is in the video;
// clicking one seeks there. Overlapping markers are spread over sub-rows so each stays clickable.
import { clear, el, formatClock, svg } from './console.js';

const LANES = [
  { name: 'Interview', kinds: ['step', 'challenge', 'digits', 'consent'] },
  { name: 'Face', kinds: ['face_match', 'identity', 'second_face', 'expression'] },
  { name: 'Voice', kinds: ['second_voice', 'lip_sync'] },
  { name: 'Scene · place', kinds: ['background', 'location', 'other'] },
];
const POINT_WIDTH_PCT = 1.4; // the space a point marker takes, for the overlap layout
const OUTCOMES = new Set(['pass', 'fail', 'flag', 'info']);
const ROW_PX = 12; // one sub-row of markers

function laneOf(kind) {
  const index = LANES.findIndex((lane) => lane.kinds.includes(kind));
  return index >= 0 ? index : LANES.length - 1;
}

/** The duration the timeline is drawn against: the video's, else the evidence's extent. */
export function timelineExtent(items, videoDuration) {
  if (Number.isFinite(videoDuration) && videoDuration > 0) return videoDuration;
  const ends = items.map((i) => Math.max(Number(i.t) || 0, Number(i.end_t) || 0));
  return Math.max(1, ...ends);
}

function pct(t, duration) {
  return Math.max(0, Math.min(100, (Number(t) / duration) * 100));
}

/** Greedy interval layout: the first sub-row whose last marker ends before this one starts. */
function layout(markers) {
  const rowEnds = [];
  markers.sort((a, b) => a.left - b.left);
  markers.forEach((m) => {
    let row = rowEnds.findIndex((end) => end <= m.left);
    if (row < 0) {
      row = rowEnds.length;
      rowEnds.push(0);
    }
    rowEnds[row] = m.left + Math.max(m.width, POINT_WIDTH_PCT);
    m.row = row;
  });
  return Math.max(1, rowEnds.length);
}

/** Draw the timeline into `container`; `onSeek(t)` is called with a marker's media time. */
export function renderTimeline(container, items, duration, onSeek) {
  clear(container);
  const lanes = LANES.map(() => []);
  items.filter((i) => i.t !== null && i.t !== undefined && Number.isFinite(Number(i.t)))
    .forEach((item) => {
      const left = pct(item.t, duration);
      const end = item.end_t !== null && item.end_t !== undefined ? pct(item.end_t, duration) : left;
      lanes[laneOf(item.kind)].push({ item, left, width: Math.max(0, end - left), row: 0 });
    });
  lanes.forEach((markers, index) => {
    if (!markers.length) return;
    const rows = layout(markers);
    const track = el('div', { class: 'track', style: { height: `${rows * ROW_PX + 4}px` } });
    track.addEventListener('click', (event) => {
      if (event.target !== track) return; // markers handle their own clicks
      const box = track.getBoundingClientRect();
      onSeek(((event.clientX - box.left) / box.width) * duration);
    });
    markers.forEach(({ item, left, width, row }) => {
      const outcome = OUTCOMES.has(item.outcome) ? item.outcome : 'info';
      const span = width >= POINT_WIDTH_PCT;
      const label = `${item.label} (${outcome}) at ${formatClock(item.t)}`;
      const marker = el('button', {
        type: 'button',
        class: `marker outcome-${outcome}${span ? ' span' : ''}`,
        style: { left: `${left}%`, top: `${row * ROW_PX + 2}px`, width: span ? `${width}%` : '' },
        title: label, 'aria-label': label,
        dataset: { t: String(item.t), kind: item.kind || 'other', outcome, evidence: item.evidence_id || '' },
      });
      marker.addEventListener('click', () => onSeek(Number(item.t)));
      track.append(marker);
    });
    container.append(el('div', { class: 'lane' }, el('span', { class: 'lane-name' }, LANES[index].name), track));
  });
  if (!container.childNodes.length) {
    container.append(el('p', { class: 'muted' }, 'No timed evidence for this session.'));
    return;
  }
  const axis = el('div', { class: 'lane axis' }, el('span', { class: 'lane-name' }),
    el('div', { class: 'ticks' }, ticks(duration).map((t) => el('span', { style: { left: `${pct(t, duration)}%` } }, formatClock(t)))));
  container.append(axis);
  container.append(el('div', { class: 'playhead', 'aria-hidden': 'true' }));
}

function ticks(duration) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300];
  const step = steps.find((s) => duration / s <= 8) || 600;
  const out = [];
  for (let t = 0; t <= duration + 1e-6; t += step) out.push(t);
  return out;
}

/** Move the playhead (a line over the lanes' tracks) to media time `t`. */
export function movePlayhead(container, t, duration) {
  const head = container.querySelector('.playhead');
  if (!head) return;
  const track = container.querySelector('.track');
  const left = track ? track.offsetLeft : 0;
  const width = track ? track.offsetWidth : container.offsetWidth;
  head.style.left = `${left + (pct(t, duration) / 100) * width}px`;
}

/** The face-match score over time as an inline SVG sparkline; a click seeks to that time. */
export function renderSparkline(container, points, duration, onSeek) {
  clear(container);
  const valid = points.filter((p) => Number.isFinite(Number(p.t)) && Number.isFinite(Number(p.score)));
  if (!valid.length) {
    container.append(el('p', { class: 'muted' }, 'No face-match scores for this session.'));
    return;
  }
  const W = 600; const H = 70; const pad = 4;
  const x = (t) => pad + (pct(t, duration) / 100) * (W - 2 * pad);
  const y = (s) => H - pad - Math.max(0, Math.min(1, Number(s))) * (H - 2 * pad);
  const line = valid.map((p) => `${x(p.t).toFixed(1)},${y(p.score).toFixed(1)}`).join(' ');
  const low = Math.min(...valid.map((p) => Number(p.score)));
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', class: 'spark' },
    [0.25, 0.5, 0.75].map((s) => svg('line', { x1: pad, x2: W - pad, y1: y(s), y2: y(s), class: 'grid' })),
    svg('polyline', { points: line, class: 'spark-line' }),
    valid.map((p) => svg('circle', { cx: x(p.t), cy: y(p.score), r: 2.5, class: 'spark-dot' },
      svg('title', {}, `${Number(p.score).toFixed(2)} at ${formatClock(p.t)}`))));
  chart.addEventListener('click', (event) => {
    const box = chart.getBoundingClientRect();
    const t = ((event.clientX - box.left) / box.width) * duration;
    const nearest = valid.reduce((a, b) => (Math.abs(b.t - t) < Math.abs(a.t - t) ? b : a));
    onSeek(Number(nearest.t));
  });
  chart.setAttribute('role', 'img');
  chart.setAttribute('aria-label', `Face-match score over time: ${valid.length} points, lowest ${low.toFixed(2)}`);
  container.append(chart, el('p', { class: 'muted small' },
    `${valid.length} scores · lowest ${low.toFixed(2)} · 0 to 1, higher = more alike`));
}
