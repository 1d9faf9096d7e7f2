/* apis.js - the APIs view (read only): every API with its vendor, its
 * operations and its policies (round robin, weighted round robin, failover,
 * AI rate limit), each target shown as model → endpoint name, and for a
 * round robin the operations it routes.
 *
 * Also each API's endpoints: name, environment, URL, and whether the
 * endpoint has upstream TLS settings (its own CA, a client certificate for
 * mutual TLS with the name of the secret holding its key).
 *
 * Loads GET /api/v1/apis, /vendors (for vendor names), and per API its
 * policies and endpoints (for endpoint names) in parallel. Endpoints carry
 * only secret names, never secret values (nor a TLS private key); the page
 * shows no secret value. Runs on the page's main thread.
 */
import { api, items, seg } from './api.js';
import { h, replace, loading, failed } from './dom.js';

const POLICY_TITLES = {
    modelRoundRobin: 'Model round robin',
    modelWeightedRoundRobin: 'Model weighted round robin',
    modelFailover: 'Model failover',
    aiRateLimit: 'AI rate limit',
};

function targetRow(t, endpointName, withWeight) {
    return h('li', {},
        h('code', {}, String(t.model ?? '?')),
        h('span', { class: 'arrow', 'aria-hidden': 'true' }, ' → '),
        h('span', { class: 'sr-only' }, ' at '),
        endpointName(t.endpoint),
        withWeight ? h('span', { class: 'weight' }, ' weight ' + t.weight) : null);
}

/* The environments a policy has targets in (empty ones are left out). */
function environments(p, render) {
    const used = env => Array.isArray(p[env]) ? p[env].length > 0 : Boolean(p[env] && p[env].target);
    return ['production', 'sandbox'].filter(used).map(env =>
        h('div', { class: 'env' }, h('h5', {}, env === 'production' ? 'Production' : 'Sandbox'), render(p[env])));
}

function policyFacts(p) {
    const facts = [];
    if (p.type === 'aiRateLimit') {
        facts.push('per ' + (p.unit || '?'), 'scope ' + (p.scope || 'api'));
        const limits = [['requests', 'requests'], ['requestTokens', 'request tokens'],
            ['responseTokens', 'response tokens'], ['totalTokens', 'total tokens']];
        for (const [k, label] of limits)
            if (p[k] !== undefined && p[k] !== null) facts.push(Number(p[k]).toLocaleString('en') + ' ' + label);
    } else {
        if (p.requestTimeoutMs !== undefined) facts.push('timeout ' + p.requestTimeoutMs + ' ms');
        if (p.suspendDurationSec !== undefined) facts.push('suspend ' + p.suspendDurationSec + ' s');
    }
    return facts;
}

/* What a round robin routes when it names no "operations" (SPEC 2.2). */
const DEFAULT_LB_OPERATIONS = ['/chat/completions', '/completions', '/responses'];

/* The operations a round robin routes; the others of the API go to the
 * first endpoint of the environment with the caller's model. */
function routedOperations(p) {
    const given = Array.isArray(p.operations) && p.operations.length > 0;
    const ops = given ? p.operations : DEFAULT_LB_OPERATIONS;
    return h('p', { class: 'policy-ops' }, 'Routes ',
        ops.map((o, i) => [i ? ', ' : '', h('code', {}, String(o))]),
        given ? '' : ' (the default)',
        '; other operations go to the first endpoint with the caller’s model.');
}

function policyItem(p, endpointName) {
    let body = null;
    if (p.type === 'modelRoundRobin' || p.type === 'modelWeightedRoundRobin') {
        const w = p.type === 'modelWeightedRoundRobin';
        body = [routedOperations(p), environments(p, list => h('ul', { class: 'targets' },
            (Array.isArray(list) ? list : []).map(t => targetRow(t, endpointName, w))))];
    } else if (p.type === 'modelFailover') {
        body = environments(p, e => h('ol', { class: 'targets' },
            e.target ? targetRow(e.target, endpointName, false) : null,
            (Array.isArray(e.fallbacks) ? e.fallbacks : []).map(t => targetRow(t, endpointName, false))));
    }
    return h('li', { class: 'policy' },
        h('div', { class: 'policy-head' },
            h('h4', {}, POLICY_TITLES[p.type] || String(p.type)),
            h('span', { class: 'meta' }, policyFacts(p).join(' · '))),
        body);
}

/* What an endpoint's "tls" says, in words: [] when it has none. */
function tlsFacts(tls) {
    if (!tls || typeof tls !== 'object') return [];
    const facts = [];
    if (tls.caCert) facts.push('own CA');
    if (tls.clientCert) {
        const k = tls.clientKey || {};
        facts.push('mutual TLS (key in secret ' + String(k.secret ?? '?') + ')');
    }
    return facts;
}

function endpointItem(e) {
    const tls = tlsFacts(e.tls);
    return h('li', { class: 'endpoint-item', 'data-endpoint': e.name },
        h('span', { class: 'endpoint' }, String(e.name ?? '?')),
        h('span', { class: 'meta' }, ' · ' + String(e.environment ?? '?') + ' · '),
        h('code', {}, String(e.url ?? '')),
        tls.length ? h('span', { class: 'badge tls', title: 'Upstream TLS settings' },
            'TLS: ' + tls.join(', ')) : null);
}

function apiCard(a, vendorName, policies, endpoints) {
    const byId = new Map(endpoints.map(e => [e.id, e]));
    const endpointName = id => {
        const e = byId.get(id);
        return e ? h('span', { class: 'endpoint', title: e.url || '' }, e.name) : h('code', {}, String(id ?? '?'));
    };
    const path = (a.basePath || '') + '/' + (a.version || '');
    const ops = Array.isArray(a.operations) ? a.operations : [];
    let policyList;
    if (policies === null) policyList = h('p', { class: 'msg', 'data-kind': 'error' }, 'Could not load the policies.');
    else if (!policies.length) policyList = h('p', { class: 'placeholder' }, 'No policies.');
    else policyList = h('ul', { class: 'policies' }, policies.map(p => policyItem(p, endpointName)));

    return h('article', { class: 'card api', 'data-api': a.name },
        h('header', { class: 'card-head' },
            h('h3', {}, a.name),
            h('span', { class: 'badge' }, 'v' + (a.version || '?')),
            a.defaultVersion ? h('span', { class: 'badge' }, 'default version') : null,
            a.subscriptionValidation ? h('span', { class: 'badge' }, 'subscriptions') : null),
        h('p', { class: 'meta' }, h('code', {}, path), ' · vendor ', vendorName(a.vendor)),
        ops.length ? h('p', { class: 'ops' }, ops.map(o =>
            h('span', { class: 'op' }, h('b', {}, o.verb), ' ', o.target))) : null,
        endpoints.length ? [h('h4', { class: 'section-label' }, 'Endpoints'),
            h('ul', { class: 'endpoints' }, endpoints.map(endpointItem))] : null,
        h('h4', { class: 'section-label' }, 'Policies'),
        policyList);
}

/* Fills body with the APIs view; resolves when loaded (or failed). */
export async function showApis(body) {
    replace(body, loading('APIs'));
    let apis;
    let vendors = [];
    try {
        const [a, v] = await Promise.all([api('GET', '/apis'), api('GET', '/vendors').catch(() => null)]);
        apis = items(a);
        vendors = items(v);
    } catch (err) {
        replace(body, failed('APIs', err));
        return;
    }
    const names = new Map(vendors.map(v => [v.id, v.name]));
    const vendorName = id => names.get(id) || String(id ?? '?');
    const details = await Promise.all(apis.map(a => Promise.all([
        api('GET', '/apis/' + seg(a.id) + '/policies').then(items).catch(() => null),
        api('GET', '/apis/' + seg(a.id) + '/endpoints').then(items).catch(() => []),
    ])));
    if (!apis.length) {
        replace(body, h('p', { class: 'placeholder' },
            'No APIs yet. Create one with the REST API or import an apk-conf file (POST /api/v1/apis/import).'));
        return;
    }
    replace(body, h('div', { class: 'cards' },
        apis.map((a, i) => apiCard(a, vendorName, details[i][0], details[i][1]))));
}
