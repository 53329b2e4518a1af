// The console: a hash-routed single-page app over the JSON admin API. Each page module
// exports render(main, ctx); ctx gives the route's arguments and query, whether the console is
// read-only (then no page offers a write action), navigate(), alive() (false once the user
// left the page: stop polling) and onCleanup(fn).

import { del, get, setCsrfToken, setUnauthorizedHandler } from './api.js';
import { busy, errorBox, h } from './ui.js';
import * as cluster from './pages/cluster.js';
import * as group from './pages/group.js';
import * as groups from './pages/groups.js';
import * as login from './pages/login.js';
import * as messages from './pages/messages.js';
import * as security from './pages/security.js';
import * as overview from './pages/overview.js';
import * as topic from './pages/topic.js';
import * as topics from './pages/topics.js';
import * as transactions from './pages/transactions.js';

const routes = [
  [/^\/$/, overview, 'overview'],
  [/^\/topics$/, topics, 'topics'],
  [/^\/topics\/([^/]+)$/, topic, 'topics'],
  [/^\/topics\/([^/]+)\/messages$/, messages, 'topics'],
  [/^\/topics\/([^/]+)\/producers$/, { render: transactions.renderProducers }, 'topics'],
  [/^\/groups$/, groups, 'groups'],
  [/^\/groups\/([^/]+)$/, group, 'groups'],
  [/^\/cluster$/, cluster, 'cluster'],
  [/^\/transactions$/, transactions, 'transactions'],
  [/^\/security$/, security, 'security'],
];

let session = null;
let generation = 0;
let cleanups = [];

function current() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const at = raw.indexOf('?');
  return at < 0
    ? { path: raw, params: new URLSearchParams() }
    : { path: raw.slice(0, at), params: new URLSearchParams(raw.slice(at + 1)) };
}

/// Goes to `path` with the query `params` (unset ones dropped).
export function navigate(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  const hash = '#' + path + (s ? '?' + s : '');
  if (location.hash === hash) route();
  else location.hash = hash;
}

function leavePage() {
  generation += 1;
  for (const fn of cleanups) {
    try { fn(); } catch (_) { /* a page's cleanup failing must not block the next page */ }
  }
  cleanups = [];
}

function showWho() {
  const who = document.getElementById('who');
  document.getElementById('read-only-badge').hidden = !session.read_only;
  if (session.user) {
    const out = h('button', { type: 'button', id: 'logout', class: 'link' }, 'Log out');
    out.addEventListener('click', () => busy(out, async () => {
      await del('/session');
      await loadSession();
      route();
    }));
    who.replaceChildren(h('span', { id: 'user' }, session.user), ' ', out);
  } else {
    who.replaceChildren();
  }
}

async function loadSession() {
  session = await get('/session');
  setCsrfToken(session.csrf_token);
  showWho();
}

async function route() {
  leavePage();
  const mine = generation;
  const main = document.getElementById('main');
  main.replaceChildren();
  document.getElementById('nav').hidden = false;
  if (session.authentication_required && !session.user) {
    document.getElementById('nav').hidden = true;
    login.render(main, {
      onLogin: async (answer) => {
        session = answer;
        setCsrfToken(session.csrf_token);
        showWho();
        route();
      },
    });
    return;
  }
  const { path, params } = current();
  for (const [pattern, page, nav] of routes) {
    const m = path.match(pattern);
    if (!m) continue;
    for (const a of document.querySelectorAll('#nav a')) {
      a.classList.toggle('active', a.dataset.page === nav);
    }
    document.body.dataset.page = nav;
    const ctx = {
      args: m.slice(1).map(decodeURIComponent),
      params,
      readOnly: session.read_only,
      navigate,
      alive: () => mine === generation,
      onCleanup: (fn) => cleanups.push(fn),
    };
    try {
      await page.render(main, ctx);
    } catch (e) {
      if (ctx.alive()) main.append(errorBox(e));
    }
    return;
  }
  main.append(h('p', {}, 'No such page. ', h('a', { href: '#/' }, 'Back to the overview')));
}

setUnauthorizedHandler(async () => {
  // The session ended (or the login was refused): back to the login form.
  try {
    await loadSession();
  } catch (_) {
    return;
  }
  if (session.authentication_required && !session.user) route();
});

window.addEventListener('hashchange', route);

(async () => {
  try {
    await loadSession();
  } catch (e) {
    document.getElementById('main').replaceChildren(errorBox(e));
    return;
  }
  route();
})();
