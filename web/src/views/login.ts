/** Sign-in form: POST /auth/login sets the session cookie and returns the CSRF token. */
import { ApiError, post, setCsrf, type User } from '../api.ts';
import { h } from '../dom.ts';
import { s } from '../i18n.ts';

export function renderLogin(root: HTMLElement, onDone: (u: User) => void): void {
  const t = s();
  const msg = h('p', { class: 'flash', role: 'alert', id: 'login-msg' });
  const user = h('input', {
    id: 'login-user',
    name: 'username',
    autocomplete: 'username',
    required: true,
    maxlength: 64,
  });
  const pass = h('input', {
    id: 'login-pass',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  root.replaceChildren(
    h(
      'form',
      {
        class: 'login-form',
        id: 'login-form',
        onsubmit: async (e: Event) => {
          e.preventDefault();
          msg.textContent = '';
          try {
            const r = await post<{ user: User; csrf_token: string }>('/auth/login', {
              username: user.value,
              password: pass.value,
            });
            setCsrf(r.csrf_token);
            pass.value = '';
            onDone(r.user);
          } catch (err) {
            msg.className = 'flash error';
            msg.textContent =
              err instanceof ApiError && err.status === 429 ? t.loginRateLimited : t.loginFailed;
          }
        },
      },
      h('h1', {}, t.loginTitle),
      h('label', {}, t.username, user),
      h('label', {}, t.password, pass),
      h('button', { type: 'submit', class: 'primary', id: 'login-submit' }, t.login),
      msg,
    ),
  );
  user.focus();
}
