/* api.js - the REST client of the web UI.
 *
 * Owns the admin token of this browser tab (sessionStorage, so it goes away
 * with the tab and is never written to disk by the page), sends it as
 * `Authorization: Bearer`, and turns every failure into an ApiError that
 * carries the HTTP status and the control plane's own message from its
 * {"error": {"code", "message"}} body, so the views show what the server
 * said. A 401 on a call made with the stored token calls the handler set
 * with onUnauthorized() (the app signs out). Runs on the page's main thread.
 */

const TOKEN_KEY = 'modelmux.adminToken';
const BASE = '/api/v1';

export class ApiError extends Error {
    /* status: HTTP status (0 when the server could not be reached);
     * code: the API's short error code; message: human text to show. */
    constructor(status, code, message) {
        super(message);
        this.name = 'ApiError';
        this.status = status;
        this.code = code;
    }
}

export function getToken() {
    try {
        return sessionStorage.getItem(TOKEN_KEY);
    } catch {
        return null;
    }
}

export function setToken(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
    try {
        sessionStorage.removeItem(TOKEN_KEY);
    } catch {
        /* storage disabled: nothing was stored */
    }
}

/* A token goes into an HTTP header: only visible ASCII, no spaces. Returns
 * an error message, or null when the token can be sent. */
export function checkTokenShape(token) {
    if (!token) return 'Enter the admin token.';
    if (token.length > 4096) return 'That token is too long to be an admin token.';
    if (!/^[\x21-\x7e]+$/.test(token)) return 'An admin token has no spaces and only plain ASCII characters.';
    return null;
}

let unauthorizedHandler = null;

/* fn(err) runs when a call made with the stored token answers 401. */
export function onUnauthorized(fn) {
    unauthorizedHandler = fn;
}

function messageFor(status, statusText) {
    switch (status) {
    case 401: return 'The admin token was not accepted.';
    case 404: return 'Not found: it may have been deleted in the meantime.';
    case 413: return 'The request is too large for the control plane.';
    default: return ('The control plane answered ' + status + ' ' + (statusText || '')).trim() + '.';
    }
}

/* Calls /api/v1 + path. body (optional) is sent as JSON. token defaults to
 * the stored one. Resolves to the decoded JSON answer (null for 204);
 * rejects with an ApiError. */
export async function api(method, path, body, token = getToken()) {
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
    if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
    }
    let res;
    try {
        res = await fetch(BASE + path, init);
    } catch {
        throw new ApiError(0, 'network', 'Cannot reach the control plane. Is modelmux-cp running?');
    }
    const text = await res.text().catch(() => '');
    let data = null;
    if (text) {
        try {
            data = JSON.parse(text);
        } catch {
            data = null;
        }
    }
    if (!res.ok) {
        const e = (data && typeof data.error === 'object' && data.error) || {};
        const message = typeof e.message === 'string' && e.message.trim()
            ? e.message.trim() : messageFor(res.status, res.statusText);
        const code = typeof e.code === 'string' ? e.code : 'http_' + res.status;
        const err = new ApiError(res.status, code, message);
        if (res.status === 401 && unauthorizedHandler && token && token === getToken())
            unauthorizedHandler(err);
        throw err;
    }
    if (res.status === 204 || !text) return null;
    if (data === null)
        throw new ApiError(res.status, 'bad_response', 'The control plane sent an answer that is not JSON.');
    return data;
}

/* The items of a collection answer {"items": [...]}, or [] when absent. */
export function items(data) {
    return data && Array.isArray(data.items) ? data.items : [];
}

export const seg = encodeURIComponent;
