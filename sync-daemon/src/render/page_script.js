(function () {
  // Injected by the preview gateway into every HTML page it serves. Reports
  // what the page sees to the gateway (POST __EVENTS_PATH__), which ties each
  // event to the revision on disk and answers with it; the same event then
  // goes to the editor window by postMessage (message format v1), to the
  // configured editor origins only.
  if (window.__previewReporter) return;
  window.__previewReporter = true;
  var ORIGINS = __EDITOR_ORIGINS__;
  var SETTLE_MS = 50;
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
  function report(type, detail) {
    // At most 20 events a second leave the page; the gateway bounds it too.
    var now = Date.now();
    if (now - windowStart > 1000) {
      windowStart = now;
      sent = 0;
    }
    if (++sent > 20) return;
    var event = { type: type, url: here() };
    if (detail) {
      if (detail.message !== undefined) event.message = text(detail.message);
      if (detail.file) event.file = String(detail.file).slice(0, MAX_TEXT);
      if (detail.line) event.line = Number(detail.line) || undefined;
    }
    var message = { source: 'preview', version: 1, type: type, revision: null, state: null, event: event };
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
  // "Shown" once the page had a frame to paint and a moment for a render
  // scheduled by the update, unless the page's code threw in between.
  function settled(type) {
    var errorsBefore = lastError;
    requestAnimationFrame(function () {
      setTimeout(function () {
        if (lastError === errorsBefore) report(type);
      }, SETTLE_MS);
    });
  }

  // The app's own frame of an error's stack (not a dependency's, not the
  // dev server's client), else where the browser says it was thrown.
  function located(error, file, line) {
    var stack = (error && error.stack) || '';
    var frames = stack.match(/https?:\/\/[^\s()]+:\d+:\d+/g) || [];
    for (var i = 0; i < frames.length; i++) {
      var parts = frames[i].match(/^(.*):(\d+):\d+$/);
      if (parts && !/\/node_modules\/|\/@(vite|react-refresh|fs)\/|\/_next\//.test(parts[1])) {
        return { file: fileOf(parts[1]), line: Number(parts[2]) };
      }
    }
    return { file: fileOf(file), line: line };
  }
  window.addEventListener('error', function (event) {
    if (!event.error && !event.message) return;
    lastError++;
    var where = located(event.error, event.filename, event.lineno);
    report('error', { message: event.error || event.message, file: where.file, line: where.line });
  });
  window.addEventListener('unhandledrejection', function (event) {
    lastError++;
    var where = located(event.reason);
    report('rejection', { message: event.reason, file: where.file, line: where.line });
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
      hot.on('vite:afterUpdate', function () {
        settled('hmr-applied');
      });
      hot.on('vite:error', function (payload) {
        // Not counted against a settling update: Vite's error for the
        // revision before can arrive after the next one was applied.
        var err = (payload && payload.err) || {};
        report('overlay', {
          message: err.message,
          file: (err.loc && err.loc.file) || err.id,
          line: err.loc && err.loc.line,
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
      if (String(url).indexOf('/_next/webpack-hmr') !== -1) {
        socket.addEventListener('message', function (event) {
          var data;
          try {
            data = JSON.parse(event.data);
          } catch (_) {
            return;
          }
          if (data && (data.action === 'built' || data.type === 'turbopack-message' || data.action === 'serverComponentChanges')) {
            settled('hmr-applied');
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
