/**
 * The management web page (DESIGN §8 `GET /ui`), in the spirit of RabbitMQ's management
 * plugin: the shell (header, navigation, messages), the login, and a poll that refreshes the
 * current view every few seconds. Everything it shows or changes goes through the public API
 * with the logged-in user's token, so it may do exactly what that user may do.
 */
import { Api } from './api';
import { describeError, logo, type ViewContext, type ViewHandle } from './components';
import { fill, h } from './dom';
import { RateTracker } from './rates';
import { hashOf, parseHash, type View } from './routes';
import { exchangeView } from './views/exchange';
import { inboxView } from './views/inbox';
import { loginView } from './views/login';
import { overviewView } from './views/overview';
import { usersView } from './views/users';

/** How often the current view is refreshed while the tab is visible. */
const POLL_MS = 3_000;

const api = new Api();
const rates = new RateTracker();
const app = document.getElementById('app')!;

let current: ViewHandle | undefined;
let timer: number | undefined;
let refreshing = false;
let refreshAgain = false;
let keepFlash = false;

const status = h('span', { class: 'status', 'data-field': 'status' }, '');
const flashArea = h('div', { class: 'flash-area', 'aria-live': 'polite' });
const refreshError = h('div', { class: 'refresh-error', role: 'alert' });
const viewArea = h('div', { class: 'view-area' });

function showLogin(message?: string): void {
  stopPolling();
  current = undefined;
  rates.forget();
  document.title = 'Log in · mombroker';
  fill(app, loginView(api, message, () => route()));
  document.getElementById('login-user')?.focus();
}

function shell(): HTMLElement {
  const session = api.session!;
  const view = parseHash(location.hash);
  const navLink = (target: View, label: string, active: boolean) => h('a', { href: hashOf(target), class: active ? 'active' : undefined }, label);
  return h(
    'div',
    { class: 'shell' },
    h(
      'header',
      { class: 'topbar' },
      h('a', { class: 'brand', href: '#/' }, logo(), 'mombroker', h('span', { class: 'host' }, location.host)),
      h(
        'nav',
        { class: 'nav' },
        navLink({ name: 'overview' }, 'Overview', view.name === 'overview' || view.name === 'exchange' || view.name === 'queue' || view.name === 'subscription'),
        session.admin ? navLink({ name: 'users' }, 'Users', view.name === 'users') : null,
      ),
      h('div', { class: 'spacer' }),
      status,
      h(
        'div',
        { class: 'who' },
        h('span', { class: 'user', 'data-field': 'user' }, session.username),
        session.admin ? h('span', { class: 'badge info' }, 'admin') : null,
        h('button', { type: 'button', class: 'btn ghost', 'data-action': 'logout', on: { click: () => logout() } }, 'Log out'),
      ),
    ),
    h('main', { class: 'main' }, flashArea, refreshError, viewArea),
  );
}

function logout(): void {
  api.logout();
  showLogin('Logged out.');
}

/** Shows the view the address names (the login first when there is no session). */
function route(): void {
  if (!api.session) {
    showLogin();
    return;
  }
  const view = parseHash(location.hash);
  // A message stays when an action moved to another view (a deletion), and goes otherwise.
  if (!keepFlash) fill(flashArea);
  keepFlash = false;
  fill(refreshError);
  fill(app, shell());
  const handle = mount(view);
  current = handle;
  document.title = `${handle.title} · mombroker`;
  fill(viewArea, handle.root);
  status.textContent = 'loading…';
  stopPolling();
  void tick();
}

function mount(view: View): ViewHandle {
  const ctx: ViewContext = {
    api,
    session: api.session!,
    rates,
    flash,
    refreshNow: () => {
      stopPolling();
      void tick();
    },
    navigate: (target) => {
      keepFlash = true;
      location.hash = hashOf(target);
    },
  };
  switch (view.name) {
    case 'overview':
      return overviewView(ctx);
    case 'exchange':
      return exchangeView(ctx, view.exchange);
    case 'queue':
    case 'subscription':
      return inboxView(ctx, view);
    case 'users':
      return usersView(ctx);
    case 'unknown':
      return {
        title: 'Not found',
        root: h('div', { class: 'view' }, h('h1', null, 'Nothing here'), h('p', null, 'This address names no view. ', h('a', { href: '#/' }, 'Back to the overview'), '.')),
        refresh: async () => {},
      };
  }
}

function flash(kind: 'ok' | 'error', text: string): void {
  const close = h('button', { type: 'button', class: 'close', 'aria-label': 'dismiss', on: { click: () => message.remove() } }, '×');
  const message = h('div', { class: `flash ${kind}` }, h('span', { 'data-flash': kind }, text), close);
  fill(flashArea, message);
}

function stopPolling(): void {
  if (timer !== undefined) window.clearTimeout(timer);
  timer = undefined;
}

/** Refreshes the current view, then plans the next refresh; one at a time. */
async function tick(): Promise<void> {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  const handle = current;
  if (!handle) return;
  refreshing = true;
  try {
    if (!document.hidden) {
      await handle.refresh();
      if (handle === current) {
        fill(refreshError);
        status.textContent = `live · updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
        status.classList.remove('stale');
      }
    }
  } catch (error) {
    if (handle === current && api.session) {
      fill(refreshError, h('span', null, describeError(error)));
      status.textContent = 'refresh failed';
      status.classList.add('stale');
    }
  } finally {
    refreshing = false;
  }
  if (!current || !api.session) return;
  stopPolling();
  // Asked again meanwhile (an action, a visible tab), or the view changed: refresh at once.
  if (refreshAgain || handle !== current) {
    refreshAgain = false;
    void tick();
  } else {
    timer = window.setTimeout(() => void tick(), POLL_MS);
  }
}

api.onSessionEnded = (reason) => showLogin(`Your session ended (${reason}). Log in again.`);
window.addEventListener('hashchange', () => route());
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && current) {
    stopPolling();
    void tick();
  }
});
showLogin();
