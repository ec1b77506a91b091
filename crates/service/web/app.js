// The web app's entry: sign-in with a pasted token, the header (day, clock, live status),
// and the screen of the account's role, refreshed on the events of /v1/events.

import { h, fill } from './dom.js';
import { api, token, listen } from './api.js';
import { t, lang, duration } from './i18n.js';
import * as citizen from './citizen.js';
import * as kol from './kol.js';
import * as brand from './brand.js';
import * as reporter from './reporter.js';
import * as operator from './operator.js';

const SCREENS = { citizen, kol, brand, reporter, operator };

const main = document.getElementById('main');
const status = document.getElementById('status');
const toasts = document.getElementById('toasts');

/** A short message at the bottom of the screen; `kind` 'error' shows it in red. */
export function toast(message, kind = 'info') {
  const el = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, message);
  toasts.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

// The open day and, with a day clock, when it closes (the countdowns read it).
const clock = { day: null, dayLengthMs: null, closesAt: null };

async function readClock() {
  const current = await api('/v1/days/current');
  clock.day = current.day;
  clock.dayLengthMs = current.clock?.day_length_ms ?? null;
  const next = current.clock?.next_close_in_ms;
  clock.closesAt = next == null ? null : Date.now() + next;
  renderStatus();
}

let live = 'offline';

function renderStatus() {
  const parts = [h('span.day', t('day_n', { day: clock.day ?? '…' }))];
  if (clock.closesAt) parts.push(h('span.next', t('closes_in', { time: duration(clock.closesAt - Date.now()) })));
  parts.push(h(`span.live.${live}`, { title: t(live) }, t(live)));
  fill(status, parts);
}

setInterval(() => { if (clock.closesAt) renderStatus(); }, 1000);

function signIn(message) {
  document.body.dataset.role = '';
  fill(document.getElementById('who'));
  fill(status);
  const input = h('input#token', {
    type: 'password', autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: t('token_placeholder'), 'aria-label': t('token_label'),
  });
  const error = h('p.error', { role: 'alert' }, message || '');
  const form = h('form.card.signin', {
    onsubmit: async (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!/^[0-9a-fA-F]{64}$/.test(value)) {
        fill(error, t('token_malformed'));
        return;
      }
      token.set(value.toLowerCase());
      await start();
    },
  },
  h('h2', t('sign_in')),
  h('p', t('sign_in_help')),
  h('label', { for: 'token' }, t('token_label')),
  input,
  h('button.primary', { type: 'submit' }, t('sign_in')),
  error,
  h('p.muted', t('about')));
  fill(main, form);
  input.focus();
}

let stopEvents = null;

function signOut() {
  stopEvents?.();
  stopEvents = null;
  token.clear();
  signIn();
}

async function start() {
  let me;
  try {
    me = await api('/v1/me');
  } catch (error) {
    token.clear();
    signIn(error.status === 401 ? t('token_unknown') : error.message);
    return;
  }
  const screen = SCREENS[me.role];
  document.body.dataset.role = me.role;
  fill(document.getElementById('who'),
    h('span.role', t(`role_${me.role}`)), ' ', h('span.name', me.name || `#${me[me.role] ?? me.account}`), ' ',
    h('button.link#signout', { onclick: signOut }, t('sign_out')));
  const root = h('div.screen');
  fill(main, root);
  await readClock().catch(() => {});
  const view = screen.mount(root, { me, toast, clock, api });
  // Events come in bursts (a day close sends several): one refresh for a burst. While one
  // is scheduled or running, <body data-refreshing> says so (the tests wait for calm).
  let pending = null;
  const refresh = () => {
    clearTimeout(pending);
    document.body.dataset.refreshing = '1';
    pending = setTimeout(async () => {
      await view.refresh().catch((error) => toast(error.message, 'error'));
      delete document.body.dataset.refreshing;
    }, 120);
  };
  await view.refresh().catch((error) => toast(error.message, 'error'));
  stopEvents?.();
  const setLive = (state) => {
    live = state;
    document.body.dataset.live = state;
    renderStatus();
  };
  stopEvents = listen(async (kind, data) => {
    if (kind === 'ready') {
      // (Re)connected: whatever happened while offline is read again; only then is the
      // page live (the tests wait for that).
      await view.refresh().catch((error) => toast(error.message, 'error'));
      setLive('live');
      return;
    }
    if (kind === 'day_closed') readClock().catch(() => {});
    const note = view.onEvent?.(kind, data);
    if (note) toast(note);
    refresh();
  }, setLive);
}

function boot() {
  document.documentElement.lang = lang;
  document.title = t('title');
  fill(document.querySelector('header h1'), h('img', { src: '/app/icon.svg', alt: '', width: 24, height: 24 }), ' ', t('title'));
  // A token may come in the fragment (a link handed out in class): it never reaches a
  // server, and is removed from the address bar at once.
  const match = location.hash.match(/token=([0-9a-fA-F]{64})/);
  if (match) {
    token.set(match[1].toLowerCase());
    history.replaceState(null, '', location.pathname);
  }
  if (token.get()) start();
  else signIn();
}

boot();
