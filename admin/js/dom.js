// Tiny DOM helpers: no framework, no build step.

/**
 * h('button', {class: 'btn', onclick: fn, 'aria-label': 'x'}, 'text', child, [more])
 * Attributes: `class`, `style` (string), `dataset` (object), `on<event>` handlers,
 * booleans (true sets the attribute, false/null/undefined omits it), everything else as attribute.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2), value);
      } else if (key === 'style') {
        el.style.cssText = value; // through the CSSOM: the console's CSP refuses style attributes
      } else if (key === 'dataset') {
        Object.assign(el.dataset, value);
      } else if (key === 'value' && 'value' in el) {
        el.value = value;
      } else if (key === 'checked' || key === 'selected' || key === 'indeterminate') {
        el[key] = Boolean(value);
      } else if (value === true) {
        el.setAttribute(key, '');
      } else {
        el.setAttribute(key, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

let idCounter = 0;
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled form field: returns {wrap, input, error}. */
export function field(label, input, {hint, id} = {}) {
  const inputId = id || input.id || uid('f');
  input.id = inputId;
  const error = h('p', {class: 'field-error', id: `${inputId}-err`, hidden: true});
  const describedBy = [`${inputId}-err`];
  let hintEl = null;
  if (hint) {
    hintEl = h('p', {class: 'field-hint', id: `${inputId}-hint`}, hint);
    describedBy.push(`${inputId}-hint`);
  }
  input.setAttribute('aria-describedby', describedBy.join(' '));
  const wrap = h('div', {class: 'field'}, h('label', {for: inputId}, label), input, hintEl, error);
  return {wrap, input, error, setError(message) {
    error.textContent = message || '';
    error.hidden = !message;
    if (message) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }};
}

export function isTypingTarget(el) {
  if (!el || !(el instanceof Element)) return false;
  if (el.isContentEditable) return true;
  // Any input (checkboxes included) counts as "a field": shortcuts never fire from one.
  if (['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName)) return true;
  return Boolean(el.closest('[contenteditable=""], [contenteditable="true"]'));
}
