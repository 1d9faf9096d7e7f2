/* dom.js - builds DOM nodes for the views.
 *
 * Every text the control plane sends (vendor, model, API names) goes in as a
 * text node, never as HTML, so a hostile name cannot inject markup or
 * script. Owns nothing; runs on the page's main thread.
 */

/* h('button', {class: 'x', type: 'button', onclick: fn}, 'text', child...)
 * Attributes whose value is null, undefined or false are left out; true
 * sets an empty attribute; keys starting with "on" add event listeners.
 * Children may be nodes, strings, numbers, arrays of those, or null. */
export function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === null || v === undefined || v === false) continue;
        if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k === 'class') el.className = v;
        else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const c of children) {
        if (c === null || c === undefined || c === false) continue;
        if (Array.isArray(c)) append(el, c);
        else if (c instanceof Node) el.appendChild(c);
        else el.appendChild(document.createTextNode(String(c)));
    }
}

/* Replaces all children of el. */
export function replace(el, ...children) {
    el.replaceChildren();
    append(el, children);
}

let seq = 0;

/* A fresh id for label/aria wiring (server ids are not used in the DOM). */
export function uid(prefix) {
    seq += 1;
    return prefix + '-' + seq;
}

/* Shows text in a message element; kind is 'ok', 'error' or 'info'. */
export function say(el, kind, text) {
    el.dataset.kind = kind;
    el.textContent = text;
    el.hidden = !text;
}

/* A "loading" / "failed" placeholder for a view body. */
export function loading(what) {
    return h('p', { class: 'placeholder', role: 'status' }, 'Loading ' + what + '…');
}

export function failed(what, err) {
    return h('p', { class: 'msg', 'data-kind': 'error', role: 'alert' },
        'Could not load ' + what + ': ' + err.message);
}
