// One mechanic: the form that creates or edits it (point types so far), Delete with its
// confirmation, and the API's refusals beside their fields or, for a 409 ReferencedBy, as links to
// the mechanics that still refer to it. Kinds without a form yet show their definition read-only.
import {h, replace, field} from './dom.js';
import {api, path} from './api.js';
import {can} from './state.js';
import {getMechanics} from './site.js';
import {announce, confirmDialog, errorBox, loading, pageHead} from './ui.js';
import {SECTIONS, mechanicHash, sectionHash, usersHash} from './routes.js';

/** Each kind's form: its fields in the words of console.md. `type`: text, id, bool or int;
 *  `when(values)`: shown (and sent) only then. */
export const FORMS = {
  'point-types': {
    singular: 'point type',
    fields: [
      {key: 'id', label: 'ID', type: 'id', hint: '1 to 64 lowercase letters, digits, “_” or “-”; it cannot change.'},
      {key: 'name', label: 'Name', type: 'text'},
      {key: 'redeemable', label: 'Redeemable', type: 'bool', hint: 'Users can spend these points (coupons, redeem).'},
      {key: 'giftable', label: 'Giftable', type: 'bool', hint: 'Users can give these points to each other.'},
      {key: 'bountiable', label: 'Bountiable', type: 'bool', hint: 'Bounties can be offered in these points.'},
      {key: 'expirable', label: 'Expirable', type: 'bool', hint: 'Earned points expire after a number of days.'},
      {key: 'expiresAfterDays', label: 'Expires after days', type: 'int', when: (v) => v.expirable},
      {key: 'negativeable', label: 'Negativeable', type: 'bool', hint: 'A balance may go below zero.'},
      {key: 'stopAtZero', label: 'Stop at zero', type: 'bool', hint: 'A deduction larger than the balance stops at zero.'},
    ],
  },
};

/** "behaviours/watch_video" (a ReferencedBy detail) as a link to that mechanic's page. */
function referrerLink(site, ref) {
  const [section, id] = ref.split('/');
  const known = SECTIONS.find((s) => s.id === section);
  return known && id ? h('a', {href: mechanicHash(site, section, id)}, `${known.label.replace(/s$/, '')} ${id}`) : ref;
}

export class MechanicView {
  constructor(route) {
    this.site = route.site;
    this.kind = route.kind;
    this.id = route.id;
    this.section = SECTIONS.find((s) => s.id === route.section);
    this.form = FORMS[this.kind] || null;
    this.editable = can('admin') && Boolean(this.form);
    const title = this.id === null ? `Create ${this.form ? this.form.singular : 'mechanic'}` : this.id;
    const head = pageHead({crumbs: [{label: `Site ${this.site}`, href: usersHash(this.site)},
      {label: this.section.label, href: sectionHash(this.site, this.section.id)}, {label: title}],
    title, titleId: 'mechanic-title', subtitle: `Site ${this.site}`});
    this.title = head.title;
    this.body = h('div', {class: 'card form-card'}, loading('Loading…'));
    this.el = h('section', {class: 'page narrow-page', 'aria-labelledby': 'mechanic-title'}, head.el, this.body);
  }

  async mount() {
    if (this.id === null) {
      if (this.form && this.editable) this.render({});
      else replace(this.body, errorBox({message: 'Your role cannot create mechanics here.'}));
      return;
    }
    try {
      const item = await api.get(path('sites', this.site, this.kind, this.id));
      this.title.textContent = item.name || item.id;
      if (this.form) this.render(item);
      else this.renderDefinition(item);
    } catch (e) {
      replace(this.body, errorBox(e));
    }
  }

  /** A kind without a form yet: its definition as the API holds it. */
  renderDefinition(item) {
    replace(this.body,
      h('p', {class: 'muted small'}, `Editing ${this.section.label.toLowerCase()} in the console is not there yet; `,
        'the API’s ', h('code', {}, `PUT /sites/${this.site}/${this.kind}/${item.id}`), ' changes it.'),
      h('pre', {class: 'json', 'aria-label': 'Definition', tabindex: '0'}, JSON.stringify(item, null, 2)));
  }

  render(item) {
    const creating = this.id === null;
    const inputs = {};
    const wraps = {};
    for (const spec of this.form.fields) {
      let input;
      if (spec.type === 'bool') {
        input = h('input', {type: 'checkbox', name: spec.key, checked: Boolean(item[spec.key]), disabled: !this.editable});
        const id = `mech-${spec.key}`;
        input.id = id;
        wraps[spec.key] = h('div', {class: 'check-row'}, input, h('label', {for: id}, spec.label),
          spec.hint ? h('span', {class: 'muted small'}, spec.hint) : null);
        inputs[spec.key] = {input, setError: (m) => { if (m) wraps[spec.key].append(h('p', {class: 'field-error'}, m)); }};
        continue;
      }
      input = h('input', {class: `input${spec.type === 'id' ? ' mono' : ''}`, name: spec.key, autocomplete: 'off',
        spellcheck: 'false', value: item[spec.key] ?? '', type: spec.type === 'int' ? 'number' : 'text',
        disabled: !this.editable || (spec.type === 'id' && !creating), inputmode: spec.type === 'int' ? 'numeric' : null});
      const f = field(spec.label, input, {hint: spec.hint});
      wraps[spec.key] = f.wrap;
      inputs[spec.key] = f;
    }
    const values = () => Object.fromEntries(this.form.fields.map((spec) => {
      const {input} = inputs[spec.key];
      if (spec.type === 'bool') return [spec.key, input.checked];
      if (spec.type === 'int') return [spec.key, input.value === '' ? null : Number(input.value)];
      return [spec.key, input.value.trim()];
    }));
    const showWhen = () => {
      const v = values();
      for (const spec of this.form.fields) if (spec.when) wraps[spec.key].hidden = !spec.when(v);
    };
    const status = h('div', {class: 'status-slot'});
    const save = h('button', {type: 'submit', class: 'btn btn-primary'}, creating ? 'Create' : 'Save');
    const clearErrors = () => {
      Object.values(wraps).forEach((w) => w.querySelectorAll('.check-row > .field-error').forEach((e) => e.remove()));
      Object.values(inputs).forEach((f) => f.setError(''));
    };
    const form = h('form', {class: 'form', novalidate: true, onchange: showWhen, onsubmit: async (e) => {
      e.preventDefault();
      replace(status);
      clearErrors();
      const v = values();
      const body = Object.fromEntries(this.form.fields.filter((spec) => !spec.when || spec.when(v))
        .filter((spec) => v[spec.key] !== null).map((spec) => [spec.key, v[spec.key]]));
      save.disabled = true;
      try {
        const saved = creating ? await api.post(path('sites', this.site, this.kind), body)
          : await api.put(path('sites', this.site, this.kind, this.id), body);
        getMechanics(this.site, this.kind, {fresh: true}).catch(() => {});
        announce(`${this.form.singular} ${saved.name || saved.id} saved`);
        location.hash = sectionHash(this.site, this.section.id);
      } catch (err) {
        const rest = [];
        for (const d of err.details || []) {
          const key = String(d.field || '').split('.')[0];
          if (inputs[key] && err.status === 400) inputs[key].setError(d.message);
          else rest.push(d);
        }
        if (err.status !== 400 || rest.length || !err.details.length) {
          replace(status, errorBox(err.type === 'AlreadyExists' ? {message: `There is already a ${this.form.singular} “${body.id}”.`} : err));
        }
        const invalid = this.el.querySelector('[aria-invalid=true]');
        if (invalid) invalid.focus();
      } finally {
        save.disabled = false;
      }
    }}, this.form.fields.map((spec) => wraps[spec.key]), status,
    this.editable ? h('div', {class: 'form-actions'},
      creating ? null : h('button', {type: 'button', class: 'btn btn-danger', onclick: () => this.confirmDelete(item)}, 'Delete'),
      h('a', {class: 'btn', href: sectionHash(this.site, this.section.id)}, 'Cancel'), save)
      : h('p', {class: 'muted small'}, 'Your role can view this but not change it.'));
    replace(this.body, form);
    showWhen();
  }

  confirmDelete(item) {
    const name = item.name || item.id;
    confirmDialog({title: `Delete ${name}`, action: 'Delete',
      text: `Delete the ${this.form.singular} “${name}”? This cannot be undone.`,
      describeError: (err) => (err.type === 'ReferencedBy' ? h('div', {class: 'alert alert-error', role: 'alert'},
        h('span', {class: 'alert-text'}, `${name} is still used by:`),
        h('ul', {class: 'alert-details'}, (err.details || []).map((d) => h('li', {},
          referrerLink(this.site, String(d.message).replace(/^referred to by /, '')))))) : null),
      onConfirm: async () => {
        await api.delete(path('sites', this.site, this.kind, item.id));
        getMechanics(this.site, this.kind, {fresh: true}).catch(() => {});
        announce(`${this.form.singular} ${name} deleted`);
        location.hash = sectionHash(this.site, this.section.id);
      }});
  }
}

