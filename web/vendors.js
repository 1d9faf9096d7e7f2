/* vendors.js - the Vendors view: every vendor with its model list as
 * removable chips, and the form that adds a vendor.
 *
 * Each vendor card owns two copies of its model list: `saved` (what the
 * control plane last confirmed) and `draft` (what the chips show). Enter in
 * the card's input adds a chip to the draft, a chip's × button removes one,
 * Update replaces the vendor's list with the draft through
 * PUT /api/v1/vendors/{id}/models, Discard goes back to `saved`. Nothing is
 * sent until Update. Runs on the page's main thread.
 */
import { api, items, seg } from './api.js';
import { h, replace, uid, say, loading, failed } from './dom.js';
import { normalizeModelName, checkNewModel } from './models.js';

function modelsOf(vendor) {
    return Array.isArray(vendor.models) ? vendor.models.filter(m => typeof m === 'string') : [];
}

function sameList(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
}

function plural(n, one, many) {
    return n + ' ' + (n === 1 ? one : many);
}

/* One line about how the vendor's requests are read and authenticated. */
function vendorSummary(v) {
    const parts = [];
    if (v.apiVersion) parts.push('API ' + v.apiVersion);
    const rm = v.requestModel || {};
    if (rm.in === 'path') parts.push('model in the URL path');
    else if (rm.field) parts.push('model in body field “' + rm.field + '”');
    const auth = v.auth || {};
    if (auth.header) {
        const prefix = (auth.prefix || '').trim();
        parts.push('key in ' + auth.header + (prefix ? ' (' + prefix + ' …)' : ''));
    }
    return parts.join(' · ');
}

/* The card of one vendor with its chip editor. */
function vendorCard(v) {
    const st = { saved: modelsOf(v), draft: modelsOf(v), busy: false };
    const nameId = uid('vendor-name');
    const inputId = uid('model-input');
    const hintId = uid('model-hint');
    const msgId = uid('model-msg');

    const count = h('span', { class: 'count' });
    const chips = h('ul', { class: 'chips', 'aria-label': 'Models of ' + v.name });
    const empty = h('li', { class: 'chips-empty' }, 'No models yet');
    const input = h('input', {
        id: inputId, type: 'text', class: 'chip-input', autocomplete: 'off', autocapitalize: 'off',
        spellcheck: 'false', enterkeyhint: 'enter', placeholder: 'Model name',
        'aria-describedby': hintId + ' ' + msgId,
    });
    const msg = h('p', { id: msgId, class: 'msg', 'aria-live': 'polite', hidden: true });
    const dirty = h('span', { class: 'dirty', hidden: true }, 'Unsaved changes');
    const update = h('button', { type: 'button', class: 'btn primary' }, 'Update');
    const discard = h('button', { type: 'button', class: 'btn', disabled: true }, 'Discard changes');

    const card = h('article', { class: 'card vendor', 'aria-labelledby': nameId, 'data-vendor': v.name },
        h('header', { class: 'card-head' },
            h('h3', { id: nameId }, v.name),
            v.builtin ? h('span', { class: 'badge' }, 'Built in') : null,
            count),
        h('p', { class: 'meta' }, vendorSummary(v)),
        h('label', { for: inputId, class: 'field-label' },
            'Add a model', h('span', { class: 'sr-only' }, ' to ' + v.name)),
        h('div', { class: 'chip-field', onclick: e => { if (e.target === e.currentTarget) input.focus(); } },
            chips, input),
        h('p', { id: hintId, class: 'hint' }, 'Enter adds the name as a chip; × removes one. Update saves the list.'),
        msg,
        h('div', { class: 'card-actions' }, update, discard, dirty));

    function markDirty() {
        const d = !sameList(st.draft, st.saved);
        dirty.hidden = !d;
        discard.disabled = !d;
        card.classList.toggle('is-dirty', d);
        count.textContent = plural(st.draft.length, 'model', 'models');
    }

    function renderChips() {
        replace(chips, st.draft.length ? st.draft.map((m, i) =>
            h('li', { class: 'chip' },
                h('span', { class: 'chip-label', title: m }, m),
                h('button', { type: 'button', class: 'chip-remove', 'aria-label': 'Remove ' + m,
                    title: 'Remove ' + m, onclick: () => remove(i) }, '×'))) : empty);
        markDirty();
    }

    /* Adds the input's text as a chip. Returns false (and says why) when
     * the page refuses it. */
    function addFromInput() {
        const name = normalizeModelName(input.value);
        const err = checkNewModel(name, st.draft);
        if (err) {
            input.setAttribute('aria-invalid', 'true');
            say(msg, 'error', err);
            return false;
        }
        st.draft.push(name);
        input.value = '';
        renderChips();
        say(msg, 'info', 'Added “' + name + '”. Press Update to save.');
        return true;
    }

    function remove(i) {
        const [m] = st.draft.splice(i, 1);
        renderChips();
        /* Keep keyboard users where they were: on the chip that took this
         * one's place, or on the input that follows the last chip. */
        const buttons = chips.querySelectorAll('button.chip-remove');
        (buttons[i] || input).focus();
        say(msg, 'info', 'Removed “' + m + '”. Press Update to save.');
    }

    async function save() {
        if (st.busy) return;
        /* A name typed but not yet entered is meant to be part of the list;
         * one the page refuses (a duplicate) stops the save, and says so. */
        const typed = normalizeModelName(input.value);
        if (typed) {
            const err = checkNewModel(typed, st.draft);
            if (err) {
                input.setAttribute('aria-invalid', 'true');
                say(msg, 'error', 'Not saved: ' + err + ' Clear the box or change the name, then press Update.');
                input.focus();
                return;
            }
            addFromInput();
        }
        st.busy = true;
        update.setAttribute('aria-disabled', 'true');
        card.setAttribute('aria-busy', 'true');
        say(msg, 'info', 'Saving…');
        try {
            const r = await api('PUT', '/vendors/' + seg(v.id) + '/models', { items: st.draft });
            const saved = Array.isArray(r && r.items) ? r.items
                : Array.isArray(r && r.models) ? r.models : st.draft.slice();
            st.saved = saved.slice();
            st.draft = saved.slice();
            renderChips();
            say(msg, 'ok', 'Saved. ' + v.name + ' has ' + plural(saved.length, 'model', 'models') + '.');
        } catch (err) {
            say(msg, 'error', 'Not saved: ' + err.message);
        } finally {
            st.busy = false;
            update.removeAttribute('aria-disabled');
            card.removeAttribute('aria-busy');
        }
    }

    input.addEventListener('keydown', e => {
        if (e.key !== 'Enter' || e.isComposing) return;
        e.preventDefault();
        addFromInput();
    });
    input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
    update.addEventListener('click', save);
    discard.addEventListener('click', () => {
        st.draft = st.saved.slice();
        renderChips();
        say(msg, 'info', 'Changes discarded.');
        input.focus();
    });

    renderChips();
    return card;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/* The new vendor as the API wants it: OpenAI-like reading of requests,
 * responses and token usage, with the given auth header and prefix. */
function newVendorBody(name, header, prefix) {
    return {
        name,
        apiVersion: 'v1',
        description: '',
        models: [],
        requestModel: { in: 'body', field: 'model' },
        responseModel: { in: 'body', field: 'model' },
        usage: {
            promptTokens: 'usage.prompt_tokens',
            completionTokens: 'usage.completion_tokens',
            totalTokens: 'usage.total_tokens',
        },
        auth: { header, prefix },
    };
}

function field(label, input, hint) {
    const id = uid('field');
    input.id = id;
    let hintEl = null;
    if (hint) {
        hintEl = h('p', { id: id + '-hint', class: 'hint' }, hint);
        input.setAttribute('aria-describedby', hintEl.id);
    }
    return h('div', { class: 'field' }, h('label', { for: id }, label), input, hintEl);
}

/* The "Add a vendor" form; a created vendor's card is appended to list. */
function addVendorForm(list, onAdded) {
    const headId = uid('add-vendor');
    const name = h('input', { type: 'text', name: 'name', autocomplete: 'off', spellcheck: 'false' });
    const header = h('input', { type: 'text', name: 'header', value: 'Authorization', autocomplete: 'off',
        spellcheck: 'false' });
    const prefix = h('input', { type: 'text', name: 'prefix', value: 'Bearer ', autocomplete: 'off',
        spellcheck: 'false' });
    const msg = h('p', { class: 'msg', 'aria-live': 'polite', hidden: true });
    const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Add vendor');
    let busy = false;

    const form = h('form', { novalidate: true, class: 'form-grid' },
        field('Name', name),
        field('Auth header', header, 'The request header that carries the vendor’s API key.'),
        field(h('span', {}, 'Key prefix ', h('span', { class: 'optional' }, '(optional)')), prefix,
            'Sent before the key, trailing space included. Empty for none.'),
        h('div', { class: 'form-actions' }, submit),
        msg);

    form.addEventListener('submit', async e => {
        e.preventDefault();
        if (busy) return;
        const n = name.value.trim();
        const hd = header.value.trim();
        name.removeAttribute('aria-invalid');
        header.removeAttribute('aria-invalid');
        if (!n) {
            name.setAttribute('aria-invalid', 'true');
            say(msg, 'error', 'Give the vendor a name.');
            name.focus();
            return;
        }
        if (!HEADER_NAME.test(hd)) {
            header.setAttribute('aria-invalid', 'true');
            say(msg, 'error', hd ? '“' + hd + '” is not a valid HTTP header name.'
                : 'Give the header that carries the API key (for example Authorization).');
            header.focus();
            return;
        }
        busy = true;
        submit.setAttribute('aria-disabled', 'true');
        say(msg, 'info', 'Adding…');
        try {
            const created = await api('POST', '/vendors', newVendorBody(n, hd, prefix.value));
            list.appendChild(vendorCard(created && created.name ? created : newVendorBody(n, hd, prefix.value)));
            onAdded();
            form.reset();
            say(msg, 'ok', 'Added vendor ' + n + '. Its model list is above.');
        } catch (err) {
            say(msg, 'error', 'Not added: ' + err.message);
        } finally {
            busy = false;
            submit.removeAttribute('aria-disabled');
        }
    });

    return h('section', { class: 'card add-vendor', 'aria-labelledby': headId },
        h('h3', { id: headId }, 'Add a vendor'),
        h('p', { class: 'meta' }, 'Requests, responses and token usage are read the OpenAI way ' +
            '(model in the body, usage.prompt_tokens …). Add its models after.'),
        form);
}

/* Fills body with the vendors view; resolves when loaded (or failed). */
export async function showVendors(body) {
    replace(body, loading('vendors'));
    let vendors;
    try {
        vendors = items(await api('GET', '/vendors'));
    } catch (err) {
        replace(body, failed('vendors', err));
        return;
    }
    const list = h('div', { class: 'cards', id: 'vendor-list' });
    const none = h('p', { class: 'placeholder' }, 'No vendors yet. Add one below.');
    for (const v of vendors) list.appendChild(vendorCard(v));
    const sync = () => { none.hidden = list.children.length > 0; };
    sync();
    replace(body, list, none, addVendorForm(list, sync));
}
