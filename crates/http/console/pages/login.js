// The login form, shown when the cluster authenticates its clients (SASL) and the browser has
// no session: the console then acts as that user, and the cluster's ACLs decide what it shows.

import { post } from '../api.js';
import { errorBox, field, h } from '../ui.js';

export function render(main, { onLogin }) {
  const user = h('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true });
  const password = h('input', {
    id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password',
  });
  const failure = h('div', {});
  const submit = h('button', { type: 'submit', id: 'login-submit' }, 'Log in');
  const form = h('form', { id: 'login-form', class: 'card narrow' },
    h('h1', {}, 'Log in'),
    h('p', { class: 'muted' }, 'This cluster authenticates its clients: the console acts as you.'),
    field('User', user), field('Password', password), failure, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    failure.replaceChildren();
    try {
      const answer = await post('/session', { user: user.value, password: password.value });
      onLogin(answer);
    } catch (e) {
      failure.replaceChildren(errorBox(e));
      password.value = '';
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
  user.focus();
}
