// SIPAS service worker: keeps the survey usable on a phone that loses its connection.
//
// - The application shell (script, wasm, stylesheet) is cached at install and refreshed in the
//   background (stale-while-revalidate), so the form starts fast and offline.
// - Survey pages are fetched from the network first (the server has the freshest draft) and
//   kept, so a reload while offline still shows the questionnaire.
// - Submissions are NOT handled here: the page keeps them in IndexedDB (the outbox) and sends
//   them when the connection returns or on the next visit; the server makes retries safe.
// - Once a code's response is accepted, the page asks this worker to drop the copies of that
//   code's pages (message `forget-code`): a shared phone must not show them to the next person.
// - The cache name carries the build: the server puts a tag over the bundle's content hashes in
//   place of __SIPAS_BUILD__, so every build is a new worker whose activation drops the old
//   caches (old script, wasm and pages never outlive the build they belong to).
'use strict';

const CACHE = 'sipas-__SIPAS_BUILD__';
const SHELL = ['/pkg/sipas.js', '/pkg/sipas.wasm', '/pkg/sipas.css', '/favicon.svg'];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .catch(() => undefined)
      .then(() => self.skipWaiting()),
  );
});

// The page that registered the worker loaded before the worker existed: keep a copy of it now,
// so reloading it offline works from the first visit.
async function keepOpenPages() {
  const cache = await caches.open(CACHE);
  const windows = await self.clients.matchAll({ type: 'window' });
  await Promise.all(
    windows
      .map((client) => new URL(client.url))
      .filter((url) => url.origin === self.location.origin && isSurveyPage(url))
      .map((url) => cache.add(url.href).catch(() => undefined)),
  );
}

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
      .then(keepOpenPages),
  );
});

function isShell(url) {
  return url.pathname.startsWith('/pkg/') || url.pathname === '/favicon.svg';
}

function isSurveyPage(url) {
  return url.pathname === '/khao-sat' || url.pathname === '/s' || url.pathname.startsWith('/s/');
}

async function staleWhileRevalidate(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  const fresh = fetch(request)
    .then((response) => {
      if (response.ok) cache.put(request, response.clone());
      return response;
    })
    .catch(() => undefined);
  return cached || (await fresh) || Response.error();
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) cache.put(request, response.clone());
    return response;
  } catch (offline) {
    const cached =
      (await cache.match(request)) || (await cache.match(request, { ignoreSearch: true }));
    if (cached) return cached;
    throw offline;
  }
}

// A code as typed, printed or canonical compares equal: case, dashes and the look-alikes the
// code format forgives (O for 0, I and L for 1) are ignored.
function looseCode(text) {
  let decoded = text;
  try {
    decoded = decodeURIComponent(text);
  } catch (malformed) {
    // keep the raw text
  }
  return decoded.toUpperCase().replace(/[^0-9A-Z]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

// Deletes every cached page of one code (`/s/{code}`, with any query), in every cache.
async function forgetCode(code) {
  const wanted = looseCode(code);
  if (!wanted) return;
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      const url = new URL(request.url);
      const rest = url.pathname.startsWith('/s/') ? url.pathname.slice(3) : '';
      if (rest && !rest.includes('/') && looseCode(rest) === wanted) await cache.delete(request);
    }
  }
}

self.addEventListener('message', (event) => {
  const data = event.data;
  if (data && data.type === 'forget-code' && typeof data.code === 'string') {
    event.waitUntil(forgetCode(data.code));
  }
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  if (isShell(url)) {
    event.respondWith(staleWhileRevalidate(request));
  } else if (request.mode === 'navigate' && isSurveyPage(url)) {
    event.respondWith(networkFirst(request));
  }
});
