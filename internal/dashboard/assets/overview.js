// The overview: live tiles and charts of the work queue, the workers, throughput, the poison
// queue and the orca servers (from the server's sampler, so a fresh page has the last minutes),
// the worker pods and the nodes of a Kubernetes cluster when the server watches one, the worker
// pools, and the orchestrations.

import {DF, request} from './api.js';
import {TimeChart} from './charts.js';
import {fmtAge, fmtDuration, fmtNumber, fmtRate, h, oneLine, progressBar, progressOf, replace, statusBadge} from './dom.js';

export const COLORS = {blue: '#2563eb', green: '#16a34a', amber: '#d97706', red: '#dc2626', gray: '#64748b',
  violet: '#7c3aed', teal: '#0d9488'};
const STATUSES = ['Running', 'Pending', 'Suspended', 'Completed', 'Failed', 'Terminated'];
const FINISHED = new Set(['Completed', 'Failed', 'Terminated']);
const WINDOWS = [[300, '5 min'], [900, '15 min'], [1800, '30 min']];
const PAGE = 25;
// THROUGHPUT_SPAN is the span items/s is averaged over.
const THROUGHPUT_SPAN = 5000;

// The samples outlive the view: coming back to the overview asks only for what is new.
const series = {samples: [], lastT: 0, decisions: new Map(), interval: 1000, window: 1800_000, workQueue: 'input',
  offset: 0, pools: [], cluster: null};
const ui = {view: 300, status: '', prefix: '', count: PAGE};

// serverNow estimates the server's clock (ages are computed against it, not the browser's).
export function serverNow() {
  return Date.now() + series.offset;
}

function mergeSeries(data) {
  series.interval = (data.intervalSeconds || 1) * 1000;
  series.window = (data.windowSeconds || 1800) * 1000;
  series.workQueue = data.workQueue || series.workQueue;
  series.offset = Date.parse(data.now) - Date.now();
  series.cluster = data.kubernetes || null;
  for (const s of data.samples) {
    if (s.t > series.lastT) {
      series.samples.push(s);
      series.lastT = s.t;
    }
  }
  const oldest = series.lastT - series.window;
  const cut = series.samples.findIndex((s) => s.t >= oldest);
  if (cut > 0) series.samples.splice(0, cut);
  for (const d of data.decisions) series.decisions.set(`${d.pool}\u0000${d.time}`, d);
  for (const [k, d] of series.decisions) if (Date.parse(d.time) < oldest) series.decisions.delete(k);
}

function sum(pools, key) {
  return pools.reduce((n, p) => n + (p[key] || 0), 0);
}

// points turns the samples into each chart's points; items/s is the finished count's slope
// over THROUGHPUT_SPAN.
function points() {
  const out = {queue: [], workers: [], throughput: [], poison: [], nodes: [], pods: [], kubeNodes: []};
  const ss = series.samples;
  let j = 0;
  for (let i = 0; i < ss.length; i++) {
    const s = ss[i];
    out.queue.push({t: s.t, v: {visible: s.visible, inFlight: s.inFlight}});
    const pools = s.pools || [];
    out.workers.push({t: s.t, v: pools.length ? {ready: sum(pools, 'ready'), starting: sum(pools, 'starting'),
      stopping: sum(pools, 'stopping'), desired: sum(pools, 'desired')} : {}});
    out.poison.push({t: s.t, v: {poison: s.poison}});
    out.nodes.push({t: s.t, v: {nodes: s.nodes}});
    const k = s.kubernetes;
    const deployments = k ? k.deployments || [] : [];
    out.pods.push({t: s.t, v: k ? {running: sum(deployments, 'running'), pending: sum(deployments, 'pending'),
      stopping: sum(deployments, 'stopping')} : {}});
    out.kubeNodes.push({t: s.t, v: k ? {nodes: k.nodes, ready: k.nodesReady} : {}});
    while (j < i - 1 && s.t - ss[j + 1].t >= THROUGHPUT_SPAN) j++;
    if (i > 0) {
      const a = ss[j];
      const dt = (s.t - a.t) / 1000;
      out.throughput.push({t: s.t, v: {completed: Math.max(0, (s.completed - a.completed) / dt),
        failed: Math.max(0, (s.failed - a.failed) / dt)}});
    }
  }
  return out;
}

function markers() {
  return [...series.decisions.values()].map((d) => {
    const up = d.desired > d.actual;
    return {t: Date.parse(d.time), up, color: up ? COLORS.green : COLORS.amber,
      label: `${d.pool}: ${d.actual} → ${d.desired} workers. ${d.reason}`};
  });
}

function tile(id, label) {
  const value = h('div', {class: 'value'}, '–');
  const sub = h('div', {class: 'sub'}, '');
  return {el: h('div', {class: 'card tile', 'data-tile': id}, h('div', {class: 'label'}, label), value, sub), value, sub};
}

export function overview(main, ctx) {
  const charts = {
    queue: new TimeChart({id: 'queue', title: 'Messages in the queue', series: [
      {key: 'visible', label: 'waiting', color: COLORS.blue, area: true},
      {key: 'inFlight', label: 'in flight', color: COLORS.amber}]}),
    workers: new TimeChart({id: 'workers', title: 'Workers', step: true, series: [
      {key: 'ready', label: 'ready', color: COLORS.green, area: true},
      {key: 'starting', label: 'starting', color: COLORS.amber},
      {key: 'stopping', label: 'stopping', color: COLORS.gray, dash: '2 3'},
      {key: 'desired', label: 'desired', color: COLORS.blue, dash: '6 4'}]}),
    throughput: new TimeChart({id: 'throughput', title: 'Throughput (items/s)', integer: false, format: fmtRate, series: [
      {key: 'completed', label: 'completed', color: COLORS.green, area: true},
      {key: 'failed', label: 'failed', color: COLORS.red}]}),
    poison: new TimeChart({id: 'poison', title: 'Poison queue', step: true, series: [
      {key: 'poison', label: 'messages', color: COLORS.red, area: true}]}),
    nodes: new TimeChart({id: 'nodes', title: 'orca servers', step: true, series: [
      {key: 'nodes', label: 'servers', color: COLORS.violet, area: true}]}),
    pods: new TimeChart({id: 'pods', title: 'Worker pods (Kubernetes)', step: true, series: [
      {key: 'running', label: 'running', color: COLORS.green, area: true},
      {key: 'pending', label: 'pending', color: COLORS.amber},
      {key: 'stopping', label: 'stopping', color: COLORS.gray, dash: '2 3'}]}),
    kubeNodes: new TimeChart({id: 'kube-nodes', title: 'Kubernetes nodes', step: true, series: [
      {key: 'nodes', label: 'nodes', color: COLORS.teal, area: true},
      {key: 'ready', label: 'ready', color: COLORS.green, dash: '6 4'}]}),
  };
  charts.pods.el.hidden = true;
  charts.kubeNodes.el.hidden = true;
  const tiles = {queue: tile('queue', 'Queue'), workers: tile('workers', 'Workers'), rate: tile('rate', 'Throughput'),
    poison: tile('poison', 'Poison'), nodes: tile('nodes', 'Servers'), runs: tile('runs', 'Running')};

  const windowButtons = WINDOWS.map(([sec, label]) => h('button', {type: 'button', class: 'seg', 'data-window': sec,
    'aria-pressed': String(ui.view === sec), onclick: () => {
      ui.view = sec;
      for (const b of windowButtons) b.setAttribute('aria-pressed', String(Number(b.dataset.window) === sec));
      drawCharts();
    }}, label));

  const poolsBody = h('tbody');
  const poolsCard = h('section', {class: 'card pools', hidden: true}, h('h2', null, 'Worker pools'),
    h('div', {class: 'table-wrap'}, h('table', null, h('thead', null, h('tr', null,
      ['Pool', 'Queue', 'Provider', 'Ready', 'Starting', 'Stopping', 'Desired', 'Min–max', 'Target', 'Queue length', 'Last resize']
        .map((c) => h('th', null, c)))), poolsBody)));

  // The cluster's worker Deployments and nodes, now (the charts above have their history).
  const deploymentsBody = h('tbody');
  const nodesBody = h('tbody');
  const clusterErrors = h('ul', {class: 'cluster-errors'});
  const nodesWrap = h('div', {class: 'table-wrap'}, h('table', {class: 'kube-nodes'}, h('thead', null, h('tr', null,
    ['Node', 'Status', 'Worker pods', 'Age'].map((c) => h('th', null, c)))), nodesBody));
  const clusterCard = h('section', {class: 'card cluster', hidden: true}, h('h2', null, 'Kubernetes'), clusterErrors,
    h('div', {class: 'cluster-tables'},
      h('div', {class: 'table-wrap'}, h('table', {class: 'kube-deployments'}, h('thead', null, h('tr', null,
        ['Worker Deployment', 'Running', 'Pending', 'Stopping'].map((c) => h('th', null, c)))), deploymentsBody)),
      nodesWrap));

  const chips = h('div', {class: 'chips', role: 'group', 'aria-label': 'Filter by status'});
  const prefix = h('input', {type: 'search', class: 'search', placeholder: 'Instance id prefix', 'aria-label': 'Instance id prefix',
    spellcheck: 'false', autocomplete: 'off'});
  prefix.value = ui.prefix;
  const rows = h('tbody');
  const more = h('button', {type: 'button', class: 'ghost', hidden: true, onclick: () => {
    ui.count = Math.min(1000, ui.count + PAGE);
    ctx.refresh(listTask);
  }}, 'Load more');
  const listNote = h('p', {class: 'muted list-note'});
  const runs = h('section', {class: 'card runs'},
    h('div', {class: 'card-head'}, h('h2', null, 'Orchestrations'), prefix), chips,
    h('div', {class: 'table-wrap'}, h('table', {class: 'instances'}, h('thead', null, h('tr', null,
      h('th', null, 'Instance'), h('th', {class: 'opt'}, 'Name'), h('th', null, 'Status'), h('th', null, 'Progress'),
      h('th', null, 'Age'), h('th', null, 'Duration'), h('th', {class: 'opt'}, 'Updated'))), rows)),
    listNote, more);

  replace(main,
    h('section', {class: 'tiles'}, Object.values(tiles).map((t) => t.el)),
    h('div', {class: 'section-head'}, h('h2', null, 'Live'), h('div', {class: 'segmented', role: 'group', 'aria-label': 'Time window'}, windowButtons)),
    h('section', {class: 'charts'}, Object.values(charts).map((c) => c.el)),
    clusterCard, poolsCard, runs);

  let debounce = 0;
  prefix.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      ui.prefix = prefix.value.trim();
      ui.count = PAGE;
      ctx.refresh(listTask);
    }, 300);
  });

  function drawCharts() {
    const to = series.lastT || serverNow();
    // A node younger than the window fills the charts with what it has (a minute at least).
    const first = series.samples.length ? series.samples[0].t : to;
    const from = to - Math.min(ui.view * 1000, Math.max(60_000, to - first));
    const gap = Math.max(5 * series.interval, 5000);
    const p = points();
    const m = markers();
    charts.queue.render({points: p.queue, from, to, gap});
    charts.workers.render({points: p.workers, from, to, gap, markers: m});
    charts.throughput.render({points: p.throughput, from, to, gap});
    charts.poison.render({points: p.poison, from, to, gap});
    charts.nodes.render({points: p.nodes, from, to, gap});
    const cluster = series.cluster;
    charts.pods.el.hidden = !cluster;
    charts.kubeNodes.el.hidden = !cluster || !cluster.nodesWatched;
    if (cluster) {
      charts.pods.render({points: p.pods, from, to, gap});
      if (cluster.nodesWatched) charts.kubeNodes.render({points: p.kubeNodes, from, to, gap});
      charts.pods.setNote('Pods of the worker Deployments: running and ready, pending (not scheduled, started or ready yet), being deleted.');
    }
    charts.workers.setNote(series.pools.length
      ? 'Ready workers are the seeds\u2019 running pods, starting ones their pending pods. Triangles mark the scaler\u2019s resizes (hover for the reason).'
      : series.cluster ? 'No worker pools on this node (another scaler, such as KEDA, sizes the workers): their pods are below.'
        : 'No worker pools on this node: workers that connect over HTTP (orca worker) are not counted here.');
    drawTiles(p);
  }

  function drawTiles(p) {
    const s = series.samples[series.samples.length - 1];
    if (!s) return;
    tiles.queue.value.textContent = fmtNumber(s.visible + s.inFlight);
    tiles.queue.sub.textContent = `${fmtNumber(s.visible)} waiting · ${fmtNumber(s.inFlight)} in flight`;
    const pools = s.pools || [];
    const pods = s.kubernetes ? s.kubernetes.deployments || [] : [];
    if (pools.length) {
      tiles.workers.value.textContent = fmtNumber(sum(pools, 'ready'));
      tiles.workers.sub.textContent = `${fmtNumber(sum(pools, 'starting'))} starting · desired ${fmtNumber(sum(pools, 'desired'))}`;
    } else if (pods.length) { // workers another scaler (KEDA) sizes: their pods
      tiles.workers.value.textContent = fmtNumber(sum(pods, 'running'));
      tiles.workers.sub.textContent = `pods · ${fmtNumber(sum(pods, 'pending'))} pending`;
    } else {
      tiles.workers.value.textContent = '–';
      tiles.workers.sub.textContent = 'no pools';
    }
    const r = p.throughput[p.throughput.length - 1];
    tiles.rate.value.textContent = r ? `${fmtRate(r.v.completed + r.v.failed)}/s` : '–';
    tiles.rate.sub.textContent = `${fmtNumber(s.completed)} done · ${fmtNumber(s.failed)} failed`;
    tiles.poison.value.textContent = fmtNumber(s.poison);
    tiles.poison.el.dataset.alert = String(s.poison > 0);
    tiles.poison.sub.textContent = `in ${series.workQueue}-poison`;
    tiles.nodes.value.textContent = fmtNumber(s.nodes);
    tiles.nodes.sub.textContent = s.nodes === 1 ? 'this server' : 'orca servers';
  }

  function drawCluster() {
    const c = series.cluster;
    clusterCard.hidden = !c;
    if (!c) return;
    replace(clusterErrors, (c.errors || []).map((e) => h('li', null, e)));
    replace(deploymentsBody, (c.deployments || []).map((d) => h('tr', {'data-deployment': d.name},
      h('td', {class: 'mono'}, d.name), h('td', {class: 'num'}, fmtNumber(d.running)),
      h('td', {class: 'num'}, fmtNumber(d.pending)), h('td', {class: 'num'}, fmtNumber(d.stopping)))));
    nodesWrap.hidden = !c.nodesWatched;
    const now = serverNow();
    replace(nodesBody, (c.nodes || []).map((n) => h('tr', {'data-node': n.name},
      h('td', {class: 'mono'}, n.name),
      h('td', null, h('span', {class: `badge ${n.ready ? 'st-completed' : 'st-failed'}`}, n.ready ? 'Ready' : 'NotReady'),
        n.unschedulable ? h('span', {class: 'muted'}, ' cordoned') : null),
      h('td', {class: 'num'}, fmtNumber(n.workerPods)),
      h('td', {class: 'num', title: n.created}, fmtAge(now - Date.parse(n.created))))));
    if (c.nodesWatched && !(c.nodes || []).length) {
      nodesBody.append(h('tr', null, h('td', {colspan: 4, class: 'empty'}, 'No nodes.')));
    }
  }

  function drawPools() {
    poolsCard.hidden = !series.pools.length;
    const lastResize = new Map();
    for (const d of series.decisions.values()) lastResize.set(d.pool, d);
    replace(poolsBody, series.pools.map((p) => {
      const d = lastResize.get(p.name);
      return h('tr', null, h('td', {class: 'mono'}, p.name), h('td', {class: 'mono'}, p.queue), h('td', null, p.provider),
        h('td', {class: 'num'}, fmtNumber(p.workers.ready)), h('td', {class: 'num'}, fmtNumber(p.workers.starting)),
        h('td', {class: 'num'}, fmtNumber(p.workers.stopping)), h('td', {class: 'num'}, fmtNumber(p.desired)),
        h('td', {class: 'num'}, `${p.min}–${p.max}`), h('td', {class: 'num'}, fmtNumber(p.targetQueueLength)),
        h('td', {class: 'num'}, p.metric < 0 ? '–' : fmtNumber(p.metric)),
        h('td', {class: 'reason'}, d ? `${d.actual} → ${d.desired}: ${d.reason}` : '–'));
    }));
  }

  // The chips are made once and their counts updated, so a click never lands on a chip being
  // replaced.
  const chipCounts = new Map();
  for (const [status, label] of [['', 'All'], ...STATUSES.map((x) => [x, x])]) {
    const count = h('span', {class: 'count'}, '–');
    chipCounts.set(status, count);
    chips.append(h('button', {type: 'button', class: 'chip', 'data-status': status, 'aria-pressed': String(ui.status === status),
      onclick: (e) => {
        ui.status = status;
        ui.count = PAGE;
        for (const c of chips.children) c.setAttribute('aria-pressed', String(c === e.currentTarget));
        ctx.refresh(listTask);
      }}, label, count));
  }

  function drawChips(summary) {
    const counts = summary.counts || {};
    for (const [status, el] of chipCounts) el.textContent = fmtNumber(status ? counts[status] || 0 : summary.total);
    tiles.runs.value.textContent = fmtNumber(counts.Running || 0);
    tiles.runs.sub.textContent = `${fmtNumber(counts.Pending || 0)} pending · ${fmtNumber(counts.Failed || 0)} failed`;
  }

  function drawRows(list, token) {
    const now = serverNow();
    replace(rows, list.map((st) => {
      const created = Date.parse(st.createdTime);
      const updated = Date.parse(st.lastUpdatedTime);
      const finished = FINISHED.has(st.runtimeStatus);
      const p = progressOf(st.customStatus);
      const href = `#/instance/${encodeURIComponent(st.instanceId)}`;
      return h('tr', {'data-id': st.instanceId},
        h('td', {class: 'id'}, h('a', {href, class: 'mono'}, st.instanceId), h('div', {class: 'name-sm'}, st.name)),
        h('td', {class: 'opt'}, st.name),
        h('td', {class: 'st'}, statusBadge(st.runtimeStatus)),
        h('td', {class: 'prog'}, p ? progressBar(p, {compact: true}) : st.customStatus == null ? null : h('span', {class: 'muted custom'}, oneLine(st.customStatus, 60))),
        h('td', {class: 'num age', title: `created ${st.createdTime}`}, fmtAge(now - created)),
        h('td', {class: 'num dur'}, st.runtimeStatus === 'Pending' ? '–' : fmtDuration((finished ? updated : now) - created, 1000)),
        h('td', {class: 'num opt', title: st.lastUpdatedTime}, fmtAge(now - updated)));
    }));
    if (!list.length) {
      rows.append(h('tr', null, h('td', {colspan: 7, class: 'empty'},
        ui.status || ui.prefix ? 'No orchestration matches.' : 'No orchestrations yet. Start one: POST /api/orchestrators/ComputeOrchestrator?inputCount=100')));
    }
    more.hidden = !token || ui.count >= 1000;
    listNote.textContent = list.length ? `Newest first · ${fmtNumber(list.length)} shown` : '';
  }

  async function seriesTask() {
    const [s, pools] = await Promise.all([
      request('GET', 'api/dashboard/series', {query: {since: series.lastT || null}}),
      request('GET', 'api/pools')]);
    mergeSeries(s.data);
    series.pools = pools.data.pools || [];
    drawCharts();
    drawCluster();
    drawPools();
  }

  async function listTask() {
    const [sum, list] = await Promise.all([
      request('GET', 'api/runs/summary'),
      request('GET', `${DF}/instances`, {query: {top: ui.count, newestFirst: true, showInput: false, showOutput: false,
        runtimeStatus: ui.status || null, instanceIdPrefix: ui.prefix || null}})]);
    drawChips(sum.data);
    drawRows(list.data || [], list.headers.get('x-ms-continuation-token'));
  }

  drawCharts();
  let frame = 0;
  const resize = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(drawCharts);
  });
  resize.observe(main);
  return {tasks: [{fn: seriesTask, every: 2000}, {fn: listTask, every: 3000}], dispose: () => resize.disconnect()};
}
