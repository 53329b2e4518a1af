// The JSON admin API (docs/admin-api.md), as the console calls it: every write carries the
// session's CSRF token in X-CSRF-Token; X-Requested-With asks the API not to answer a 401
// with a browser password dialog, so that the console shows its own login form.

let csrfToken = null;
let onUnauthorized = () => {};

export function setCsrfToken(token) {
  csrfToken = token;
}

export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.error = body && body.error;
    this.errorCode = body && body.error_code;
  }
}

export async function api(method, path, body, { signal } = {}) {
  const headers = { 'Accept': 'application/json', 'X-Requested-With': 'sluice-console' };
  if (method !== 'GET') {
    // Without a session (a cluster without SASL) any non-empty token will do.
    headers['X-CSRF-Token'] = csrfToken || 'sluice-console';
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch('/api/v1' + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    signal,
  });
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && path !== '/session') onUnauthorized(error);
    throw error;
  }
  return data;
}

export const get = (path, options) => api('GET', path, undefined, options);
export const post = (path, body) => api('POST', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path, body) => api('DELETE', path, body);

/// `?a=1&b=2` of the parameters that are set.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

export const enc = encodeURIComponent;
