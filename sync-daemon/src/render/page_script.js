(function () {
  // Injected by the preview gateway into every HTML page it serves. Reports
  // what the page sees to the gateway (POST __EVENTS_PATH__), which ties each
  // event to the revision on disk and answers with it; the same event then
  // goes to the editor window by postMessage (message format v1), to the
  // configured editor origins only.
  if (window.__previewReporter) return;
  window.__previewReporter = true;
  var ORIGINS = __EDITOR_ORIGINS__;
  // A render scheduled by an update runs after it: @vitejs/plugin-react
  // debounces its refresh by 16 ms.
  var SETTLE_MS = 20;
  // How long a page waits for Next's server component payloads to arrive.
  var RSC_WAIT_MS = 5000;
  var MAX_TEXT = 1000;
  var sent = 0;
  var windowStart = Date.now();
  var lastError = 0;

  function text(value) {
    var out;
    try {
      out = value instanceof Error ? value.message : typeof value === 'string' ? value : JSON.stringify(value);
    } catch (_) {
      out = String(value);
    }
    return String(out === undefined ? value : out).slice(0, MAX_TEXT);
  }
  function here() {
    return (location.pathname + location.search).slice(0, MAX_TEXT);
  }
  function tell(message) {
    if (window.parent === window) return;
    for (var i = 0; i < ORIGINS.length; i++) {
      try {
        window.parent.postMessage(message, ORIGINS[i]);
      } catch (_) {}
    }
  }
  // Events leave in the order they happened: one waiting for its source
  // map holds back the ones after it.
  var queue = Promise.resolve();
  // `arrived`: when (performance.now()) the page got the HMR message this
  // reports; sent as an age, so the gateway can tell which of the dev
  // server's pushes it was, on its own clock.
  function report(type, detail, where, arrived) {
    // At most 20 events a second leave the page; the gateway bounds it too.
    var now = Date.now();
    if (now - windowStart > 1000) {
      windowStart = now;
      sent = 0;
    }
    if (++sent > 20) return;
    var event = { type: type, url: here() };
    if (detail && detail.message !== undefined) event.message = text(detail.message);
    queue = queue
      .then(function () {
        return where ? sourceMapped(where) : detail;
      })
      .then(function (place) {
        if (place && place.file) event.file = String(place.file).slice(0, MAX_TEXT);
        if (place && place.line) event.line = Number(place.line) || undefined;
        if (arrived !== undefined) event.age_ms = Math.max(0, Math.round(performance.now() - arrived));
        send(event);
      })
      .catch(function () {});
  }
  function send(event) {
    var shown = { type: event.type, url: event.url };
    ['message', 'file', 'line'].forEach(function (key) {
      if (event[key] !== undefined) shown[key] = event[key];
    });
    var message = { source: 'preview', version: 1, type: event.type, revision: null, state: null, event: shown };
    fetch('__EVENTS_PATH__', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(event),
      keepalive: true,
      cache: 'no-store',
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (answer) {
        if (answer) {
          message.revision = answer.revision;
          message.state = answer.state;
        }
        tell(message);
      })
      .catch(function () {
        tell(message);
      });
  }
  function fileOf(url) {
    if (!url) return undefined;
    try {
      var parsed = new URL(url, location.href);
      return parsed.origin === location.origin ? parsed.pathname.replace(/^\//, '') : url;
    } catch (_) {
      return url;
    }
  }
  // Next refetches server components after their change (requests with
  // an `RSC: 1` header) and renders what comes back: counted while open.
  var rscInFlight = 0;
  var nativeFetch = window.fetch;
  if (nativeFetch) {
    window.fetch = function (input, init) {
      var result = nativeFetch.apply(this, arguments);
      var rsc = false;
      try {
        rsc = new Headers((init && init.headers) || (input && input.headers) || undefined).get('rsc') === '1';
      } catch (_) {}
      if (rsc) {
        // Open until the payload's last byte arrived (read from a copy of
        // the body; the router reads its own).
        rscInFlight++;
        var done = function () {
          rscInFlight--;
        };
        result
          .then(function (response) {
            return response.clone().arrayBuffer();
          })
          .then(done, done);
      }
      return result;
    };
  }

  // "Shown" once a render scheduled by the update had its moment, the
  // server components it refetched arrived, and the next frame was
  // painted, unless the page's code threw in between.
  function settled(type, arrived) {
    var errorsBefore = lastError;
    var waited = 0;
    function whenFetched() {
      if (rscInFlight > 0 && waited < RSC_WAIT_MS) {
        waited += 10;
        setTimeout(whenFetched, 10);
        return;
      }
      requestAnimationFrame(function () {
        setTimeout(function () {
          if (lastError === errorsBefore) report(type, undefined, undefined, arrived);
        }, 0);
      });
    }
    setTimeout(whenFetched, SETTLE_MS);
  }

  // The app's own frame of an error's stack (not a dependency's, not the
  // dev server's client), else where the browser says it was thrown.
  function located(error, file, line) {
    var stack = (error && error.stack) || '';
    var frames = stack.match(/https?:\/\/[^\s()]+:\d+:\d+/g) || [];
    for (var i = 0; i < frames.length; i++) {
      var parts = frames[i].match(/^(.*):(\d+):(\d+)$/);
      if (parts && !/\/node_modules\/|\/@(vite|react-refresh|fs)\/|\/_next\//.test(parts[1])) {
        return { file: fileOf(parts[1]), line: Number(parts[2]), url: parts[1], column: Number(parts[3]) };
      }
    }
    return { file: fileOf(file), line: line };
  }

  // A served module's line is not its source file's (the dev server
  // transformed it): the module's source map, inline as Vite serves it or
  // beside it, gives the source line. Same-origin modules only; any
  // failure keeps the served line.
  var BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function vlq(segment) {
    var values = [];
    var value = 0;
    var shift = 0;
    for (var i = 0; i < segment.length; i++) {
      var digit = BASE64.indexOf(segment.charAt(i));
      if (digit < 0) return [];
      value += (digit & 31) * Math.pow(2, shift);
      if (digit & 32) {
        shift += 5;
      } else {
        values.push(value % 2 ? -(value - 1) / 2 : value / 2);
        value = 0;
        shift = 0;
      }
    }
    return values;
  }
  // The source line (1-based) of a generated line and column (1-based):
  // the last mapped segment at or before the column, else the line's first.
  function sourceLine(mappings, line, column) {
    var lines = mappings.split(';');
    var original = 0;
    var found = null;
    for (var l = 0; l < lines.length && l < line; l++) {
      var generated = 0;
      var segments = lines[l] ? lines[l].split(',') : [];
      for (var s = 0; s < segments.length; s++) {
        var fields = vlq(segments[s]);
        generated += fields[0] || 0;
        if (fields.length < 4) continue;
        original += fields[2];
        if (l === line - 1 && (found === null || generated <= column - 1)) found = original + 1;
      }
    }
    return found;
  }
  function decodeInline(reference) {
    var comma = reference.indexOf(',');
    var data = reference.slice(comma + 1);
    if (/;base64$/.test(reference.slice(0, comma))) {
      var binary = atob(data);
      var bytes = new Uint8Array(binary.length);
      for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      return new TextDecoder().decode(bytes);
    }
    return decodeURIComponent(data);
  }
  function sourceMapped(where) {
    if (!where.url || !where.line) return Promise.resolve(where);
    var moduleUrl;
    try {
      moduleUrl = new URL(where.url, location.href);
    } catch (_) {
      return Promise.resolve(where);
    }
    if (moduleUrl.origin !== location.origin) return Promise.resolve(where);
    var lookup = fetch(moduleUrl.href, { cache: 'force-cache' })
      .then(function (response) {
        return response.ok ? response.text() : '';
      })
      .then(function (code) {
        var references = code.match(/\/\/[#@] sourceMappingURL=(\S+)\s*$/);
        if (!references) return null;
        var reference = references[1];
        if (/^data:/.test(reference)) return JSON.parse(decodeInline(reference));
        return fetch(new URL(reference, moduleUrl).href).then(function (response) {
          return response.ok ? response.json() : null;
        });
      })
      .then(function (map) {
        var line = map && typeof map.mappings === 'string' && sourceLine(map.mappings, where.line, where.column || 1);
        return line ? { file: where.file, line: line } : where;
      })
      .catch(function () {
        return where;
      });
    var bound = new Promise(function (resolve) {
      setTimeout(function () {
        resolve(where);
      }, 2000);
    });
    return Promise.race([lookup, bound]);
  }
  window.addEventListener('error', function (event) {
    if (!event.error && !event.message) return;
    lastError++;
    report('error', { message: event.error || event.message }, located(event.error, event.filename, event.lineno));
  });
  window.addEventListener('unhandledrejection', function (event) {
    lastError++;
    report('rejection', { message: event.reason }, located(event.reason));
  });
  var consoleError = console.error;
  console.error = function () {
    var parts = [];
    for (var i = 0; i < arguments.length; i++) parts.push(text(arguments[i]));
    report('console-error', { message: parts.join(' ') });
    return consoleError.apply(this, arguments);
  };

  // Navigation: the first load, and history changes of a client-side router.
  var lastUrl = here();
  function navigated() {
    var now = here();
    if (now !== lastUrl) {
      lastUrl = now;
      report('navigation');
    }
  }
  ['pushState', 'replaceState'].forEach(function (name) {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(this, arguments);
      navigated();
      return result;
    };
  });
  window.addEventListener('popstate', navigated);
  if (document.readyState === 'complete') settled('load');
  else window.addEventListener('load', function () { settled('load'); });

  // Vite: its client's HMR events, through the same hot context the app's
  // modules get (an import of /@vite/client, which every Vite page loads).
  import('/@vite/client')
    .then(function (client) {
      if (!client || !client.createHotContext) return;
      var hot = client.createHotContext('/__preview/page-script');
      // The update's message arrived at `beforeUpdate`; its modules were
      // fetched and run by `afterUpdate`.
      var arrivals = new WeakMap();
      hot.on('vite:beforeUpdate', function (payload) {
        if (payload && typeof payload === 'object') arrivals.set(payload, performance.now());
      });
      hot.on('vite:afterUpdate', function (payload) {
        var arrived = payload && typeof payload === 'object' ? arrivals.get(payload) : undefined;
        settled('hmr-applied', arrived === undefined ? performance.now() : arrived);
      });
      hot.on('vite:error', function (payload) {
        // Not counted against a settling update: Vite's error for the
        // revision before can arrive after the next one was applied.
        var err = (payload && payload.err) || {};
        // Errors from Vite's newer transform (oxc) carry no `loc`; their
        // message names the place: `╭─[ src/App.jsx:120:1 ]`.
        var place = err.loc ? null : String(err.message || '').match(/\[ ([^\s\]]+):(\d+):\d+ \]/);
        report('overlay', {
          message: err.message,
          file: (err.loc && err.loc.file) || err.id || (place ? place[1] : undefined),
          line: err.loc ? err.loc.line : place ? Number(place[2]) : undefined,
        });
      });
    })
    .catch(function () {});

  // Next: its dev overlay lives in a <nextjs-portal>; its HMR socket says
  // when a rebuild was applied.
  var overlaySeen = false;
  function nextOverlay() {
    var portal = document.querySelector('nextjs-portal');
    var root = portal && portal.shadowRoot;
    var dialog = root && root.querySelector('[data-nextjs-dialog], [data-nextjs-toast-errors]');
    if (dialog && !overlaySeen) {
      overlaySeen = true;
      var title = root.querySelector('#nextjs__container_errors_desc, [data-nextjs-error-overlay-title], h1, p');
      report('overlay', { message: (title || dialog).textContent });
    } else if (!dialog) {
      overlaySeen = false;
    }
  }
  new MutationObserver(function () {
    if (window.next) nextOverlay();
  }).observe(document.documentElement, { childList: true, subtree: true });
  var NativeSocket = window.WebSocket;
  if (NativeSocket) {
    window.WebSocket = function (url, protocols) {
      var socket = protocols === undefined ? new NativeSocket(url) : new NativeSocket(url, protocols);
      // `/_next/hmr` since Next 16, `/_next/webpack-hmr` before.
      if (/\/_next\/(webpack-)?hmr/.test(String(url))) {
        socket.addEventListener('message', function (event) {
          var arrived = performance.now();
          var data;
          try {
            data = JSON.parse(event.data);
          } catch (_) {
            return;
          }
          // Next 16 names a message by `type`, earlier versions by `action`.
          var kind = data && (data.type || data.action);
          var errors = (data && data.errors) || [];
          if (kind === 'built' && errors.length > 0) {
            // A compile error: `./app/page.js:68:4\nError: message\n code frame`.
            var lines = String(errors[0].message || '').split('\n');
            var place = (lines[0] || '').match(/^(.*):(\d+):\d+$/);
            report('overlay', {
              message: (lines[1] || lines[0] || '').replace(/^Error:\s*/, ''),
              file: place ? place[1].replace(/^\.\//, '') : undefined,
              line: place ? place[2] : undefined,
            });
          } else if (kind === 'built' || kind === 'turbopack-message' || kind === 'serverComponentChanges') {
            settled('hmr-applied', arrived);
          }
        });
      }
      return socket;
    };
    window.WebSocket.prototype = NativeSocket.prototype;
    ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].forEach(function (name) {
      window.WebSocket[name] = NativeSocket[name];
    });
  }
})();
