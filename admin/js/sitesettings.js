// Site settings (name, time zone, week start: admin) and Create site (the operator, beside the
// site switcher). Both forms are one set of fields; the API's field errors appear beside them.
import {h, replace, field} from './dom.js';
import {api, path} from './api.js';
import {can, session} from './state.js';
import {getSite} from './site.js';
import {announce, createDialog, errorBox, loading, pageHead} from './ui.js';
import {usersHash} from './routes.js';

function timeZones(current) {
  let zones = [];
  try { zones = Intl.supportedValuesOf('timeZone'); } catch { zones = []; }
  const all = new Set(['UTC', ...zones]);
  if (current) all.add(current);
  return [...all].sort((a, b) => (a === 'UTC' ? -1 : b === 'UTC' ? 1 : a.localeCompare(b)));
}

/** The site's fields ({id} too when creating); values() gives the request body; refused(err,
 *  slot) puts the API's 400 details beside their fields and anything else in `slot`. */
function siteFields(site, {withId = false, readOnly = false} = {}) {
  const fields = {};
  if (withId) {
    fields.id = field('ID', h('input', {class: 'input mono', name: 'id', autocomplete: 'off', spellcheck: 'false'}),
      {hint: '2 to 63 lowercase letters, digits or “-”; it is part of every URL and cannot change.'});
  }
  fields.name = field('Name', h('input', {class: 'input', name: 'name', value: site.name || '', autocomplete: 'off', disabled: readOnly}));
  fields.timezone = field('Time zone', h('select', {class: 'input', name: 'timezone', disabled: readOnly},
    timeZones(site.timezone).map((z) => h('option', {value: z}, z))), {hint: 'Days, weeks and KPI periods start at midnight here.'});
  fields.timezone.input.value = site.timezone || 'UTC';
  fields.weekStart = field('Week starts on', h('select', {class: 'input', name: 'weekStart', disabled: readOnly},
    h('option', {value: 'monday'}, 'Monday'), h('option', {value: 'sunday'}, 'Sunday')));
  fields.weekStart.input.value = site.weekStart || 'monday';
  return {
    fields,
    wraps: Object.values(fields).map((f) => f.wrap),
    values: () => Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.input.value.trim()])),
    refused(err, slot) {
      Object.values(fields).forEach((f) => f.setError(''));
      const rest = [];
      for (const d of err.details || []) {
        if (fields[d.field]) fields[d.field].setError(d.message);
        else rest.push(d);
      }
      const first = Object.values(fields).find((f) => f.input.getAttribute('aria-invalid') === 'true');
      if (first) first.input.focus();
      if (err.status !== 400 || rest.length || !(err.details || []).length) replace(slot, errorBox(err));
    },
  };
}

export class SiteSettingsView {
  constructor(route) {
    this.site = route.site;
    this.editable = can('admin');
    const head = pageHead({crumbs: [{label: `Site ${this.site}`, href: usersHash(this.site)}, {label: 'Site settings'}],
      title: 'Site settings', titleId: 'settings-title', subtitle: `Site ${this.site}`});
    this.body = h('div', {class: 'card form-card'}, loading('Loading the site…'));
    this.el = h('section', {class: 'page narrow-page', 'aria-labelledby': 'settings-title'}, head.el, this.body);
  }

  async mount() {
    try {
      this.render(await getSite(this.site));
    } catch (e) {
      replace(this.body, errorBox(e, {retry: () => this.mount()}));
    }
  }

  render(site) {
    const form = siteFields(site, {readOnly: !this.editable});
    const status = h('div', {class: 'status-slot'});
    const save = h('button', {type: 'submit', class: 'btn btn-primary'}, 'Save');
    const el = h('form', {class: 'form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      replace(status);
      save.disabled = true;
      try {
        const saved = await api.patch(path('sites', this.site), form.values());
        session.siteInfo.set(this.site, saved);
        const listed = (session.sites || []).find((s) => s.id === this.site);
        if (listed) Object.assign(listed, saved);
        announce('Site settings saved');
        replace(status, h('p', {class: 'alert alert-ok', role: 'status'}, 'Saved.'));
      } catch (err) {
        form.refused(err, status);
      } finally {
        save.disabled = false;
      }
    }}, form.wraps, status,
    this.editable ? h('div', {class: 'form-actions'}, save)
      : h('p', {class: 'muted small'}, 'Your role can view the site’s settings but not change them.'));
    replace(this.body, el);
  }
}

/** The operator's Create site dialog; `onCreated(site)` runs after the 201. */
export function openCreateSite(onCreated) {
  const dlg = createDialog({title: 'Create site'});
  const form = siteFields({}, {withId: true});
  const status = h('div', {class: 'status-slot'});
  const submit = h('button', {type: 'submit', class: 'btn btn-primary'}, 'Create');
  dlg.body.append(h('form', {class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    replace(status);
    submit.disabled = true;
    try {
      const site = await api.post('/sites', form.values());
      dlg.close();
      announce(`Site ${site.id} created`);
      onCreated(site);
    } catch (err) {
      form.refused(err, status);
    } finally {
      submit.disabled = false;
    }
  }}, form.wraps, status,
  h('div', {class: 'dialog-actions'}, h('button', {type: 'button', class: 'btn', onclick: () => dlg.close()}, 'Cancel'), submit)));
  dlg.show(form.fields.id.input);
}
