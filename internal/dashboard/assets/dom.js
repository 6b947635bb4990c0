// DOM helpers. Everything the page shows is built with createElement and textContent: ids,
// event names and payloads are user input, and no string of data is ever parsed as HTML.

const SVG = 'http://www.w3.org/2000/svg';

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function setProps(el, props) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style') Object.assign(el.style, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

// h builds an HTML element: h('a', {href: '#/', class: 'x'}, 'text', child, [more]).
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

// svg builds an SVG element the same way.
export function svg(tag, props, ...children) {
  const el = document.createElementNS(SVG, tag);
  setProps(el, props);
  append(el, children);
  return el;
}

// replace empties el and fills it with children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const numberFormat = new Intl.NumberFormat();

export function fmtNumber(n) {
  if (n == null || Number.isNaN(n)) return '–';
  return numberFormat.format(n);
}

// fmtRate shows a rate with one decimal below 10 and none above.
export function fmtRate(n) {
  if (n == null || Number.isNaN(n)) return '–';
  return n < 10 ? n.toFixed(1) : numberFormat.format(Math.round(n));
}

// fmtDuration shows milliseconds as "850 ms", "12.3 s", "4m 05s", "2h 10m", "3d 4h". A
// duration measured between times of precision ms (DF's status times are to the second) shows
// as "< 1 s" below it.
export function fmtDuration(ms, precision = 1) {
  if (ms == null || Number.isNaN(ms) || ms < 0) return '–';
  if (ms < precision) return precision >= 1000 ? '< 1 s' : `< ${precision} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(hrs / 24)}d ${hrs % 24}h`;
}

export function fmtAge(ms) {
  return ms < 5000 ? 'just now' : `${fmtDuration(ms)} ago`;
}

export function fmtTime(t) {
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) return '–';
  return d.toLocaleString([], {year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit'});
}

export function fmtClock(t, withMillis = false) {
  const d = new Date(t);
  const s = d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'});
  return withMillis ? `${s}.${String(d.getMilliseconds()).padStart(3, '0')}` : s;
}

// prettyJSON renders a JSON value for a <pre>, cut at limit characters (0: whole).
export function prettyJSON(v, limit = 0) {
  let s = v === undefined ? '' : JSON.stringify(v, null, 2);
  let cut = false;
  if (limit > 0 && s.length > limit) {
    s = s.slice(0, limit);
    cut = true;
  }
  return {text: s, cut};
}

// oneLine is a short single-line preview of a JSON value.
export function oneLine(v, limit = 140) {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > limit ? `${s.slice(0, limit)}…` : s;
}

// statusBadge is a runtime status as a coloured label.
export function statusBadge(status) {
  return h('span', {class: `badge st-${String(status).toLowerCase()}`}, status || '–');
}

// progressOf reads a run's progress from its customStatus: {total, completed, failed,
// inFlight, stage} (the ComputeOrchestrator's shape); null when there is none.
export function progressOf(customStatus) {
  const c = customStatus;
  if (!c || typeof c !== 'object' || typeof c.total !== 'number' || c.total <= 0) return null;
  const num = (x) => (typeof x === 'number' && x > 0 ? x : 0);
  return {total: c.total, completed: num(c.completed), failed: num(c.failed), inFlight: num(c.inFlight),
    stage: typeof c.stage === 'string' ? c.stage : ''};
}

// progressBar draws done (green) and failed (red) parts of a total.
export function progressBar(p, {compact = false} = {}) {
  const pct = (x) => `${Math.min(100, (100 * x) / p.total).toFixed(2)}%`;
  const done = p.completed + p.failed;
  const label = `${fmtNumber(done)} / ${fmtNumber(p.total)}` + (p.failed ? ` · ${fmtNumber(p.failed)} failed` : '');
  return h('div', {class: compact ? 'progress compact' : 'progress', role: 'progressbar', 'aria-valuemin': 0,
    'aria-valuemax': p.total, 'aria-valuenow': done, title: label},
  h('div', {class: 'bar'}, h('span', {class: 'ok', style: {width: pct(p.completed)}}),
    h('span', {class: 'bad', style: {width: pct(p.failed)}})),
  h('span', {class: 'label'}, label));
}

// toast shows a short message in the corner.
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const t = h('div', {class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status'}, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

// openDialog shows a modal form and resolves with its values (an object of the named fields)
// when confirmed, null when cancelled. validate(values) may return an error message.
export function openDialog({title, intro, fields = [], confirm = 'OK', danger = false, validate}) {
  const dlg = document.getElementById('dialog');
  const error = h('p', {class: 'form-error', role: 'alert'});
  const inputs = fields.map((f) => {
    const id = `f-${f.name}`;
    let input;
    if (f.type === 'textarea') {
      input = h('textarea', {id, name: f.name, rows: f.rows || 5, spellcheck: 'false'});
      input.value = f.value ?? '';
    } else if (f.type === 'checkbox') {
      input = h('input', {id, name: f.name, type: 'checkbox'});
      input.checked = Boolean(f.value);
    } else {
      input = h('input', {id, name: f.name, type: f.type || 'text', autocomplete: 'off', spellcheck: 'false', placeholder: f.placeholder});
      input.value = f.value ?? '';
    }
    const field = f.type === 'checkbox'
      ? h('label', {class: 'check', for: id}, input, ' ', f.label)
      : h('div', {class: 'field'}, h('label', {for: id}, f.label), input, f.hint ? h('small', null, f.hint) : null);
    return {f, input, field};
  });
  const ok = h('button', {type: 'submit', class: danger ? 'danger' : 'primary', 'data-action': 'confirm'}, confirm);
  const cancel = h('button', {type: 'button', class: 'ghost', 'data-action': 'cancel'}, 'Cancel');
  const form = h('form', {class: 'dialog-form'}, h('h2', null, title), intro ? h('p', {class: 'intro'}, intro) : null,
    inputs.map((i) => i.field), error, h('div', {class: 'dialog-buttons'}, cancel, ok));
  replace(dlg, form);
  return new Promise((resolve) => {
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      if (dlg.open) dlg.close();
      resolve(v);
    };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const values = {};
      for (const {f, input} of inputs) values[f.name] = f.type === 'checkbox' ? input.checked : input.value;
      const msg = validate ? validate(values) : '';
      if (msg) {
        error.textContent = msg;
        return;
      }
      finish(values);
    });
    cancel.addEventListener('click', () => finish(null));
    dlg.addEventListener('close', () => finish(null), {once: true});
    dlg.showModal();
    (inputs.find((i) => i.f.type !== 'checkbox')?.input || ok).focus();
  });
}
