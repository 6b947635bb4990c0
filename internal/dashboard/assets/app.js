// orca's monitoring page: a router over two views (the overview and an instance), the polling
// loop that keeps them live, the live indicator and the key.

import {getKey, setKey} from './api.js';
import {fmtClock, openDialog, replace, toast} from './dom.js';
import {instanceView} from './instance.js';
import {overview} from './overview.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
const liveText = document.getElementById('live-text');
const keyButton = document.getElementById('key-button');

let current = null; // {tasks, dispose}
let generation = 0;

// report shows a failed refresh in the live indicator; the next success clears it.
function report(err) {
  live.dataset.state = 'error';
  liveText.textContent = err.status === 401 ? 'key needed' : 'error';
  live.title = err.message;
}

function ok() {
  live.dataset.state = 'ok';
  liveText.textContent = `live · ${fmtClock(Date.now())}`;
  live.title = 'Refreshing every few seconds';
}

// runTask runs a view's task now, then again every task.every ms after each run ends, until the
// view changes. A hidden tab skips its turns.
function runTask(task, gen) {
  const turn = async () => {
    if (gen !== generation) return;
    if (!document.hidden) {
      try {
        await task.fn();
        ok();
      } catch (err) {
        report(err);
      }
    }
    if (gen === generation) setTimeout(turn, task.every);
  };
  turn();
}

// ctx is what views use to act outside their own DOM.
const ctx = {
  report,
  // refresh runs a function of the view at once, reporting its failure.
  refresh(fn) {
    fn().then(ok, report);
  },
  go(hash) {
    location.hash = hash;
  },
};

function route() {
  generation++;
  if (current && current.dispose) current.dispose();
  window.scrollTo(0, 0);
  const hash = location.hash || '#/';
  const m = hash.match(/^#\/instance\/(.+)$/);
  let id = null;
  if (m) {
    try {
      id = decodeURIComponent(m[1]);
    } catch {
      id = null;
    }
  }
  document.body.dataset.view = id == null ? 'overview' : 'instance';
  current = id == null ? overview(main, ctx) : instanceView(main, id, ctx);
  for (const t of current.tasks) runTask(t, generation);
}

function keyLabel() {
  replace(keyButton, getKey() ? 'Key ✓' : 'Key');
}

let askingKey = false;
// keyDeclined: the user closed the key dialog; the refreshes stop asking until the Key button.
let keyDeclined = false;

async function askKey(reason) {
  if (askingKey || (reason && keyDeclined)) return;
  askingKey = true;
  const values = await openDialog({title: 'API key', confirm: 'Use this key',
    intro: `${reason ? `${reason} ` : ''}A reader key shows everything; the actions need an admin key. ` +
      'The key stays in this browser tab (sessionStorage) and is sent in the x-functions-key header, never in a URL.',
    fields: [{name: 'key', label: 'Key', type: 'password', value: getKey()}]});
  askingKey = false;
  keyDeclined = !values;
  if (values) {
    setKey(values.key.trim());
    keyLabel();
    toast(values.key.trim() ? 'Key saved for this tab.' : 'Key removed.');
    route();
  }
}

keyButton.addEventListener('click', () => askKey(''));
window.addEventListener('orca:unauthorized', () => askKey('This orca needs a key.'));
window.addEventListener('hashchange', route);
keyLabel();
route();
