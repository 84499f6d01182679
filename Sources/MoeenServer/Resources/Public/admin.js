// Moeen Hub admin pages: small improvements over plain forms, which work without this script.
// "Test connection" runs in place: the form is posted with fetch (X-CSRF-Token header), the result is
// shown at once, then the log, health and sending sections are refreshed from the page itself.
(function () {
  "use strict";

  function text(tag, className, value) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (value !== undefined && value !== null) node.textContent = String(value);
    return node;
  }

  function refreshSections() {
    return fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["log-section", "health-section", "test-result", "delivery-section"].forEach(function (id) {
          var current = document.getElementById(id);
          var replacement = fresh.getElementById(id);
          if (current && replacement) current.innerHTML = replacement.innerHTML;
        });
        var badge = document.querySelector(".page-head [data-testid='health-score']");
        var freshBadge = fresh.querySelector(".page-head [data-testid='health-score']");
        if (badge && freshBadge) badge.outerHTML = freshBadge.outerHTML;
      });
  }

  function showResult(box, result, form) {
    var label = function (name, fallback) { return (form && form.getAttribute(name)) || fallback; };
    box.innerHTML = "";
    var wrapper = text("div", "result result-" + result.status);
    wrapper.setAttribute("data-testid", "test-result");
    wrapper.setAttribute("data-status", result.status);
    var icon = result.status === "success" ? "✓" : (result.status === "timeout" ? "⏱" : "✗");
    var head = text("p", "result-head");
    var mark = text("span", null, icon);
    mark.setAttribute("aria-hidden", "true");
    head.appendChild(mark);
    head.appendChild(document.createTextNode(" " + label("data-label-" + result.status, result.status)));
    wrapper.appendChild(head);
    // Our own success text in the page's language; a failure shows the provider's own words.
    var shown = result.status === "success" ? label("data-success-message", result.message) : result.message;
    var message = text("p", "result-message", shown);
    message.setAttribute("data-testid", "test-message");
    message.setAttribute("dir", "auto");
    wrapper.appendChild(message);
    var duration = Number(result.duration_ms).toLocaleString(document.documentElement.lang || undefined);
    wrapper.appendChild(text("p", "muted", duration + " " + label("data-ms-label", "ms") + (result.status_code ? " · HTTP " + result.status_code : "")));
    box.appendChild(wrapper);
  }

  function showProblem(box, message) {
    box.innerHTML = "";
    var problem = text("div", "result result-failed", message);
    problem.setAttribute("role", "alert");
    problem.setAttribute("data-testid", "test-error");
    box.appendChild(problem);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-testid='test-form']");
    var box = document.getElementById("test-result");
    if (!form || !box || !window.fetch) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type='submit']");
      var token = form.querySelector("input[name='csrf_token']").value;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      box.textContent = form.getAttribute("data-testing-label");
      fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Accept": "application/json",
          "Content-Type": "application/x-www-form-urlencoded",
          "X-CSRF-Token": token
        },
        body: new URLSearchParams(new FormData(form)).toString()
      })
        .then(function (response) {
          return response.json().catch(function () { return null; }).then(function (body) {
            if (response.ok && body && body.status) {
              showResult(box, body, form);
              return refreshSections();
            }
            var reason = body && body.error && body.error.message ? body.error.message : form.getAttribute("data-failed-label");
            showProblem(box, reason);
          });
        })
        .catch(function () { showProblem(box, form.getAttribute("data-failed-label")); })
        .then(function () {
          button.disabled = false;
          button.removeAttribute("aria-busy");
        });
    });
  });
})();
