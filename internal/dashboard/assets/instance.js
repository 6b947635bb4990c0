// An instance: its status, input, output, customStatus (with a progress bar), failures, its
// history as a paged timeline, and the management actions (DF's routes, the user's key).

import {HttpError, instancePath, request} from './api.js';
import {fmtAge, fmtClock, fmtDuration, fmtNumber, fmtTime, h, oneLine, openDialog, prettyJSON, progressBar, progressOf, replace,
  statusBadge, toast} from './dom.js';
import {serverNow} from './overview.js';

const HISTORY_PAGE = 50;
const SHOW_CHARS = 20000;
const FINISHED = new Set(['Completed', 'Failed', 'Terminated']);
const FILTERS = [
  ['', 'All events'],
  ['ExecutionStarted,ExecutionCompleted,ExecutionTerminated,ExecutionSuspended,ExecutionResumed,ExecutionRewound,ContinueAsNew', 'Lifecycle'],
  ['TaskScheduled,TaskCompleted,TaskFailed', 'Activities'],
  ['EventRaised,EventSent', 'Events'],
  ['TimerCreated,TimerFired', 'Timers'],
  ['SubOrchestrationInstanceCreated,SubOrchestrationInstanceCompleted,SubOrchestrationInstanceFailed', 'Sub-orchestrations'],
  ['TaskFailed,SubOrchestrationInstanceFailed,ExecutionCompleted', 'Failures and the end'],
];

// kindOf groups event types for their colour on the timeline.
function kindOf(type) {
  if (type === 'TaskFailed' || type === 'SubOrchestrationInstanceFailed') return 'fail';
  if (type.startsWith('Execution') || type === 'ContinueAsNew') return 'life';
  if (type.startsWith('Task')) return 'task';
  if (type.startsWith('Event')) return 'event';
  if (type.startsWith('Timer')) return 'timer';
  if (type.startsWith('SubOrchestration')) return 'sub';
  return 'turn';
}

// summaryOf is the one-line description of a history event.
function summaryOf(ev) {
  const failure = ev.FailureDetails && ev.FailureDetails.ErrorMessage;
  switch (ev.EventType) {
    case 'ExecutionStarted': return [ev.Name, oneLine(ev.Input)];
    case 'ExecutionCompleted': return [ev.OrchestrationStatus, failure || oneLine(ev.Result)];
    case 'ExecutionTerminated': return ['', oneLine(ev.Input)];
    case 'TaskScheduled': return [ev.Name, oneLine(ev.Input)];
    case 'TaskCompleted': return [`task ${ev.TaskScheduledId}`, oneLine(ev.Result)];
    case 'TaskFailed': return [`task ${ev.TaskScheduledId}`, ev.Reason || failure || ''];
    case 'EventRaised': return [ev.Name, oneLine(ev.Input)];
    case 'EventSent': return [ev.Name, `to ${ev.InstanceId}`];
    case 'TimerCreated': return ['', `fires at ${fmtTime(ev.FireAt)}`];
    case 'TimerFired': return [`timer ${ev.TimerId}`, ''];
    case 'SubOrchestrationInstanceCreated': return [ev.Name, ev.InstanceId];
    case 'SubOrchestrationInstanceCompleted': return [`task ${ev.TaskScheduledId}`, oneLine(ev.Result)];
    case 'SubOrchestrationInstanceFailed': return [`task ${ev.TaskScheduledId}`, ev.Reason || failure || ''];
    case 'ContinueAsNew': return ['', oneLine(ev.Result)];
    default: return ['', ev.Reason || ''];
  }
}

// jsonBlock shows a JSON value in a <pre>, cut at SHOW_CHARS with a button for the rest.
function jsonBlock(value, empty = 'none') {
  if (value === null || value === undefined) return h('p', {class: 'muted'}, empty);
  const {text, cut} = prettyJSON(value, SHOW_CHARS);
  const pre = h('pre', {class: 'json'}, text);
  if (!cut) return pre;
  const all = prettyJSON(value).text;
  const more = h('button', {type: 'button', class: 'ghost small', onclick: () => {
    pre.textContent = all;
    more.remove();
  }}, `Show all (${fmtNumber(all.length)} characters)`);
  return h('div', null, pre, more);
}

function card(title, ...body) {
  return h('section', {class: 'card'}, h('h2', null, title), ...body);
}

// actionsFor lists the actions an instance in this status accepts.
function actionsFor(status) {
  switch (status) {
    case 'Running': case 'Pending': case 'ContinuedAsNew':
      return ['raise', 'suspend', 'terminate'];
    case 'Suspended':
      return ['raise', 'resume', 'terminate'];
    case 'Failed':
      return ['rewind', 'restart', 'purge'];
    default:
      return ['restart', 'purge'];
  }
}

export function instanceView(main, id, ctx) {
  const title = h('h1', {class: 'instance-id mono'}, id);
  const badge = h('span');
  const actions = h('div', {class: 'actions'});
  const facts = h('dl', {class: 'facts'});
  const progress = h('div', {class: 'progress-big'});
  const failures = h('div');
  const panels = h('div', {class: 'panels'});
  const timeline = h('ol', {class: 'timeline'});
  const filter = h('select', {'aria-label': 'Event types'}, FILTERS.map(([v, label]) => h('option', {value: v}, label)));
  const historyMore = h('button', {type: 'button', class: 'ghost', hidden: true}, 'Load more');
  const historyNote = h('p', {class: 'muted'});
  const failuresCard = card('Failures', failures);
  failuresCard.hidden = true;

  replace(main,
    h('nav', {class: 'crumbs'}, h('a', {href: '#/'}, '← Overview')),
    h('section', {class: 'card head'}, h('div', {class: 'title-row'}, title, badge), facts, progress, actions),
    failuresCard, panels,
    h('section', {class: 'card history'}, h('div', {class: 'card-head'}, h('h2', null, 'History'), filter),
      timeline, historyNote, historyMore));

  let status = null;
  let gone = false;
  // History paging: next continues after the last page read (empty: we are at the end);
  // tail is the token of the last page, read again to pick up new events.
  const hist = {next: '', tail: '', lastSeq: -1, count: 0, types: ''};

  async function act(name) {
    const path = (suffix) => instancePath(id, suffix);
    const reason = {name: 'reason', label: 'Reason', placeholder: 'recorded in the history'};
    let values;
    switch (name) {
      case 'raise':
        values = await openDialog({title: 'Raise an event', confirm: 'Raise event',
          fields: [{name: 'event', label: 'Event name', placeholder: 'ComputeComplete'},
            {name: 'data', label: 'Data (JSON)', type: 'textarea', value: '{}', rows: 6}],
          validate: (v) => {
            if (!v.event.trim()) return 'The event needs a name.';
            try {
              JSON.parse(v.data);
            } catch (e) {
              return `The data is not JSON: ${e.message}`;
            }
            return '';
          }});
        if (!values) return;
        await request('POST', path(`/raiseEvent/${encodeURIComponent(values.event.trim())}`), {body: JSON.parse(values.data)});
        toast(`Event “${values.event.trim()}” raised.`, 'ok');
        break;
      case 'terminate': case 'suspend': case 'resume': case 'rewind': {
        const verbs = {terminate: 'Terminate', suspend: 'Suspend', resume: 'Resume', rewind: 'Rewind'};
        const intros = {terminate: 'The instance stops for good; running activities finish but their results are ignored.',
          suspend: 'The instance stops taking events until it is resumed; events raised meanwhile are kept.',
          resume: 'The instance goes on from where it was suspended.',
          rewind: 'The failed activities run again and the instance continues from there.'};
        values = await openDialog({title: `${verbs[name]} this instance?`, intro: intros[name], confirm: verbs[name],
          danger: name === 'terminate', fields: [reason]});
        if (!values) return;
        await request('POST', path(`/${name}`), {query: {reason: values.reason.trim() || null}});
        toast(`${verbs[name]}: accepted.`, 'ok');
        break;
      }
      case 'restart': {
        values = await openDialog({title: 'Restart this instance?', confirm: 'Restart',
          intro: 'A new run starts with the same input.',
          fields: [{name: 'newId', label: 'under a new instance id', type: 'checkbox', value: true}]});
        if (!values) return;
        const r = await request('POST', path('/restart'), {query: {restartWithNewInstanceId: String(values.newId)}});
        const newId = r.data && r.data.id;
        toast(newId ? `Restarted as ${newId}.` : 'Restarted.', 'ok');
        if (newId && newId !== id) ctx.go(`#/instance/${encodeURIComponent(newId)}`);
        break;
      }
      case 'purge':
        values = await openDialog({title: 'Purge this instance?', confirm: 'Purge', danger: true,
          intro: 'The instance and its whole history are deleted. This cannot be undone.'});
        if (!values) return;
        await request('DELETE', path(''));
        toast('Purged.', 'ok');
        ctx.go('#/');
        return;
    }
    ctx.refresh(refresh);
  }

  const LABELS = {raise: 'Raise event', suspend: 'Suspend', resume: 'Resume', terminate: 'Terminate', rewind: 'Rewind',
    restart: 'Restart', purge: 'Purge'};

  function drawActions() {
    replace(actions, actionsFor(status.runtimeStatus).map((a) => h('button', {type: 'button', 'data-action': a,
      class: a === 'terminate' || a === 'purge' ? 'danger-outline' : 'ghost', onclick: () => {
        act(a).catch((err) => toast(err instanceof HttpError ? `${LABELS[a]} failed: ${err.message}` : String(err), 'error'));
      }}, LABELS[a])));
  }

  // drawStatus redraws the facts and the progress; the actions and the payloads only when the
  // instance changed (so a click or a selection is not lost to a redraw).
  function drawStatus(changed) {
    const st = status;
    const now = serverNow();
    const created = Date.parse(st.createdTime);
    const updated = Date.parse(st.lastUpdatedTime);
    const finished = FINISHED.has(st.runtimeStatus);
    replace(badge, statusBadge(st.runtimeStatus));
    replace(facts,
      h('div', null, h('dt', null, 'Orchestrator'), h('dd', {class: 'mono'}, st.name)),
      h('div', null, h('dt', null, 'Created'), h('dd', {title: st.createdTime}, `${fmtTime(created)} (${fmtAge(now - created)})`)),
      h('div', null, h('dt', null, 'Last updated'), h('dd', {title: st.lastUpdatedTime}, fmtAge(now - updated))),
      h('div', null, h('dt', null, finished ? 'Took' : 'Running for'),
        h('dd', null, st.runtimeStatus === 'Pending' ? '–' : fmtDuration((finished ? updated : now) - created, 1000))));
    const p = progressOf(st.customStatus);
    replace(progress, p ? [progressBar(p), h('div', {class: 'progress-facts'},
      h('span', null, `${fmtNumber(p.completed)} completed`), h('span', null, `${fmtNumber(p.failed)} failed`),
      h('span', null, `${fmtNumber(p.inFlight)} in flight`), p.stage ? h('span', null, `stage: ${p.stage}`) : null)] : []);
    if (!changed) return;
    drawActions();
    replace(panels,
      card('Input', jsonBlock(st.input)),
      card('Custom status', jsonBlock(st.customStatus)),
      card('Output', jsonBlock(st.output, finished ? 'none' : 'not finished yet')));
  }

  async function drawFailures() {
    const st = status;
    const items = [];
    if (st.runtimeStatus === 'Failed') {
      const out = st.output;
      const msg = typeof out === 'string' ? out : out && out.failures ? `${fmtNumber(out.failed ?? out.failures.length)} of ${fmtNumber(out.total)} items failed` : oneLine(out, 400);
      items.push(h('p', {class: 'failure-main'}, msg || 'The orchestration failed.'));
    }
    const list = st.output && Array.isArray(st.output.failures) ? st.output.failures : [];
    if (list.length) {
      items.push(h('div', {class: 'table-wrap'}, h('table', null,
        h('thead', null, h('tr', null, h('th', null, 'Item'), h('th', null, 'Reason'))),
        h('tbody', null, list.slice(0, 100).map((f) => h('tr', null, h('td', {class: 'num'}, String(f.input_id)),
          h('td', {class: 'reason'}, f.reason)))))));
      if (list.length > 100) items.push(h('p', {class: 'muted'}, `and ${fmtNumber(list.length - 100)} more (see the output)`));
    }
    const r = await request('GET', instancePath(id, '/history'), {query: {eventType: 'TaskFailed,SubOrchestrationInstanceFailed', top: 20}});
    if (r.data && r.data.length) {
      items.push(h('h3', null, 'Failed activities'), h('ul', {class: 'failed-tasks'}, r.data.map((ev) =>
        h('li', null, h('span', {class: 'mono'}, `#${ev.Sequence} task ${ev.TaskScheduledId}`), ' ', ev.Reason || ''))));
    }
    replace(failures, items);
    failuresCard.hidden = items.length === 0;
  }

  function eventRow(ev) {
    const t = Date.parse(ev.Timestamp);
    const [name, detail] = summaryOf(ev);
    const full = prettyJSON(ev, SHOW_CHARS).text;
    return h('li', {class: `ev k-${kindOf(ev.EventType)}`, 'data-seq': ev.Sequence},
      h('details', null, h('summary', null,
        h('span', {class: 'seq mono'}, `#${ev.Sequence}`),
        h('span', {class: 'when mono', title: fmtTime(t)}, fmtClock(t, true)),
        h('span', {class: 'type'}, ev.EventType),
        name ? h('span', {class: 'ev-name mono'}, name) : null,
        detail ? h('span', {class: 'detail'}, detail) : null),
      h('pre', {class: 'json'}, full)));
  }

  // readHistory reads one page after token and appends the events not shown yet.
  async function readHistory(token) {
    const r = await request('GET', instancePath(id, '/history'), {query: {top: HISTORY_PAGE, eventType: hist.types || null},
      headers: token ? {'x-ms-continuation-token': token} : {}});
    const fresh = (r.data || []).filter((ev) => ev.Sequence > hist.lastSeq);
    for (const ev of fresh) {
      timeline.append(eventRow(ev));
      hist.lastSeq = ev.Sequence;
      hist.count++;
    }
    hist.tail = token;
    hist.next = r.headers.get('x-ms-continuation-token') || '';
    historyMore.hidden = !hist.next;
    historyNote.textContent = hist.count ? `${fmtNumber(hist.count)} events shown${hist.next ? ', more below' : ''}` : 'No events yet.';
  }

  function resetHistory() {
    Object.assign(hist, {next: '', tail: '', lastSeq: -1, count: 0});
    timeline.replaceChildren();
  }

  historyMore.addEventListener('click', () => ctx.refresh(() => readHistory(hist.next)));
  filter.addEventListener('change', () => {
    hist.types = filter.value;
    resetHistory();
    ctx.refresh(() => readHistory(''));
  });

  async function refresh() {
    if (gone) return;
    let r;
    try {
      r = await request('GET', instancePath(id), {query: {showInput: true}});
    } catch (err) {
      if (err.status === 404) {
        gone = true;
        replace(main, h('nav', {class: 'crumbs'}, h('a', {href: '#/'}, '← Overview')),
          h('section', {class: 'card'}, h('h1', {class: 'mono instance-id'}, id),
            h('p', null, 'There is no instance with this id (it may have been purged).')));
        return;
      }
      throw err;
    }
    const changed = !status || r.data.lastUpdatedTime !== status.lastUpdatedTime || r.data.runtimeStatus !== status.runtimeStatus ||
      JSON.stringify(r.data.customStatus) !== JSON.stringify(status.customStatus);
    status = r.data;
    drawStatus(changed);
    if (!changed && FINISHED.has(status.runtimeStatus)) return;
    // At the end of the history: read the last page again for new events.
    if (!hist.next) await readHistory(hist.tail);
    await drawFailures();
  }

  return {tasks: [{fn: refresh, every: 2000}]};
}
