// The widgets of the mechanic forms: each field of a mechanic's JSON body as a labelled input,
// and the nested shapes api.md gives them (groups, repeatable rows, one-of choices, the
// and/or condition builder). A widget is {el, get(), claim(parts, message)}:
//   get()   the field's JSON value; null means "leave it out of the body";
//   claim() shows an API 400 detail whose dotted field path continues below this widget
//           (`parts` is what is left of the path) and says whether it found a place for it.
// Specs are plain objects: {key, label, type, hint, default, options | source, ...}; `key` may
// be dotted ("limits.overall") and is relative to the widget that holds it.
import {h, field, replace, uid} from './dom.js';

export function getPath(obj, key) {
  return key.split('.').reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
}

function setPath(obj, key, value) {
  const parts = key.split('.');
  let at = obj;
  for (const part of parts.slice(0, -1)) at = (at[part] ??= {});
  at[parts[parts.length - 1]] = value;
}

const isEmpty = (v) => v === null || v === undefined || (Array.isArray(v) && !v.length);

/** A message below a container (a fieldset, a check box row), added once per claim. */
function noteError(container, message) {
  const p = h('p', {class: 'field-error', role: 'alert'}, message);
  container.append(p);
  return true;
}

export function clearErrors(root) {
  root.querySelectorAll('.field-error').forEach((p) => {
    if (p.id) { p.hidden = true; p.textContent = ''; } else p.remove();
  });
  root.querySelectorAll('[aria-invalid=true]').forEach((el) => el.removeAttribute('aria-invalid'));
}

// ------------------------------------------------------------------ scalars

/** "1 to 64 ..." hints and the select options of `source` come from ctx: {editable, creating,
 *  options(source) -> [[value, label]]}. */
function selectInput(spec, value, ctx) {
  const options = spec.source ? ctx.options(spec.source) : spec.options;
  const known = options.some(([v]) => v === value);
  return h('select', {class: 'input', name: spec.key},
    spec.blank !== undefined ? h('option', {value: '', selected: value === null || value === undefined}, spec.blank) : null,
    options.map(([v, label]) => h('option', {value: v, selected: v === value}, label)),
    // A reference to something no longer on the site stays visible (and is the API's to refuse).
    value && !known ? h('option', {value, selected: true}, `${value} (not on this site)`) : null);
}

const TEXT_TYPES = {text: 'text', id: 'text', int: 'number', date: 'date', tags: 'text'};

function scalar(spec, value, ctx) {
  let input;
  if (spec.type === 'select') {
    input = selectInput(spec, value, ctx);
  } else if (spec.type === 'textarea' || spec.type === 'lines') {
    const text = spec.type === 'lines' ? (value || []).join('\n') : (value ?? '');
    input = h('textarea', {class: 'input', name: spec.key, rows: spec.type === 'lines' ? 4 : 2, spellcheck: 'false'});
    input.value = text;
  } else {
    const text = spec.type === 'tags' ? (value || []).join(', ') : (value ?? '');
    input = h('input', {class: `input${spec.type === 'id' ? ' mono' : ''}`, name: spec.key, type: TEXT_TYPES[spec.type],
      autocomplete: 'off', spellcheck: 'false', value: text, inputmode: spec.type === 'int' ? 'numeric' : null,
      min: spec.type === 'int' ? '0' : null, step: spec.type === 'int' ? '1' : null});
  }
  input.disabled = !ctx.editable || (spec.type === 'id' && !ctx.creating);
  const empty = spec.source && !ctx.options(spec.source).length ? spec.none : null;
  const f = field(spec.label, input, {hint: [spec.hint, empty].filter(Boolean).join(' ') || undefined});
  if (spec.wide) f.wrap.classList.add('span-2');
  const get = () => {
    const raw = input.value.trim();
    switch (spec.type) {
      case 'int': return raw === '' ? null : Number(raw);
      case 'date': case 'select': return raw === '' ? null : raw;
      case 'tags': return raw.split(',').map((t) => t.trim()).filter(Boolean);
      case 'lines': { const lines = raw.split('\n').map((t) => t.trim()).filter(Boolean); return lines.length ? lines : null; }
      default: return raw;
    }
  };
  const claim = (parts, message) => {
    // "codes.3: ..." and "addTags.1: ..." name one entry of a list field: say which.
    const entry = parts.length && /^\d+$/.test(parts[0]) ? `${spec.type === 'lines' ? 'Line' : 'Entry'} ${Number(parts[0]) + 1}: ` : '';
    const before = f.error.hidden ? '' : `${f.error.textContent} `;
    f.setError(before + entry + message);
    return true;
  };
  return {el: f.wrap, input, get, claim};
}

function checkbox(spec, value, ctx) {
  const input = h('input', {type: 'checkbox', name: spec.key, id: uid('chk'), checked: Boolean(value ?? spec.default),
    disabled: !ctx.editable});
  const el = h('div', {class: 'check-row'}, input, h('label', {for: input.id}, spec.label),
    spec.hint ? h('span', {class: 'muted small'}, spec.hint) : null);
  return {el, input, get: () => input.checked, claim: (parts, message) => noteError(el, message)};
}

/** A set of values picked from fixed options (leaderboard periods, a reward's coupons). */
function checks(spec, value, ctx) {
  const chosen = new Set(value ?? spec.default ?? []);
  const options = spec.source ? ctx.options(spec.source) : spec.options;
  const boxes = options.map(([v, label]) => {
    const input = h('input', {type: 'checkbox', id: uid('chk'), value: v, checked: chosen.has(v), disabled: !ctx.editable});
    return {v, input, el: h('div', {class: 'check-row'}, input, h('label', {for: input.id}, label))};
  });
  const el = h('fieldset', {class: 'field-set'}, h('legend', {}, spec.label), boxes.map((b) => b.el),
    !options.length && spec.none ? h('p', {class: 'field-hint'}, spec.none) : null,
    spec.hint ? h('p', {class: 'field-hint'}, spec.hint) : null);
  return {el, get: () => boxes.filter((b) => b.input.checked).map((b) => b.v), claim: (parts, message) => noteError(el, message)};
}

// ------------------------------------------------------------------ containers

/** Several fields over one object: what a group, a row and the whole form are made of.
 *  `shown(spec)` decides which fields count (a reward's criteria depend on its kind). */
export function fieldList(specs, value, ctx, shown = () => true) {
  const children = specs.map((spec) => ({spec, parts: spec.key.split('.'), w: build(spec, getPath(value, spec.key), ctx)}));
  const get = () => {
    const out = {};
    for (const {spec, w} of children) {
      if (!shown(spec)) continue;
      const v = w.get();
      if (v !== null && v !== undefined) setPath(out, spec.key, v);
    }
    return out;
  };
  const claim = (parts, message) => {
    // The longest key that the path starts with: "limits.periodic.max" before "limits".
    const matches = children.filter((c) => shown(c.spec) && c.parts.every((p, i) => parts[i] === p))
      .sort((a, b) => b.parts.length - a.parts.length);
    return matches.length ? matches[0].w.claim(parts.slice(matches[0].parts.length), message) : false;
  };
  return {children, get, claim};
}

/** An object field shown as a fieldset. `requires`: the child without which the whole object
 *  is left out (a coupon's price without a point type is "free"). */
function group(spec, value, ctx) {
  const list = fieldList(spec.fields, value || {}, ctx);
  const el = h(spec.label ? 'fieldset' : 'div', {class: spec.label ? 'field-set' : 'field-row'},
    spec.label ? h('legend', {}, spec.label) : null, spec.hint ? h('p', {class: 'field-hint'}, spec.hint) : null,
    h('div', {class: 'form-grid'}, list.children.map((c) => c.w.el)));
  const get = () => {
    const v = list.get();
    if (spec.requires && isEmpty(getPath(v, spec.requires))) return null;
    return v;
  };
  return {el, get, claim: (parts, message) => list.claim(parts, message) || noteError(el, message)};
}

/** A list of objects, one row each, with Add and Remove (prizes, criteria, KPI targets). */
function rows(spec, value, ctx) {
  const items = [];
  const list = h('div', {class: 'row-list'});
  const error = h('div', {});
  const renumber = () => items.forEach((item, i) => {
    item.remove.setAttribute('aria-label', `Remove ${spec.item} ${i + 1}`);
    item.el.setAttribute('aria-label', `${spec.item.charAt(0).toUpperCase()}${spec.item.slice(1)} ${i + 1}`);
  });
  const add = (rowValue) => {
    const fields = fieldList(spec.fields, rowValue || {}, ctx);
    const item = {fields};
    item.remove = h('button', {type: 'button', class: 'btn btn-small btn-ghost', disabled: !ctx.editable, onclick: () => {
      items.splice(items.indexOf(item), 1);
      item.el.remove();
      renumber();
      addButton.focus();
    }}, 'Remove');
    item.el = h('div', {class: 'row-item', role: 'group'}, h('div', {class: 'form-grid'}, fields.children.map((c) => c.w.el)),
      ctx.editable ? h('div', {class: 'row-actions'}, item.remove) : null);
    items.push(item);
    list.append(item.el);
    renumber();
    return item;
  };
  const addButton = h('button', {type: 'button', class: 'btn btn-small', onclick: () => {
    const item = add(spec.newRow ? spec.newRow() : {});
    const first = item.el.querySelector('input, select, textarea');
    if (first) first.focus();
  }}, `Add ${spec.item}`);
  (value || []).forEach(add);
  const el = h('fieldset', {class: 'field-set'}, h('legend', {}, spec.label),
    spec.hint ? h('p', {class: 'field-hint'}, spec.hint) : null, list, error, ctx.editable ? addButton : null);
  return {
    el,
    get: () => items.map((item) => item.fields.get()),
    claim: (parts, message) => {
      const item = /^\d+$/.test(parts[0] || '') ? items[Number(parts[0])] : null;
      return (item && item.fields.claim(parts.slice(1), message)) || noteError(error, message);
    },
  };
}

/** One of several shapes, picked with a select: a KPI's `tracks` ({points} | {behaviour} |
 *  {rewardKind} | {reward}), `assignTo`, a leaderboard's `ranksBy`, an achievement's `repeat`.
 *  A variant has either `field` (its value goes under field.key) or `fixed` (a constant). */
function choice(spec, value, ctx) {
  const current = spec.variants.find((v) => (v.field ? value && typeof value === 'object' && v.field.key in value
    : JSON.stringify(v.fixed) === JSON.stringify(value ?? null))) || spec.variants[0];
  const select = h('select', {class: 'input', name: spec.key, disabled: !ctx.editable},
    spec.variants.map((v) => h('option', {value: v.value, selected: v === current}, v.label)));
  const f = field(spec.label, select, {hint: spec.hint});
  const parts = spec.variants.map((v) => ({v, w: v.field ? build(v.field, v === current && value ? value[v.field.key] : undefined, ctx) : null}));
  const slot = h('div', {class: 'choice-slot'});
  const picked = () => parts.find((p) => p.v.value === select.value);
  const show = () => {
    const p = picked();
    replace(slot, p && p.w ? p.w.el : null);
  };
  select.addEventListener('change', show);
  show();
  const el = h('div', {class: `choice${spec.wide ? ' span-2' : ''}`}, f.wrap, slot);
  return {
    el,
    get: () => {
      const p = picked();
      return p.w ? {[p.v.field.key]: p.w.get()} : p.v.fixed;
    },
    claim: (rest, message) => {
      const p = picked();
      if (p.w && rest[0] === p.v.field.key) return p.w.claim(rest.slice(1), message);
      f.setError(message);
      return true;
    },
  };
}

// ------------------------------------------------------------------ the condition builder

export const OPERATORS = [
  ['eq', 'equals'], ['ne', 'does not equal'], ['gt', 'is greater than'], ['gte', 'is at least'],
  ['lt', 'is less than'], ['lte', 'is at most'], ['in', 'is one of'], ['contains', 'contains'],
  ['before', 'is before'], ['after', 'is after'], ['on', 'is on'],
];
const TEXT_OPS = new Set(['contains', 'before', 'after', 'on']);

/** "5" is the number 5, true/false are booleans, "\"5\"" keeps 5 as text; anything else is text. */
export function parseConditionValue(op, text) {
  const scalarOf = (t) => {
    if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
    if (t === 'true' || t === 'false') return t === 'true';
    if (/^".*"$/.test(t)) return t.slice(1, -1);
    return t;
  };
  const raw = text.trim();
  if (op === 'in') return raw.split(',').map((t) => t.trim()).filter(Boolean).map(scalarOf);
  return TEXT_OPS.has(op) ? raw : scalarOf(raw);
}

export function conditionValueText(value) {
  const one = (v) => (typeof v === 'string' && (/^-?\d+(\.\d+)?$/.test(v) || v === 'true' || v === 'false') ? `"${v}"` : String(v));
  return Array.isArray(value) ? value.map(one).join(', ') : (value === undefined ? '' : one(value));
}

const MAX_DEPTH = 6; // the API's nesting limit (chalicelib/models/mechanics.py)

function conditionLeaf(value, ctx, onRemove) {
  const key = scalar({key: 'key', label: 'Key', type: 'text'}, value.key, ctx);
  const op = scalar({key: 'op', label: 'Operator', type: 'select', options: OPERATORS}, value.op || 'eq', ctx);
  const val = scalar({key: 'value', label: 'Value', type: 'text',
    hint: 'For “is one of”, separate values with commas; quote a number ("5") to compare it as text.'},
  conditionValueText(value.value), ctx);
  const remove = h('button', {type: 'button', class: 'btn btn-small btn-ghost', onclick: () => onRemove(leaf)}, 'Remove condition');
  const leaf = {
    el: h('div', {class: 'condition', role: 'group'}, h('div', {class: 'condition-row'}, key.el, op.el, val.el),
      ctx.editable ? h('div', {class: 'row-actions'}, remove) : null),
    get: () => ({key: key.get(), op: op.get(), value: parseConditionValue(op.get() || 'eq', val.input.value)}),
    claim: (parts, message) => ({key, op, value: val}[parts[0]] || val).claim([], message),
    name: (label) => { leaf.el.setAttribute('aria-label', label); remove.setAttribute('aria-label', `Remove ${label.toLowerCase()}`); },
  };
  return leaf;
}

function conditionGroup(value, ctx, depth, onRemove) {
  const joiner = value && 'or' in value ? 'or' : 'and';
  const match = scalar({key: 'match', label: 'Match', type: 'select',
    options: [['and', 'all of these (and)'], ['or', 'any of these (or)']]}, joiner, ctx);
  const children = [];
  const list = h('div', {class: 'condition-list'});
  const error = h('div', {});
  const group = {};
  const rename = () => children.forEach((c, i) => c.name(`${c.isGroup ? 'Group' : 'Condition'} ${i + 1}`));
  const removeChild = (child) => {
    children.splice(children.indexOf(child), 1);
    child.el.remove();
    rename();
  };
  const add = (node) => {
    const child = node && ('and' in node || 'or' in node)
      ? conditionGroup(node, ctx, depth + 1, removeChild) : conditionLeaf(node || {}, ctx, removeChild);
    children.push(child);
    list.append(child.el);
    rename();
    return child;
  };
  const focusNew = (child) => { const input = child.el.querySelector('input, select'); if (input) input.focus(); };
  (value ? value[joiner] : [null]).forEach(add);
  const buttons = ctx.editable ? h('div', {class: 'row-actions'},
    h('button', {type: 'button', class: 'btn btn-small', onclick: () => focusNew(add(null))}, 'Add condition'),
    depth < MAX_DEPTH ? h('button', {type: 'button', class: 'btn btn-small', onclick: () => focusNew(add({and: [{}]}))}, 'Add group') : null,
    onRemove ? h('button', {type: 'button', class: 'btn btn-small btn-ghost', onclick: () => onRemove(group)}, 'Remove group') : null) : null;
  Object.assign(group, {
    isGroup: true,
    el: h('div', {class: 'condition-group', role: 'group'}, match.el, list, error, buttons),
    get: () => ({[match.get()]: children.map((c) => c.get())}),
    claim: (parts, message) => {
      const child = (parts[0] === 'and' || parts[0] === 'or') && /^\d+$/.test(parts[1] || '') ? children[Number(parts[1])] : null;
      return (child && child.claim(parts.slice(2), message)) || noteError(error, message);
    },
    name: (label) => { group.el.setAttribute('aria-label', label); },
  });
  return group;
}

/** A flexible behaviour's `conditions`: and/or groups of Key Operator Value, nested. */
function conditions(spec, value, ctx) {
  // The API takes a single condition as the whole tree too; the builder always shows a group.
  const root = value && !('and' in value) && !('or' in value) ? {and: [value]} : value;
  const tree = conditionGroup(root, ctx, 1, null);
  const el = h('fieldset', {class: 'field-set span-2'}, h('legend', {}, spec.label),
    spec.hint ? h('p', {class: 'field-hint'}, spec.hint) : null, tree.el);
  return {el, get: tree.get, claim: tree.claim};
}

// ------------------------------------------------------------------ dispatch

const BUILDERS = {bool: checkbox, checks, group, rows, choice, conditions};

export function build(spec, value, ctx) {
  const start = value === undefined ? spec.default : value;
  const w = (BUILDERS[spec.type] || scalar)(spec, start, ctx);
  if (spec.type !== 'conditions' && (spec.wide || ['rows', 'group', 'checks'].includes(spec.type))) w.el.classList.add('span-2');
  return w;
}
