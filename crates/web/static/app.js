// Live field validation: each input with data-validate="kind" asks
// /api/v1/validate/{kind} as the person types and shows the Russian message beside it.
// The form works without this script: the server checks everything on submit.
(function () {
  "use strict";

  function errorBox(input) {
    return document.getElementById(input.id + "-error");
  }

  function show(input, result) {
    var box = errorBox(input);
    var field = input.closest(".field");
    if (!input.value.trim()) {
      // An empty optional field is not an error while typing.
      input.removeAttribute("aria-invalid");
      input.classList.remove("is-valid");
      if (field) field.classList.remove("field-error");
      if (box) box.textContent = "";
      return;
    }
    if (result.valid) {
      input.removeAttribute("aria-invalid");
      input.classList.add("is-valid");
      if (field) field.classList.remove("field-error");
      if (box) box.textContent = "";
    } else {
      input.setAttribute("aria-invalid", "true");
      input.classList.remove("is-valid");
      if (field) field.classList.add("field-error");
      if (box) box.textContent = result.error ? result.error.message : "";
    }
  }

  function check(input) {
    var kind = input.getAttribute("data-validate");
    var params = new URLSearchParams({ value: input.value });
    if (kind === "account") {
      var bik = input.form && input.form.elements.namedItem("bik");
      if (bik) params.set("bik", bik.value);
    }
    var sent = input.value;
    fetch("/api/v1/validate/" + encodeURIComponent(kind) + "?" + params.toString(), {
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    })
      .then(function (r) { return r.ok || r.status === 404 ? r.json() : null; })
      .then(function (result) {
        // A server hiccup is not the person's mistake: say nothing, submit will check.
        if (!result) return;
        // Drop answers for a value the person has already changed.
        if (input.value === sent) show(input, result);
      })
      .catch(function () { /* offline: the server checks on submit */ });
  }

  function wire(input) {
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { check(input); }, 300);
    });
    input.addEventListener("blur", function () {
      clearTimeout(timer);
      check(input);
    });
  }

  // Fields shown only when another field has a value (data-when-field, data-when-equals).
  // Without this script they are all shown, each with a hint saying when to fill it.
  function conditions(form) {
    form.querySelectorAll("[data-when-field]").forEach(function (el) {
      var control = form.elements.namedItem(el.getAttribute("data-when-field"));
      var want = el.getAttribute("data-when-equals");
      var value = "";
      if (control && control.type === "checkbox") value = control.checked ? "да" : "нет";
      else if (control) value = control.value;
      el.hidden = want === "нет" ? value === "да" : value !== want;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("has-js");
    document.querySelectorAll("form").forEach(function (form) {
      if (!form.querySelector("[data-when-field]")) return;
      conditions(form);
      form.addEventListener("change", function () { conditions(form); });
    });
    document.querySelectorAll("input[data-validate]").forEach(wire);
    // The account's control key depends on the BIK: re-check it when the BIK changes.
    var bik = document.querySelector("input[name=bik]");
    var account = document.querySelector("input[name=account]");
    if (bik && account) {
      bik.addEventListener("change", function () { if (account.value.trim()) check(account); });
    }
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  });
})();

// Live password rules: every unmet rule of the policy, listed as the person types.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var input = document.querySelector("input[data-password-check]");
    var list = document.getElementById("password-rules");
    if (!input || !list) return;
    var timer = null;
    function check() {
      if (!input.value) { list.textContent = ""; return; }
      var sent = input.value;
      fetch("/api/v1/password/check", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ password: sent })
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (result) {
          if (!result || input.value !== sent) return;
          list.textContent = "";
          (result.unmet || []).forEach(function (rule) {
            var li = document.createElement("li");
            li.textContent = rule;
            list.appendChild(li);
          });
          input.setAttribute("aria-invalid", result.valid ? "false" : "true");
        })
        .catch(function () { /* the server checks on submit */ });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(check, 250);
    });
  });
})();
