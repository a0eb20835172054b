/* AlphaTrader dashboard: charts from the page's own data, safe buttons, live updates.
 *
 * - Charts: every <script type="application/json" data-chart="ID"> holds a plotly figure
 *   ({data, layout}) for the element #ID; plotly.js comes from /static/plotly.min.js.
 * - Forms: data-confirm asks first; a submitted form's buttons are disabled (no double send).
 * - Live: a WebSocket to /ws (same-origin, the session cookie authenticates it) receives
 *   {type, data, at} events. The risk badge and the pending-signal count in the top bar
 *   follow them; when an event's type is one the page lists in <main data-live="...">, the
 *   page's #live region is fetched again and swapped in (unless the user is typing in it).
 */
(function () {
  "use strict";

  var PLOT_CONFIG = {
    displaylogo: false,
    responsive: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toImage"],
  };

  function renderCharts(root) {
    if (typeof window.Plotly === "undefined") {
      return;
    }
    root.querySelectorAll('script[type="application/json"][data-chart]').forEach(function (el) {
      var target = document.getElementById(el.getAttribute("data-chart"));
      if (!target) {
        return;
      }
      try {
        var fig = JSON.parse(el.textContent || "{}");
        window.Plotly.newPlot(target, fig.data || [], fig.layout || {}, PLOT_CONFIG);
      } catch (err) {
        target.textContent = "chart unavailable: " + err;
      }
    });
  }

  function wireForms(root) {
    root.querySelectorAll("form").forEach(function (form) {
      if (form.dataset.wired) {
        return;
      }
      form.dataset.wired = "1";
      form.addEventListener("submit", function (ev) {
        var question = form.getAttribute("data-confirm");
        if (question && !window.confirm(question)) {
          ev.preventDefault();
          return;
        }
        window.setTimeout(function () {
          form.querySelectorAll("button").forEach(function (b) {
            b.disabled = true;
          });
        }, 0);
      });
    });
  }

  // -- live updates -------------------------------------------------------------------
  var live = { events: 0, last: null, connected: false };
  window.alphatraderLive = live;
  var main = document.querySelector("main");
  var topics = ((main && main.getAttribute("data-live")) || "").split(/\s+/).filter(Boolean);
  var refreshTimer = null;
  var refreshing = false;

  function setText(selector, text) {
    document.querySelectorAll(selector).forEach(function (el) {
      el.textContent = text;
    });
  }

  function showRisk(data) {
    if (!data || !data.state) {
      return;
    }
    document.querySelectorAll("[data-risk-state]").forEach(function (el) {
      el.textContent = data.state;
      el.className = el.className.replace(/\bstate-[A-Z]+\b/g, "").trim() + " state-" + data.state;
      if (data.reason) {
        el.title = data.reason;
      }
    });
  }

  function showPending(data) {
    var count = null;
    if (Array.isArray(data)) {
      count = data.length;
    } else if (data && typeof data.pending_count === "number") {
      count = data.pending_count;
    } else if (data && Array.isArray(data.pending)) {
      count = data.pending.length;
    }
    if (count === null) {
      return;
    }
    document.querySelectorAll("[data-pending-count]").forEach(function (el) {
      el.textContent = String(count);
      el.hidden = count === 0;
    });
  }

  function typing(region) {
    var el = document.activeElement;
    return !!(el && region.contains(el) && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) &&
      (el.value || "") !== "");
  }

  function refresh() {
    var region = document.getElementById("live");
    if (!region || refreshing) {
      return;
    }
    if (typing(region)) {
      scheduleRefresh(2000);
      return;
    }
    refreshing = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } })
      .then(function (resp) {
        if (resp.redirected || !resp.ok) {
          throw new Error("refresh: HTTP " + resp.status);
        }
        return resp.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        if (fresh && !typing(region)) {
          region.replaceWith(fresh);
          renderCharts(fresh);
          wireForms(fresh);
          document.body.setAttribute("data-refreshed", String(Date.now()));
        }
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        refreshing = false;
      });
  }

  function scheduleRefresh(delay) {
    if (refreshTimer) {
      window.clearTimeout(refreshTimer);
    }
    refreshTimer = window.setTimeout(refresh, delay);
  }

  function onEvent(ev) {
    live.events += 1;
    live.last = ev;
    var dot = document.querySelector(".live-dot");
    if (dot) {
      dot.classList.add("pulse");
      window.setTimeout(function () { dot.classList.remove("pulse"); }, 400);
    }
    if (ev.type === "risk") {
      showRisk(ev.data);
    } else if (ev.type === "signal") {
      showPending(ev.data);
    }
    if (topics.indexOf(ev.type) >= 0) {
      scheduleRefresh(250);
    }
  }

  function connect(delay) {
    if (!("WebSocket" in window) || !document.body.hasAttribute("data-ws")) {
      return;
    }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var ws;
    try {
      ws = new WebSocket(scheme + window.location.host + document.body.getAttribute("data-ws"));
    } catch (err) {
      return;
    }
    var dot = document.querySelector(".live-dot");
    ws.onopen = function () {
      delay = 1000;
      live.connected = true;
      document.body.setAttribute("data-ws-state", "open");
      if (dot) {
        dot.classList.add("on");
        dot.title = "live updates on";
      }
    };
    ws.onmessage = function (msg) {
      try {
        onEvent(JSON.parse(msg.data));
      } catch (err) { /* ignore a malformed message */ }
    };
    ws.onclose = function (close) {
      live.connected = false;
      document.body.setAttribute("data-ws-state", "closed");
      if (dot) {
        dot.classList.remove("on");
        dot.title = "live updates off; reconnecting";
      }
      if (close.code === 4401 || close.code === 1008) {
        return; // not logged in (any more): the next page load goes to the login form
      }
      window.setTimeout(function () { connect(Math.min(delay * 2, 30000)); }, delay);
    };
  }

  function start() {
    renderCharts(document);
    wireForms(document);
    connect(1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
