// One mechanic: the form that creates or edits it (mechanicforms.js's fields for its kind),
// Delete with its confirmation, and the API's refusals beside their fields or, for a 409
// ReferencedBy, as links to the mechanics that still refer to it.
import {h, replace} from './dom.js';
import {api, path} from './api.js';
import {can} from './state.js';
import {getMechanics} from './site.js';
import {announce, confirmDialog, errorBox, loading, pageHead} from './ui.js';
import {SECTIONS, mechanicHash, sectionHash, usersHash} from './routes.js';
import {FORMS, mechanicOptions} from './mechanicforms.js';
import {clearErrors, fieldList} from './formfields.js';

/** The lists a form's selects draw from. */
const SOURCES = ['point-types', 'behaviours', 'rewards', 'coupons'];

/** An API message as a person reads it: "overlaps targets.0 for alice" -> "overlaps target 1 for alice". */
const inWords = (message) => String(message).replace(/\b(target|criteri(?:on|a)|prize|point)s?\.(\d+)\b/g,
  (_, what, n) => `${what === 'criteria' ? 'criterion' : what} ${Number(n) + 1}`);

/** "behaviours/watch_video" (a ReferencedBy detail) as a link to that mechanic's page. */
function referrerLink(site, ref) {
  const [section, id] = ref.split('/');
  const known = SECTIONS.find((s) => s.id === section);
  return known && id ? h('a', {href: mechanicHash(site, section, id)}, `${known.label.replace(/s$/, '')} ${id}`) : ref;
}

/** A 409 ReferencedBy: who still uses the mechanic, each a link to it. */
function referredBy(site, name, err) {
  return h('div', {class: 'alert alert-error', role: 'alert'}, h('span', {class: 'alert-text'}, `${name} is still used by:`),
    h('ul', {class: 'alert-details'}, (err.details || []).map((d) => h('li', {},
      referrerLink(site, String(d.message).replace(/^referred to by /, ''))))));
}

export class MechanicView {
  constructor(route) {
    this.site = route.site;
    this.kind = route.kind;
    this.id = route.id;
    this.section = SECTIONS.find((s) => s.id === route.section);
    this.form = FORMS[this.kind];
    this.editable = can('admin');
    const title = this.id === null ? `Create ${this.form.singular}` : this.id;
    const head = pageHead({crumbs: [{label: `Site ${this.site}`, href: usersHash(this.site)},
      {label: this.section.label, href: sectionHash(this.site, this.section.id)}, {label: title}],
    title, titleId: 'mechanic-title', subtitle: `Site ${this.site}`});
    this.title = head.title;
    this.body = h('div', {class: 'card form-card'}, loading('Loading…'));
    this.el = h('section', {class: 'page narrow-page', 'aria-labelledby': 'mechanic-title'}, head.el, this.body);
  }

  async mount() {
    const creating = this.id === null;
    if (creating && !this.editable) {
      replace(this.body, errorBox({message: 'Your role cannot create mechanics here.'}));
      return;
    }
    try {
      const [item, ...lists] = await Promise.all([creating ? {} : api.get(path('sites', this.site, this.kind, this.id)),
        ...SOURCES.map((kind) => getMechanics(this.site, kind).catch(() => []))]);
      if (!creating) this.title.textContent = item.name || item.id;
      this.render(item, Object.fromEntries(SOURCES.map((kind, i) => [kind, lists[i]])));
    } catch (e) {
      replace(this.body, errorBox(e));
    }
  }

  /** Unsaved edits make the router ask before leaving (main.js). */
  unsaved() {
    return Boolean(this.snapshot) && this.saved !== this.snapshot();
  }

  render(item, lists) {
    const creating = this.id === null;
    const ctx = {editable: this.editable, creating, options: mechanicOptions(lists, this.id)};
    // Fields without a `when` (a kind, a code type, a flag) decide which of the others count.
    let controls = {};
    const shown = (spec) => !spec.when || spec.when(controls);
    const fields = fieldList(this.form.fields, item, ctx, shown);
    const refresh = () => {
      controls = Object.fromEntries(fields.children.filter((c) => !c.spec.when).map((c) => [c.spec.key, c.w.get()]));
      for (const c of fields.children) c.w.el.hidden = !shown(c.spec);
    };
    const body = () => { refresh(); return fields.get(); };
    this.snapshot = () => JSON.stringify(body());
    const status = h('div', {class: 'status-slot'});
    const save = h('button', {type: 'submit', class: 'btn btn-primary'}, creating ? 'Create' : 'Save');
    const form = h('form', {class: 'form', novalidate: true, onchange: refresh, onsubmit: async (e) => {
      e.preventDefault();
      replace(status);
      clearErrors(form);
      const sent = body();
      save.disabled = true;
      try {
        const saved = creating ? await api.post(path('sites', this.site, this.kind), sent)
          : await api.put(path('sites', this.site, this.kind, this.id), sent);
        this.saved = this.snapshot();
        getMechanics(this.site, this.kind, {fresh: true}).catch(() => {});
        announce(`${this.form.singular} ${saved.name || saved.id} saved`);
        location.hash = sectionHash(this.site, this.section.id);
      } catch (err) {
        this.showRefusal(err, fields, status, sent);
        const invalid = form.querySelector('[aria-invalid=true]');
        if (invalid) invalid.focus();
        else form.querySelector('.field-error:not([hidden]), .status-slot .alert')?.scrollIntoView({block: 'center'});
      } finally {
        save.disabled = false;
      }
    }}, h('div', {class: 'form-grid mechanic-form'}, fields.children.map((c) => c.w.el)), status,
    this.editable ? h('div', {class: 'form-actions'},
      creating ? null : h('button', {type: 'button', class: 'btn btn-danger', onclick: () => this.confirmDelete(item)}, 'Delete'),
      h('a', {class: 'btn', href: sectionHash(this.site, this.section.id)}, 'Cancel'), save)
      : h('p', {class: 'muted small'}, 'Your role can view this but not change it.'));
    replace(this.body, form);
    refresh();
    this.saved = this.snapshot();
  }

  /** A refused save: each detail beside its field where one claims it, the rest above the buttons. */
  showRefusal(err, fields, status, sent) {
    const rest = [];
    for (const d of err.details || []) {
      const claimed = err.status !== 403 && d.field && d.field !== 'body'
        && fields.claim(String(d.field).split('.'), inWords(d.message));
      if (!claimed) rest.push(d);
    }
    if (err.type === 'AlreadyExists') {
      replace(status, errorBox({message: `There is already a ${this.form.singular} “${sent.id}”.`}));
    } else if (err.type === 'ReferencedBy') {
      replace(status, referredBy(this.site, sent.name || sent.id, err));
    } else if (!err.details || !err.details.length || rest.length) {
      replace(status, errorBox(rest.length && err.type === 'ValidationError'
        ? {...err, details: rest.map((d) => ({...d, field: '', message: inWords(d.message)}))} : err));
    }
  }

  confirmDelete(item) {
    const name = item.name || item.id;
    confirmDialog({title: `Delete ${name}`, action: 'Delete',
      text: `Delete the ${this.form.singular} “${name}”? This cannot be undone.`,
      describeError: (err) => (err.type === 'ReferencedBy' ? referredBy(this.site, name, err) : null),
      onConfirm: async () => {
        await api.delete(path('sites', this.site, this.kind, item.id));
        getMechanics(this.site, this.kind, {fresh: true}).catch(() => {});
        announce(`${this.form.singular} ${name} deleted`);
        location.hash = sectionHash(this.site, this.section.id);
      }});
  }
}

