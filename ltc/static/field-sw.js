// The field pages' service worker (ltc/desk/field.py serves it at /field-sw.js, scope
// /field). The shell page and its static files open from the cache without a network;
// the shell itself and every request for data go to the network first, so a signed-in
// user always gets the current page when there is signal. Nothing outside this server is
// fetched. The cache is named after the shell's content: a deploy replaces it.
var CACHE = "ltc-field-__VERSION__";
var SHELL = __SHELL__;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(SHELL);
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("ltc-field-") === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function networkFirst(request) {
  return fetch(request).then(function (response) {
    // A redirect (to the sign-in page) is the answer now, but not the shell to keep.
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put("/field", copy); });
    }
    return response;
  }).catch(function () {
    return caches.match("/field").then(function (kept) { return kept || Response.error(); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request, url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname === "/field") {
    event.respondWith(networkFirst(request));
  } else if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.match(request).then(function (kept) {
      return kept || fetch(request);
    }));
  }
  // Everything else (the APIs) goes to the network as it would without a worker; the page
  // keeps its worklist and waiting records in IndexedDB itself.
});
