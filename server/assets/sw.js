// SIPAS service worker: keeps the survey usable on a phone that loses its connection.
//
// - The application shell (script, wasm, stylesheet) is cached at install and refreshed in the
//   background (stale-while-revalidate), so the form starts fast and offline.
// - Survey pages are fetched from the network first (the server has the freshest draft) and
//   kept, so a reload while offline still shows the questionnaire.
// - Submissions are NOT handled here: the page keeps them in IndexedDB (the outbox) and sends
//   them when the connection returns or on the next visit; the server makes retries safe.
'use strict';

const CACHE = 'sipas-shell-v1';
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
  return url.pathname === '/' || url.pathname === '/s' || url.pathname.startsWith('/s/');
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
