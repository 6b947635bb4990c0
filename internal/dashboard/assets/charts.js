// Time-series line charts drawn as SVG by hand: no library. A chart keeps no data of its own;
// render() draws the points it is given between from and to.

import {fmtClock, h, replace, svg} from './dom.js';

const HEIGHT = 168;
const MARGIN = {left: 42, right: 12, top: 12, bottom: 22};

// niceStep is 1, 2 or 5 times a power of ten, about span/count.
function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
}

// yScale picks the top of the axis and its ticks for values up to max.
function yScale(max, integer) {
  const top = Math.max(max, integer ? 4 : 1);
  let step = niceStep(top, 4);
  if (integer) step = Math.max(1, Math.round(step));
  const ticks = [];
  for (let v = 0; v <= top + step * 0.999; v += step) ticks.push(v);
  return {top: ticks[ticks.length - 1], ticks};
}

const TIME_STEPS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].map((s) => s * 1000);

// timeTicks are round times between from and to, about one per 90 pixels; with their step.
function timeTicks(from, to, width) {
  const want = Math.max(2, Math.floor(width / 90));
  const step = TIME_STEPS.find((s) => (to - from) / s <= want) || TIME_STEPS[TIME_STEPS.length - 1];
  const ticks = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  return {ticks, step};
}

function fmtTimeTick(t, step) {
  const opts = {hour: '2-digit', minute: '2-digit', hourCycle: 'h23'};
  if (step < 60000) opts.second = '2-digit';
  return new Date(t).toLocaleTimeString([], opts);
}

function fmtTick(v) {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  return String(+v.toFixed(2));
}

// TimeChart is one chart: a title, a legend with the latest values, the plot and a tooltip.
// series: [{key, label, color, area, dash}]; step draws counts as steps; gap (ms) breaks a line
// where samples are missing.
export class TimeChart {
  constructor({id, title, series, step = false, integer = true, format = fmtTick, note = ''}) {
    Object.assign(this, {id, series, step, integer, format});
    this.values = new Map();
    this.legend = h('div', {class: 'legend'}, series.map((s) => {
      const v = h('b', null, '–');
      this.values.set(s.key, v);
      return h('span', {class: 'item'}, h('i', {class: 'swatch', style: {background: s.color}}), s.label, ' ', v);
    }));
    this.note = h('p', {class: 'chart-note'}, note);
    this.plot = h('div', {class: 'plot'});
    this.tip = h('div', {class: 'tip', hidden: true});
    this.el = h('section', {class: 'card chart', 'data-chart': id},
      h('header', null, h('h3', null, title), this.legend), this.plot, this.note);
    this.last = null;
  }

  setNote(text) {
    this.note.textContent = text;
  }

  // render draws points ([{t, v: {key: value}}], oldest first) between from and to (ms) with
  // markers ([{t, up, color, label}]).
  render({points, from, to, gap = Infinity, markers = []}) {
    const width = Math.max(240, this.plot.clientWidth || 600);
    const w = width - MARGIN.left - MARGIN.right;
    const ih = HEIGHT - MARGIN.top - MARGIN.bottom;
    const shown = points.filter((p) => p.t >= from && p.t <= to);
    let max = 0;
    for (const p of shown) for (const s of this.series) max = Math.max(max, p.v[s.key] || 0);
    const {top, ticks} = yScale(max, this.integer);
    const x = (t) => MARGIN.left + ((t - from) / Math.max(1, to - from)) * w;
    const y = (v) => MARGIN.top + ih - (Math.max(0, v) / top) * ih;

    const root = svg('svg', {width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img',
      'aria-label': this.el.querySelector('h3').textContent});
    const grid = svg('g', {class: 'grid'});
    for (const v of ticks) {
      grid.append(svg('line', {x1: MARGIN.left, x2: MARGIN.left + w, y1: y(v), y2: y(v)}),
        svg('text', {x: MARGIN.left - 6, y: y(v) + 4, 'text-anchor': 'end'}, fmtTick(v)));
    }
    const tt = timeTicks(from, to, w);
    for (const t of tt.ticks) {
      grid.append(svg('line', {class: 'vtick', x1: x(t), x2: x(t), y1: MARGIN.top + ih, y2: MARGIN.top + ih + 4}),
        svg('text', {x: x(t), y: HEIGHT - 6, 'text-anchor': 'middle'}, fmtTimeTick(t, tt.step)));
    }
    root.append(grid);

    for (const s of this.series) {
      const d = this.path(shown, s.key, x, y, gap);
      if (!d) continue;
      if (s.area) {
        for (const run of d.runs) {
          root.append(svg('path', {class: 'area', fill: s.color,
            d: `${run.d} L${run.x1.toFixed(1)},${y(0).toFixed(1)} L${run.x0.toFixed(1)},${y(0).toFixed(1)} Z`}));
        }
      }
      root.append(svg('path', {class: 'line', stroke: s.color, 'stroke-dasharray': s.dash || null,
        d: d.runs.map((r) => r.d).join(' '), 'data-series': s.key}));
    }

    const marks = svg('g', {class: 'markers'});
    for (const m of markers) {
      if (m.t < from || m.t > to) continue;
      const mx = x(m.t);
      const tri = m.up ? `M${mx - 5},${MARGIN.top + 8} L${mx + 5},${MARGIN.top + 8} L${mx},${MARGIN.top} Z`
        : `M${mx - 5},${MARGIN.top} L${mx + 5},${MARGIN.top} L${mx},${MARGIN.top + 8} Z`;
      marks.append(svg('g', {class: 'marker', 'data-up': m.up ? 'true' : 'false'},
        svg('title', null, m.label),
        svg('line', {x1: mx, x2: mx, y1: MARGIN.top, y2: MARGIN.top + ih, stroke: m.color}),
        svg('path', {d: tri, fill: m.color})));
    }
    root.append(marks);

    if (!shown.length) {
      root.append(svg('text', {class: 'empty', x: MARGIN.left + w / 2, y: MARGIN.top + ih / 2, 'text-anchor': 'middle'},
        'waiting for samples…'));
    }
    const cursor = svg('line', {class: 'cursor', x1: 0, x2: 0, y1: MARGIN.top, y2: MARGIN.top + ih, visibility: 'hidden'});
    root.append(cursor);
    this.hover(root, cursor, shown, x);
    replace(this.plot, root, this.tip);

    const lastPoint = shown[shown.length - 1];
    const last = {};
    for (const s of this.series) {
      const v = lastPoint ? lastPoint.v[s.key] : undefined;
      last[s.key] = v ?? null;
      this.values.get(s.key).textContent = v == null ? '–' : this.format(v);
    }
    this.el.dataset.points = String(shown.length);
    this.el.dataset.last = JSON.stringify(last);
    this.el.dataset.markers = String(marks.childElementCount);
  }

  // path is a series as runs of connected points (broken at gaps), as SVG path data.
  path(points, key, x, y, gap) {
    const runs = [];
    let run = null;
    let prev = null;
    for (const p of points) {
      const v = p.v[key];
      if (v == null) {
        prev = null;
        continue;
      }
      const px = x(p.t).toFixed(1);
      const py = y(v).toFixed(1);
      if (!run || !prev || p.t - prev.t > gap) {
        run = {d: `M${px},${py}`, x0: +px, x1: +px};
        runs.push(run);
      } else {
        run.d += this.step ? ` H${px} V${py}` : ` L${px},${py}`;
        run.x1 = +px;
      }
      prev = p;
    }
    return runs.length ? {runs} : null;
  }

  hover(root, cursor, points, x) {
    if (!points.length) return;
    const show = (ev) => {
      const box = root.getBoundingClientRect();
      const px = ev.clientX - box.left;
      let best = points[0];
      for (const p of points) if (Math.abs(x(p.t) - px) < Math.abs(x(best.t) - px)) best = p;
      const bx = x(best.t);
      cursor.setAttribute('x1', bx);
      cursor.setAttribute('x2', bx);
      cursor.setAttribute('visibility', 'visible');
      replace(this.tip, h('b', null, fmtClock(best.t)), this.series.map((s) =>
        h('div', null, h('i', {class: 'swatch', style: {background: s.color}}), `${s.label}: `,
          best.v[s.key] == null ? '–' : this.format(best.v[s.key]))));
      this.tip.hidden = false;
      const left = Math.min(Math.max(0, bx + 12), box.width - this.tip.offsetWidth - 4);
      this.tip.style.left = `${bx + 12 + this.tip.offsetWidth > box.width ? bx - this.tip.offsetWidth - 12 : left}px`;
    };
    root.addEventListener('pointermove', show);
    root.addEventListener('pointerleave', () => {
      cursor.setAttribute('visibility', 'hidden');
      this.tip.hidden = true;
    });
  }
}
