// Calls to Silta's HTTP API with the signed-in token. The token lives in sessionStorage: it is
// gone when the tab closes, and it is never put in a URL.

const TOKEN_KEY = 'silta.token';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  token: sessionStorage.getItem(TOKEN_KEY),
  /** `{name, role, permissions}` from `GET /v1/session`, once signed in. */
  info: null,
};

/** Listeners told when the token stops working (revoked, rotated, signed out). */
const signedOutListeners = [];
export function onSignedOut(listener) {
  signedOutListeners.push(listener);
}

export async function signIn(token) {
  session.token = token;
  try {
    session.info = await api('GET', '/v1/session');
  } catch (error) {
    session.token = null;
    throw error;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  return session.info;
}

export function signOut() {
  session.token = null;
  session.info = null;
  sessionStorage.removeItem(TOKEN_KEY);
  for (const listener of signedOutListeners) listener();
}

export function can(permission) {
  return Boolean(session.info && session.info.permissions.includes(permission));
}

/** Query string from an object, leaving out empty values. */
export function query(parameters) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/**
 * One API call. `body` is sent as JSON unless it is a string (sent as text, e.g. a CSV). Answers
 * are parsed as JSON when they are JSON; errors become `ApiError` with the server's message.
 */
export async function api(method, path, body) {
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = typeof body === 'string' ? 'text/plain' : 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload });
  const type = response.headers.get('content-type') || '';
  const answer = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) {
    const error = answer && answer.error ? answer.error : { code: 'http', message: String(answer) };
    if (response.status === 401 && path !== '/v1/session') signOut();
    throw new ApiError(response.status, error.code, error.message || `HTTP ${response.status}`);
  }
  return answer;
}

/** Source names by id, for showing ids as names; empty for roles that may not list sources. */
export async function sourceNames() {
  if (!can('administer')) return new Map();
  const sources = await api('GET', '/v1/sources');
  return new Map(sources.map((source) => [source.id, source.name]));
}
