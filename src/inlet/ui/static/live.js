// Live updates and small interactions of the dashboard; plain JS, no library.
"use strict";

(function () {
  // A page with [data-live] listens to its stream and, when told that its data changed,
  // fetches itself again and swaps that element's contents: no reload, scroll kept.
  function live() {
    var region = document.getElementById("live");
    if (!region || !region.dataset.live || !window.EventSource) return;
    var source = new EventSource(region.dataset.live);
    var busy = false;
    var again = false;
    function refresh() {
      // A change told while a fetch is under way is fetched after it, never dropped.
      if (busy) { again = true; return; }
      busy = true;
      again = false;
      fetch(window.location.href, { credentials: "same-origin", headers: { "X-Inlet-Live": "1" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (text) {
          if (text === null) return;
          var page = new DOMParser().parseFromString(text, "text/html");
          var fresh = page.getElementById("live");
          if (!fresh) return;
          region.replaceChildren.apply(region, Array.from(fresh.childNodes));
          region.dataset.updated = String(Date.now());
          // The navigation's count of firing alerts comes with the page: keep it current.
          var alerts = document.querySelector(".nav-alerts");
          var freshAlerts = page.querySelector(".nav-alerts");
          if (alerts && freshAlerts) alerts.replaceChildren.apply(alerts, Array.from(freshAlerts.childNodes));
          if (!fresh.dataset.live) { source.close(); region.dataset.live = ""; }
          wire(region);
        })
        .catch(function () {})
        .finally(function () {
          busy = false;
          if (again && region.dataset.live) refresh();
        });
    }
    source.addEventListener("changed", refresh);
    // The stream compares with what it first saw when it connected: whatever changed
    // between this page's render and then (or while reconnecting) is fetched once here.
    source.addEventListener("open", refresh);
  }

  // Forms that ask before they act (cancel a run).
  function wire(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (form.dataset.wired) return;
      form.dataset.wired = "1";
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  // The login page's two tabs: a user's password or an API token.
  function tabs() {
    document.querySelectorAll("[data-tab]").forEach(function (tab) {
      tab.addEventListener("click", function () {
        document.querySelectorAll("[data-tab]").forEach(function (other) {
          other.setAttribute("aria-selected", other === tab ? "true" : "false");
        });
        document.querySelectorAll("[data-panel]").forEach(function (panel) {
          panel.hidden = panel.dataset.panel !== tab.dataset.tab;
        });
      });
    });
  }

  // Filters apply as soon as a select changes; a custom range shows its from and to
  // (without scripts they always show) and applies with the Apply button.
  function filters() {
    var form = document.getElementById("run-filters");
    if (!form) return;
    var range = document.getElementById("filter-range");
    function custom() {
      var on = range && range.value === "custom";
      form.querySelectorAll(".custom-range").forEach(function (field) { field.hidden = !on; });
      return on;
    }
    custom();
    form.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () {
        if (select === range && custom()) return;
        form.requestSubmit();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    live();
    wire(document);
    tabs();
    filters();
  });
})();
