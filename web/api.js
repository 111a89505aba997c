// Talks to the REST API (docs/api.md). The operator token lives in
// sessionStorage: it survives navigation and reload but not closing the tab,
// and is never written to the URL.

const TOKEN_KEY = 'autoctrl.operatorToken';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? '',
  set: (t) => (t ? sessionStorage.setItem(TOKEN_KEY, t) : sessionStorage.removeItem(TOKEN_KEY)),
};

/**
 * The URL of a live stream. EventSource cannot send headers, so where reading
 * is closed (`auth.read: token`) the token rides in the request's query
 * (`access_token`, which the server accepts on GET), never in the page's URL.
 */
export function streamUrl(path) {
  const t = token.get();
  if (!t) return path;
  return `${path}${path.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(t)}`;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
  /** A refusal people can act on: which token is missing or not allowed. */
  get refused() {
    return this.status === 401 || this.status === 403;
  }
}

/** `?a=1&b=2` from an object, skipping empty values. */
export function query(params = {}) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

function headers(extra = {}) {
  const t = token.get();
  // Sent on reads too: a deployment may close reading (`auth.read: token`).
  return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
}

async function answer(res) {
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    throw new ApiError(
      res.status,
      body?.error ?? `http_${res.status}`,
      body?.message ?? (text.slice(0, 300) || res.statusText),
    );
  }
  return body;
}

export async function get(path, params, { signal } = {}) {
  const res = await fetch(`${path}${query(params)}`, { headers: headers(), signal });
  return answer(res);
}

const sorted = (q) => [...new URLSearchParams(q)].sort().join('&');
const early = window.autoctrlEarly ?? {};

/**
 * The overview page for `params`, taking the request index.html started
 * while the modules loaded when it asked for the same thing (once).
 */
export function overviewPage(params) {
  const e = early.overview;
  early.overview = null;
  if (e && sorted(e.query) === sorted(query(params).slice(1))) return e.response.then(answer);
  return get('/api/overview', params);
}

export async function post(path, body = {}) {
  const res = await fetch(path, {
    method: 'POST',
    headers: headers({ 'content-type': 'application/json' }),
    body: JSON.stringify(body),
  });
  return answer(res);
}

export async function del(path) {
  const res = await fetch(path, { method: 'DELETE', headers: headers() });
  return answer(res);
}

/** The log's text (plain text, not JSON). */
export async function getText(path, params) {
  const res = await fetch(`${path}${query(params)}`, { headers: headers() });
  if (!res.ok) throw new ApiError(res.status, `http_${res.status}`, await res.text());
  return res.text();
}

let tasksOnce = null;
/** `/api/tasks` changes only with the deployment file: fetched once per page load. */
export function tasks() {
  const started = early.tasks;
  early.tasks = null;
  tasksOnce ??= (started ? started.then(answer) : get('/api/tasks')).catch((err) => {
    tasksOnce = null;
    throw err;
  });
  return tasksOnce;
}
