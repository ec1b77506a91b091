// The API client: the token from localStorage on every call, refusals as exceptions that
// carry the server's {code, reason, details}, and the event stream with reconnection.

const TOKEN_KEY = 'xinyong.token';

export const token = {
  get: () => localStorage.getItem(TOKEN_KEY),
  set: (value) => localStorage.setItem(TOKEN_KEY, value),
  clear: () => localStorage.removeItem(TOKEN_KEY),
};

/** A refusal: `status`, `code` and `reason` as the server gave them. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.reason || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || 'network';
    this.details = body?.details;
  }
}

/** Calls the API: `api('/v1/notices')`, `api('/v1/orders', {method: 'POST', body: {...}})`. */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${token.get() || ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, { code: 'network', reason: String(error.message || error) });
  }
  const value = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, value);
  return value;
}

/** Event names the server sends (docs/service.md). */
export const EVENT_KINDS = [
  'incident_reported', 'notice', 'vote_tallied', 'expelled', 'order_settled', 'appeal_decided',
  'day_closed', 'pool_changed', 'promotion',
];

/**
 * Listens to /v1/events. `onEvent(kind, data)` for each event, `onEvent('ready')` on every
 * (re)connection (a reader catches up by re-reading, then counts as live); `onState('offline')`
 * when the connection drops.
 * EventSource retries by itself after a dropped connection; after a refusal (401, 429) it
 * gives up, so this opens a new one with a growing delay. Returns a function that stops it.
 */
export function listen(onEvent, onState) {
  let source = null;
  let timer = null;
  let delay = 1000;
  let stopped = false;
  const open = () => {
    if (stopped) return;
    source = new EventSource(`/v1/events?access_token=${encodeURIComponent(token.get() || '')}`);
    source.addEventListener('ready', () => {
      delay = 1000;
      onEvent('ready', {});
    });
    for (const kind of EVENT_KINDS) {
      source.addEventListener(kind, (event) => {
        let data = {};
        try { data = JSON.parse(event.data); } catch { /* an event without data is still news */ }
        onEvent(kind, data);
      });
    }
    source.onerror = () => {
      onState('offline');
      if (source.readyState === EventSource.CLOSED) {
        timer = setTimeout(open, delay);
        delay = Math.min(delay * 2, 30000);
      }
    };
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    source?.close();
  };
}
