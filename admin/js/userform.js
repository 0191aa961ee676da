// The user form shared by "Create user" and "Edit user"; maps the API's 400 field errors.
import {h, field} from './dom.js';

const FIELDS = [
  ['uuid', 'UUID', 'text'],
  ['firstName', 'First name', 'text'],
  ['lastName', 'Last name', 'text'],
  ['displayName', 'Display name', 'text'],
  ['email', 'Email', 'email'],
  ['pictureUrl', 'Picture URL', 'url'],
  ['tags', 'Tags', 'text'],
];

export function userForm(user = {}, {withUuid = false} = {}) {
  const fields = {};
  const grid = h('div', {class: 'form-grid'});
  for (const [key, label, type] of FIELDS) {
    if (key === 'uuid' && !withUuid) continue;
    let value = user[key];
    if (key === 'tags') value = Array.isArray(value) ? value.join(', ') : (value || '');
    const input = h('input', {class: 'input', type: type === 'email' || type === 'url' ? 'text' : type, name: key, value: value ?? '',
      inputmode: type === 'email' ? 'email' : (type === 'url' ? 'url' : undefined), autocomplete: 'off', spellcheck: 'false',
      required: key === 'uuid' ? true : undefined, maxlength: key === 'uuid' ? '128' : undefined});
    const f = field(label, input, {hint: key === 'tags' ? 'Comma separated' : undefined});
    if (['pictureUrl', 'tags', 'uuid', 'email'].includes(key)) f.wrap.classList.add('span-2');
    fields[key] = f;
    grid.append(f.wrap);
  }
  const original = {...user};

  /** The body: every field for create; only changed fields for edit. */
  function values({changedOnly = false} = {}) {
    const out = {};
    for (const [key, f] of Object.entries(fields)) {
      let v = f.input.value.trim();
      if (key === 'tags') {
        v = v.split(',').map((t) => t.trim()).filter(Boolean);
        const before = Array.isArray(original.tags) ? original.tags : [];
        if (changedOnly && JSON.stringify(v) === JSON.stringify(before)) continue;
        if (!changedOnly && !v.length) continue;
      } else {
        if (changedOnly && v === (original[key] ?? '')) continue;
        if (!changedOnly && v === '') continue;
      }
      out[key] = v;
    }
    return out;
  }

  function clearErrors() {
    Object.values(fields).forEach((f) => f.setError(''));
  }

  /** Show each 400 detail next to its field; returns the details no field claimed. */
  function showErrors(error) {
    clearErrors();
    const rest = [];
    let first = null;
    for (const d of (error && error.details) || []) {
      const segments = String(d.field || '').split('.');
      const key = segments.find((s) => s in fields);
      if (key) {
        const f = fields[key];
        const prev = f.error.hidden ? '' : `${f.error.textContent} `;
        f.setError(prev + d.message);
        first = first || f.input;
      } else {
        rest.push(d);
      }
    }
    if (first) first.focus();
    return rest;
  }

  return {el: grid, fields, values, showErrors, clearErrors};
}
