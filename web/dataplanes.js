/* dataplanes.js - the Data planes view (read only): the control plane's
 * current config revision, and for each data plane that has polled it the
 * revision it has applied, whether that is the current one, its status and
 * when it was last seen (GET /api/v1/revision and /api/v1/dataplanes).
 * Runs on the page's main thread.
 */
import { api, items } from './api.js';
import { h, replace, loading, failed } from './dom.js';

function when(lastSeen) {
    if (lastSeen === undefined || lastSeen === null || lastSeen === '') return '—';
    const d = new Date(typeof lastSeen === 'number' && lastSeen < 1e12 ? lastSeen * 1000 : lastSeen);
    if (Number.isNaN(d.getTime())) return String(lastSeen);
    const s = Math.round((Date.now() - d.getTime()) / 1000);
    const ago = s < 5 ? 'just now' : s < 120 ? s + ' s ago' : s < 7200 ? Math.round(s / 60) + ' min ago'
        : Math.round(s / 3600) + ' h ago';
    return h('time', { datetime: d.toISOString(), title: d.toISOString() }, ago);
}

function freshness(applied, current) {
    if (typeof applied !== 'number') return h('span', { class: 'badge warn' }, 'No revision yet');
    if (applied === current) return h('span', { class: 'badge ok' }, 'Current');
    if (applied < current) return h('span', { class: 'badge warn' }, 'Behind by ' + (current - applied));
    return h('span', { class: 'badge warn' }, 'Ahead of control plane');
}

/* Fills body with the data-planes view; resolves when loaded (or failed). */
export async function showDataplanes(body) {
    replace(body, loading('data planes'));
    let current;
    let planes;
    try {
        const [r, d] = await Promise.all([api('GET', '/revision'), api('GET', '/dataplanes')]);
        current = r && r.revision;
        planes = items(d);
    } catch (err) {
        replace(body, failed('data planes', err));
        return;
    }
    const summary = h('p', { class: 'revision' }, 'Current config revision ',
        h('strong', { id: 'current-revision' }, String(current ?? '?')));
    if (!planes.length) {
        replace(body, summary, h('p', { class: 'placeholder' },
            'No data plane has connected yet. Start one with modelmux-dp --cp <this URL>.'));
        return;
    }
    const rows = planes.map(p => h('tr', { 'data-dataplane': p.id },
        h('th', { scope: 'row', 'data-label': 'Data plane' }, String(p.id)),
        h('td', { 'data-label': 'Applied revision' }, String(p.revision ?? '—')),
        h('td', { 'data-label': 'Up to date' }, freshness(p.revision, current)),
        h('td', { 'data-label': 'Status' }, String(p.status ?? '—')),
        h('td', { 'data-label': 'Last seen' }, when(p.lastSeen))));
    replace(body, summary, h('table', { class: 'table' },
        h('caption', { class: 'sr-only' }, 'Data planes and the revision each has applied'),
        h('thead', {}, h('tr', {},
            ['Data plane', 'Applied revision', 'Up to date', 'Status', 'Last seen'].map(t =>
                h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows)));
}
