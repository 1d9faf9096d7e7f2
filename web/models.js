/* models.js - the rules the page applies to a model name before it becomes a
 * chip. Only what the page can judge alone: empty names and duplicates. The
 * control plane has the last word on everything else (length, characters)
 * and the page shows its message when it refuses the list. Pure functions,
 * no DOM, so node can test them as they are.
 */

/* The name as the user meant it: surrounding white space dropped. */
export function normalizeModelName(raw) {
    return String(raw ?? '').trim();
}

/* Returns null when name can join list, else the message to show. */
export function checkNewModel(name, list) {
    if (!name) return 'Type a model name, then press Enter.';
    if (list.includes(name)) return '“' + name + '” is already in the list.';
    return null;
}
