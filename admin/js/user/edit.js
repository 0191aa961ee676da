// "Edit user" dialog: PATCH with the changed fields; 400 field errors shown next to their fields.
import {h, replace} from '../dom.js';
import {api, path} from '../api.js';
import {createDialog, errorBox} from '../ui.js';
import {userForm} from '../userform.js';

export function openEditDialog(page, onSaved) {
  if (document.querySelector('dialog.edit-dialog[open]')) return;
  const dlg = createDialog({title: 'Edit user', className: 'edit-dialog', returnFocus: () => page.actionButton('Edit')});
  const form = userForm(page.user || {uuid: page.uuid});
  const errorSlot = h('div', {class: 'status-slot'});
  const save = h('button', {type: 'submit', class: 'btn btn-primary'}, 'Save');
  const el = h('form', {class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    replace(errorSlot);
    form.clearErrors();
    const body = form.values({changedOnly: true});
    if (!Object.keys(body).length) {
      dlg.close();
      return;
    }
    save.disabled = true;
    save.textContent = 'Saving…';
    try {
      const user = await api.patch(path('sites', page.site, 'users', page.uuid), body);
      dlg.close();
      onSaved(user || body);
    } catch (err) {
      const rest = form.showErrors(err);
      if (err.status !== 400 || !err.details.length || rest.length) replace(errorSlot, errorBox(err));
    } finally {
      save.disabled = false;
      save.textContent = 'Save';
    }
  }},
  h('p', {class: 'muted small'}, h('span', {}, 'UUID '), h('code', {}, page.uuid), ' cannot be changed.'),
  form.el, errorSlot,
  h('div', {class: 'dialog-actions'}, h('button', {type: 'button', class: 'btn', onclick: () => dlg.close()}, 'Cancel'), save));
  dlg.body.append(el);
  dlg.show(form.fields.firstName.input);
}
