// The location panel: GPS fix, IP location and declared business address as points on a local
// flat projection, with the distances between them, drawn as inline SVG. No map tiles: nothing
// may be fetched from the internet, and a reviewer needs the geometry, not the streets.
import { clear, el, svg } from './console.js';

const W = 320; const H = 220; const PAD = 34;
const M_PER_DEG_LAT = 110574;
const M_PER_DEG_LON_EQUATOR = 111320;

export function formatDistance(metres) {
  if (metres === null || metres === undefined || !Number.isFinite(Number(metres))) return '–';
  const m = Number(metres);
  if (m < 1000) return `${Math.round(m)} m`;
  if (m < 100000) return `${(m / 1000).toFixed(1)} km`;
  return `${Math.round(m / 1000)} km`;
}

/** Great-circle distance, used when the server did not give one for a pair. */
export function haversine(a, b) {
  const r = 6371008.8;
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2
    + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.min(1, Math.sqrt(h)));
}

function usable(point) {
  return point && Number.isFinite(Number(point.lat)) && Number.isFinite(Number(point.lon));
}

function niceLength(metres) {
  const power = 10 ** Math.floor(Math.log10(metres));
  return [1, 2, 5, 10].map((f) => f * power).filter((v) => v <= metres).pop() || power;
}

/** Draw the panel; `location` is the API's {gps, ip, declared, distances_m}. */
export function renderLocation(container, facts, location) {
  clear(container);
  clear(facts);
  const loc = location || {};
  const points = [
    { key: 'gps', name: 'GPS', data: loc.gps, detail: loc.gps && loc.gps.accuracy_m != null ? `±${formatDistance(loc.gps.accuracy_m)}` : '' },
    { key: 'ip', name: 'IP', data: loc.ip, detail: loc.ip && loc.ip.city ? loc.ip.city : '' },
    { key: 'declared', name: 'Declared', data: loc.declared, detail: loc.declared && loc.declared.address ? loc.declared.address : '' },
  ].filter((p) => usable(p.data)).map((p) => ({ ...p, lat: Number(p.data.lat), lon: Number(p.data.lon) }));

  [['GPS', loc.gps, (g) => `${g.lat.toFixed(5)}, ${g.lon.toFixed(5)}${g.accuracy_m != null ? ` (±${formatDistance(g.accuracy_m)})` : ''}`],
    ['IP', loc.ip, (g) => `${g.city || 'unknown city'} (${Number(g.lat).toFixed(2)}, ${Number(g.lon).toFixed(2)})`],
    ['Declared', loc.declared, (g) => g.address || `${g.lat}, ${g.lon}`]].forEach(([name, value, show]) => {
    facts.append(el('dt', {}, name), el('dd', {}, usable(value) ? show(value) : 'not available'));
  });

  if (!points.length) {
    container.append(el('p', { class: 'muted' }, 'No location for this session.'));
    return;
  }
  const lat0 = points.reduce((s, p) => s + p.lat, 0) / points.length;
  const lon0 = points.reduce((s, p) => s + p.lon, 0) / points.length;
  const kx = M_PER_DEG_LON_EQUATOR * Math.cos((lat0 * Math.PI) / 180);
  points.forEach((p) => { p.x = (p.lon - lon0) * kx; p.y = -(p.lat - lat0) * M_PER_DEG_LAT; });
  const accuracy = loc.gps && Number(loc.gps.accuracy_m) > 0 ? Number(loc.gps.accuracy_m) : 0;
  const xs = points.map((p) => p.x); const ys = points.map((p) => p.y);
  const spanX = Math.max(...xs) - Math.min(...xs);
  const spanY = Math.max(...ys) - Math.min(...ys);
  const span = Math.max(spanX, spanY, 4 * accuracy, 200); // metres shown across the box
  const scale = Math.min((W - 2 * PAD) / Math.max(spanX, span * 0.5), (H - 2 * PAD) / Math.max(spanY, span * 0.5));
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2;
  const cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  const px = (p) => W / 2 + (p.x - cx) * scale;
  const py = (p) => H / 2 + (p.y - cy) * scale;

  const distances = loc.distances_m || {};
  const pairs = [['gps', 'declared', 'gps_declared'], ['ip', 'declared', 'ip_declared'], ['gps', 'ip', 'gps_ip']];
  const byKey = Object.fromEntries(points.map((p) => [p.key, p]));
  const lines = pairs.filter(([a, b]) => byKey[a] && byKey[b]).map(([a, b, key]) => {
    const pa = byKey[a]; const pb = byKey[b];
    const given = distances[key];
    const metres = given !== null && given !== undefined && Number.isFinite(Number(given)) ? Number(given) : haversine(pa, pb);
    const mx = (px(pa) + px(pb)) / 2; const my = (py(pa) + py(pb)) / 2;
    facts.append(el('dt', {}, `${pa.name} ↔ ${pb.name}`), el('dd', { dataset: { distance: key } }, formatDistance(metres)));
    return svg('g', { class: `leg leg-${key}` },
      svg('line', { x1: px(pa), y1: py(pa), x2: px(pb), y2: py(pb) }),
      svg('text', { x: mx, y: my - 4, 'text-anchor': 'middle' }, formatDistance(metres)));
  });

  const bar = niceLength((W - 2 * PAD) / scale / 3);
  const map = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'geo', role: 'img',
    'aria-label': `Locations: ${points.map((p) => p.name).join(', ')}` },
  svg('rect', { x: 0, y: 0, width: W, height: H, class: 'geo-bg' }),
  accuracy && byKey.gps ? svg('circle', { cx: px(byKey.gps), cy: py(byKey.gps), r: Math.max(3, accuracy * scale), class: 'accuracy' }) : null,
  lines,
  points.map((p) => svg('g', { class: `pt pt-${p.key}` },
    svg('circle', { cx: px(p), cy: py(p), r: 5 }),
    svg('text', { x: px(p) + 8, y: py(p) + 4 }, p.name),
    svg('title', {}, `${p.name}: ${p.lat.toFixed(5)}, ${p.lon.toFixed(5)} ${p.detail}`))),
  svg('g', { class: 'scalebar' },
    svg('line', { x1: 10, y1: H - 12, x2: 10 + bar * scale, y2: H - 12 }),
    svg('text', { x: 10, y: H - 16 }, formatDistance(bar))),
  svg('text', { x: W - 14, y: 16, class: 'north', 'text-anchor': 'middle' }, 'N ↑'));
  container.append(map);
}
