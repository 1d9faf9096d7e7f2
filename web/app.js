/* app.js - entry point of the modelmux web UI (served by modelmux-cp at /ui/).
 *
 * Owns the page shell: sign in / sign out, the section navigation (hash
 * routes #/vendors, #/apis, #/dataplanes) and which view fills the main
 * area. The views live in vendors.js (model-list chips, add a vendor),
 * apis.js and dataplanes.js (read only); api.js is the REST client that
 * holds the admin token; dom.js builds nodes (text only, never HTML from
 * the server); models.js has the page's model-name rules. Plain ES modules,
 * no build step, nothing fetched but these files and /api/v1. The page
 * never asks for a secret's value. Runs on the page's main thread.
 */
import { api, getToken, setToken, clearToken, checkTokenShape, onUnauthorized } from './api.js';
import { say } from './dom.js';
import { showVendors } from './vendors.js';
import { showApis } from './apis.js';
import { showDataplanes } from './dataplanes.js';

const VIEWS = {
    vendors: {
        title: 'Vendors',
        intro: 'The AI/LLM vendors and the models each offers. Policies may only name models from these lists.',
        show: showVendors,
    },
    apis: {
        title: 'APIs',
        intro: 'Read only: each API, its vendor and its routing and rate-limit policies.',
        show: showApis,
    },
    dataplanes: {
        title: 'Data planes',
        intro: 'Read only: the config revision each data plane has applied.',
        show: showDataplanes,
    },
};

const $ = id => document.getElementById(id);
const ui = {
    nav: $('nav'),
    signOut: $('sign-out'),
    signIn: $('sign-in'),
    form: $('sign-in-form'),
    token: $('token'),
    msg: $('sign-in-msg'),
    view: $('view'),
    title: $('view-title'),
    intro: $('view-intro'),
    body: $('view-body'),
    refresh: $('refresh'),
};

let signedIn = false;
let loadSeq = 0;

function viewName() {
    const m = /^#\/([a-z]+)/.exec(location.hash);
    return m && Object.hasOwn(VIEWS, m[1]) ? m[1] : 'vendors';
}

/* Shows the view named by the URL. Each load renders into its own
 * container, so an answer that arrives after the user moved on lands in a
 * detached node instead of the view now shown. */
async function render(moveFocus) {
    const name = viewName();
    const v = VIEWS[name];
    for (const a of ui.nav.querySelectorAll('a')) {
        if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
    }
    ui.title.textContent = v.title;
    ui.intro.textContent = v.intro;
    document.title = v.title + ' · modelmux';
    if (moveFocus) ui.title.focus();
    const seq = ++loadSeq;
    const box = document.createElement('div');
    ui.body.replaceChildren(box);
    ui.body.setAttribute('aria-busy', 'true');
    await v.show(box);
    if (seq === loadSeq) ui.body.removeAttribute('aria-busy');
}

function showApp() {
    signedIn = true;
    ui.signIn.hidden = true;
    ui.view.hidden = false;
    ui.nav.hidden = false;
    ui.signOut.hidden = false;
    if (!location.hash.startsWith('#/')) history.replaceState(null, '', '#/vendors');
    render(true);
}

/* Forgets the token and everything shown, back to the sign-in form. */
function signOut(kind, text) {
    clearToken();
    signedIn = false;
    loadSeq += 1;
    ui.body.replaceChildren();
    ui.view.hidden = true;
    ui.nav.hidden = true;
    ui.signOut.hidden = true;
    ui.signIn.hidden = false;
    say(ui.msg, kind, text || '');
    document.title = 'Sign in · modelmux';
    ui.token.focus();
}

async function signIn(e) {
    e.preventDefault();
    const token = ui.token.value.trim();
    const bad = checkTokenShape(token);
    ui.token.removeAttribute('aria-invalid');
    if (bad) {
        ui.token.setAttribute('aria-invalid', 'true');
        say(ui.msg, 'error', bad);
        ui.token.focus();
        return;
    }
    say(ui.msg, 'info', 'Checking the token…');
    try {
        await api('GET', '/revision', undefined, token);
    } catch (err) {
        ui.token.setAttribute('aria-invalid', 'true');
        say(ui.msg, 'error', err.status === 401
            ? 'Wrong admin token: the control plane refused it (401). Check the token and try again.'
            : 'Could not sign in: ' + err.message);
        ui.token.select();
        return;
    }
    setToken(token);
    ui.token.value = '';
    say(ui.msg, 'info', '');
    showApp();
}

onUnauthorized(() => {
    if (signedIn) signOut('error', 'The control plane no longer accepts your admin token (401). Sign in again.');
});

ui.form.addEventListener('submit', signIn);
ui.signOut.addEventListener('click', () => signOut('ok', 'Signed out.'));
ui.refresh.addEventListener('click', () => render(false));
window.addEventListener('hashchange', () => {
    if (signedIn && location.hash.startsWith('#/')) render(true);
});
$('skip-link').addEventListener('click', e => {
    e.preventDefault();
    (signedIn ? ui.title : ui.token).focus();
});

if (getToken()) showApp();
else signOut('info', '');
