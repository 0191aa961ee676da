// API keys (admin): the site's keys by name and role, Create API key (the secret shown once,
// with Copy) and Revoke (after confirmation).
import {h, replace, field} from './dom.js';
import {api, path, fetchAll} from './api.js';
import {getSite} from './site.js';
import {timeEl} from './format.js';
import {announce, confirmDialog, createDialog, dataTable, empty, errorBox, loading, pageHead, tableScroller} from './ui.js';
import {usersHash} from './routes.js';

const ROLES = [['viewer', 'viewer: reads everything, changes nothing'], ['editor', 'editor: also users and activities'],
  ['admin', 'admin: everything on this site, keys included']];

export class ApiKeysView {
  constructor(route) {
    this.site = route.site;
    this.timeZone = 'UTC';
    const create = h('button', {type: 'button', class: 'btn btn-primary', onclick: () => this.openCreate()}, 'Create API key');
    const head = pageHead({crumbs: [{label: `Site ${this.site}`, href: usersHash(this.site)}, {label: 'API keys'}],
      title: 'API keys', titleId: 'keys-title', subtitle: `Site ${this.site}`, actions: [create]});
    this.subtitle = head.subtitle;
    this.errorSlot = h('div', {class: 'status-slot'});
    this.tableWrap = tableScroller(loading('Loading API keys…'));
    this.el = h('section', {class: 'page', 'aria-labelledby': 'keys-title'}, head.el,
      h('p', {class: 'muted small'}, 'A key is a bearer token for this site only. Its secret is shown once, when it is created.'),
      this.errorSlot, this.tableWrap);
  }

  mount() {
    getSite(this.site).then((info) => {
      this.timeZone = (info && info.timezone) || 'UTC';
      this.subtitle.textContent = `${(info && info.name) || this.site} · times in ${this.timeZone}`;
    }).catch(() => {});
    this.load();
  }

  async load() {
    replace(this.errorSlot);
    try {
      const keys = (await fetchAll(path('sites', this.site, 'api-keys'))).filter((k) => !k.revokedAt);
      if (!keys.length) {
        replace(this.tableWrap, empty('No API keys yet. Create one for each system that sends activities or reads users.'));
        return;
      }
      const columns = [['Name'], ['Role'], ['Created'], ['Created by'], [h('span', {class: 'sr-only'}, 'Actions')]];
      const cell = (c, k) => {
        if (c[0] === 'Name') return h('span', {class: 'strong', title: k.id}, k.name);
        if (c[0] === 'Role') return k.role;
        if (c[0] === 'Created') return timeEl(k.createdAt, this.timeZone);
        if (c[0] === 'Created by') return h('span', {class: 'mono'}, k.createdBy);
        return h('button', {type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Revoke ${k.name}`,
          onclick: () => this.confirmRevoke(k)}, 'Revoke');
      };
      replace(this.tableWrap, dataTable({caption: 'API keys', columns, items: keys, cell}));
    } catch (e) {
      replace(this.tableWrap);
      replace(this.errorSlot, errorBox(e, {retry: () => this.load()}));
    }
  }

  confirmRevoke(key) {
    confirmDialog({title: 'Revoke API key', action: 'Revoke',
      text: `Revoke “${key.name}” (${key.role})? Every request made with it is refused from now on.`,
      onConfirm: async () => {
        await api.delete(path('sites', this.site, 'api-keys', key.id));
        announce(`API key ${key.name} revoked`);
        this.load();
      }});
  }

  openCreate() {
    const dlg = createDialog({title: 'Create API key'});
    const name = field('Name', h('input', {class: 'input', name: 'name', autocomplete: 'off', maxlength: '100'}),
      {hint: 'Who uses it, e.g. “crm” or “mobile app”.'});
    const role = field('Role', h('select', {class: 'input', name: 'role'}, ROLES.map(([v, l]) => h('option', {value: v}, l))));
    const errorSlot = h('div', {class: 'status-slot'});
    const submit = h('button', {type: 'submit', class: 'btn btn-primary'}, 'Create');
    const form = h('form', {class: 'form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      replace(errorSlot);
      name.setError('');
      if (!name.input.value.trim()) {
        name.setError('A name is required.');
        name.input.focus();
        return;
      }
      submit.disabled = true;
      try {
        const created = await api.post(path('sites', this.site, 'api-keys'), {name: name.input.value.trim(), role: role.input.value});
        dlg.close();
        this.showSecret(created);
        this.load();
      } catch (err) {
        const nameError = err.details.find((d) => d.field === 'name');
        if (nameError) name.setError(nameError.message);
        else replace(errorSlot, errorBox(err));
      } finally {
        submit.disabled = false;
      }
    }}, name.wrap, role.wrap, errorSlot,
    h('div', {class: 'dialog-actions'}, h('button', {type: 'button', class: 'btn', onclick: () => dlg.close()}, 'Cancel'), submit));
    dlg.body.append(form);
    dlg.show(name.input);
  }

  showSecret(created) {
    const dlg = createDialog({title: 'API key created'});
    const secret = h('input', {class: 'input mono', readonly: true, value: created.key, 'aria-label': 'Secret', spellcheck: 'false'});
    const copied = h('span', {class: 'muted small', role: 'status'});
    const copy = h('button', {type: 'button', class: 'btn', onclick: async () => {
      secret.select();
      try {
        await navigator.clipboard.writeText(created.key);
        copied.textContent = 'Copied.';
      } catch {
        copied.textContent = 'Copy it from the field (the browser refused the clipboard).';
      }
    }}, 'Copy');
    dlg.body.append(
      h('p', {}, `The secret of “${created.name}” (${created.role}). It will not be shown again: copy it now.`),
      h('div', {class: 'copy-row'}, secret, copy), copied,
      h('div', {class: 'dialog-actions'}, h('button', {type: 'button', class: 'btn btn-primary', onclick: () => dlg.close()}, 'Done')));
    dlg.show(copy);
  }
}
