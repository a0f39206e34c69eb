/** The login form: POST /auth with a user and password; the token stays in memory (api.ts). */
import type { Api } from '../api';
import { describeError, logo } from '../components';
import { h } from '../dom';

export function loginView(api: Api, message: string | undefined, onLoggedIn: () => void): HTMLElement {
  const user = h('input', { id: 'login-user', name: 'user', type: 'text', autocomplete: 'username', required: true, autofocus: true });
  const pass = h('input', { id: 'login-pass', name: 'pass', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'login-error', role: 'alert' }, message ?? '');
  const submit = h('button', { type: 'submit', class: 'btn primary wide' }, 'Log in');
  const loginForm = h(
    'form',
    { class: 'login-form', 'data-form': 'login' },
    h('div', { class: 'field' }, h('label', { for: 'login-user' }, 'User'), user),
    h('div', { class: 'field' }, h('label', { for: 'login-pass' }, 'Password'), pass),
    error,
    submit,
  );
  loginForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = '';
    api
      .login(user.value.trim(), pass.value)
      .then(() => {
        pass.value = '';
        onLoggedIn();
      })
      .catch((reason: unknown) => {
        error.textContent = describeError(reason);
        submit.disabled = false;
        pass.select();
      });
  });
  return h(
    'div',
    { class: 'login' },
    h(
      'div',
      { class: 'login-card' },
      h('div', { class: 'brand big' }, logo(), 'mombroker'),
      h('p', { class: 'muted' }, `Management · ${location.host}`),
      loginForm,
      h('p', { class: 'hint' }, 'Your session lives in this tab only: reloading or closing it logs you out.'),
    ),
  );
}
