// The page's client of orca's API. Paths are relative to the page, so orca also works behind a
// proxy that serves it under a prefix. The key, when the node has keys, is kept in this tab's
// sessionStorage and sent as the x-functions-key header: never in a URL, where proxies and
// access logs would keep it.

const KEY_STORAGE = 'orca.key';
export const DF = 'runtime/webhooks/durabletask';

// memoryKey holds the key when sessionStorage refuses it.
let memoryKey = '';

export function getKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || '';
  } catch {
    return '';
  }
}

export function setKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage refused (private mode): the key lasts until the page reloads.
  }
  memoryKey = key;
}

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// messageOf reads an error answer: orca's {"error": {"message"}}, DF's {"Message"} or a JSON
// string.
function messageOf(status, data, text) {
  if (data && typeof data === 'object') {
    if (data.error && data.error.message) return data.error.message;
    if (data.ExceptionMessage) return data.ExceptionMessage;
    if (data.Message) return data.Message;
  }
  if (typeof data === 'string' && data) return data;
  if (text && text.length < 300) return text;
  switch (status) {
    case 401: return 'a key is needed (or the key is not valid)';
    case 403: return 'this key cannot do that (an admin key can)';
    case 404: return 'not found';
    case 410: return 'the instance has finished';
    default: return `HTTP ${status}`;
  }
}

// request sends a request and returns {status, headers, data}; a status of 300 or more throws
// an HttpError. query is an object (array values repeat the parameter); body is sent as JSON.
export async function request(method, path, {query, body, headers = {}} = {}) {
  const url = new URL(path, document.baseURI);
  for (const [k, v] of Object.entries(query || {})) {
    if (v == null || v === '') continue;
    for (const x of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(x));
  }
  const h = {Accept: 'application/json', ...headers};
  const key = getKey() || memoryKey;
  if (key) h['x-functions-key'] = key;
  const init = {method, headers: h, cache: 'no-store', credentials: 'omit'};
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    throw new HttpError(0, `orca is not reachable (${e.message})`);
  }
  const text = await resp.text();
  let data = null;
  if (text && (resp.headers.get('Content-Type') || '').includes('json')) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (resp.status >= 300) {
    const err = new HttpError(resp.status, messageOf(resp.status, data, data ? '' : text));
    if (resp.status === 401) window.dispatchEvent(new CustomEvent('orca:unauthorized'));
    throw err;
  }
  return {status: resp.status, headers: resp.headers, data};
}

// instancePath is an instance's DF path; the id is escaped whole (a + too: DF reads a bare +
// in a path as a space).
export function instancePath(id, suffix = '') {
  return `${DF}/instances/${encodeURIComponent(id)}${suffix}`;
}
