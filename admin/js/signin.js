// Sign-in with a token (kept in sessionStorage only).
import {h, replace, field} from './dom.js';
import {session, signOut} from './state.js';
import {errorBox} from './ui.js';

export function renderSignIn({onSignedIn, loadIdentity}) {
  const input = h('input', {type: 'password', class: 'input', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true});
  const tokenField = field('Token', input, {hint: 'An API key or the operator token. It is kept for this browser tab only.'});
  const errorSlot = h('div', {id: 'signin-error', class: 'status-slot'});
  const button = h('button', {type: 'submit', class: 'btn btn-primary btn-block'}, 'Sign in');
  const form = h('form', {class: 'card signin-card', 'aria-labelledby': 'signin-title', onsubmit: async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) {
      tokenField.setError('Enter a token.');
      input.focus();
      return;
    }
    tokenField.setError('');
    replace(errorSlot);
    button.disabled = true;
    button.textContent = 'Signing in…';
    try {
      await loadIdentity(token);
      session.token = token;
      await onSignedIn();
    } catch (err) {
      signOut();
      replace(errorSlot, errorBox(err));
      input.focus();
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  }},
  h('h1', {id: 'signin-title', class: 'page-title'}, 'Sign in'),
  h('p', {class: 'muted'}, 'Administer users, activities and rewards of your gamification sites.'),
  tokenField.wrap, errorSlot, button);
  setTimeout(() => input.focus(), 0);
  return h('section', {class: 'signin'}, form);
}
