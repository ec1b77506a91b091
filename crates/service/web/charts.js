// Small SVG charts drawn with DOM calls: bars and lines, sized by the viewBox so they
// follow the width of a phone or a desktop. Colours come from app.css (classes), so a
// chart has no inline style.

const NS = 'http://www.w3.org/2000/svg';
const W = 320;
const H = 160;
const PAD = { left: 40, right: 8, top: 10, bottom: 28 };

function svg(tag, attributes = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
  for (const child of children) el.append(child);
  return el;
}

function text(x, y, content, attributes = {}) {
  return svg('text', { x, y, ...attributes }, String(content));
}

/** An axis value: whole numbers as such, others with one decimal (0.5 must not read 1). */
function plain(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/** A round upper bound for an axis, so the ticks read 0, 5, 10 rather than 0, 4.3, 8.6. */
function niceMax(value) {
  if (!(value > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (value <= m * step) return m * step;
  return 10 * step;
}

function frame(label, max, format) {
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': label });
  root.append(svg('title', {}, label));
  const plotH = H - PAD.top - PAD.bottom;
  for (const f of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - f);
    root.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: 'grid' }));
    root.append(text(PAD.left - 4, y + 3, format(max * f), { class: 'tick', 'text-anchor': 'end' }));
  }
  return root;
}

/**
 * Bars: `bars` = [{label, value, className?}]. Labels are thinned out when they would
 * overlap. `format` prints axis values.
 */
export function barChart(label, bars, { format = plain } = {}) {
  const max = niceMax(Math.max(0, ...bars.map((b) => b.value)));
  const root = frame(label, max, format);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, bars.length);
  const every = Math.ceil(bars.length / 8);
  bars.forEach((bar, i) => {
    const height = (plotH * bar.value) / max;
    const x = PAD.left + i * slot + slot * 0.1;
    const rect = svg('rect', {
      x, y: PAD.top + plotH - height, width: slot * 0.8, height: Math.max(0, height),
      class: `bar ${bar.className || ''}`,
    });
    rect.append(svg('title', {}, `${bar.label}: ${format(bar.value)}`));
    root.append(rect);
    if (i % every === 0) {
      root.append(text(x + slot * 0.4, H - PAD.bottom + 12, bar.label, { class: 'tick', 'text-anchor': 'middle' }));
    }
  });
  return root;
}

/**
 * Lines over a shared x axis: `series` = [{name, className, points: [[x, y], ...]}]. A
 * single point is drawn as a dot. A legend names each series.
 */
export function lineChart(label, series, { format = plain, xLabel = (x) => String(x) } = {}) {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const max = niceMax(Math.max(0, ...ys));
  const root = frame(label, max, format);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x0 = Math.min(...xs, 0);
  const x1 = Math.max(...xs, x0 + 1);
  const px = (x) => PAD.left + ((x - x0) / (x1 - x0)) * plotW;
  const py = (y) => PAD.top + plotH * (1 - y / max);
  for (const x of [x0, Math.round((x0 + x1) / 2), x1]) {
    root.append(text(px(x), H - PAD.bottom + 12, xLabel(x), { class: 'tick', 'text-anchor': 'middle' }));
  }
  series.forEach((s, i) => {
    if (s.points.length > 1) {
      const d = s.points.map((p, k) => `${k ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
      root.append(svg('path', { d, class: `line ${s.className || ''}` }));
    }
    for (const [x, y] of s.points.length <= 31 ? s.points : s.points.slice(-1)) {
      const dot = svg('circle', { cx: px(x), cy: py(y), r: 2.5, class: `dot ${s.className || ''}` });
      dot.append(svg('title', {}, `${s.name} — ${xLabel(x)}: ${format(y)}`));
      root.append(dot);
    }
    const lx = PAD.left + i * 110;
    root.append(svg('rect', { x: lx, y: H - 10, width: 8, height: 8, class: `bar ${s.className || ''}` }));
    root.append(text(lx + 11, H - 3, s.name, { class: 'legend' }));
  });
  return root;
}
