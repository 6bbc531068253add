/* Small progressive enhancements; every page works without them. */
(function () {
  "use strict";

  // Fields a decision reveals (data-shown-when="decision=approve").
  function applyShownWhen(form) {
    form.querySelectorAll("[data-shown-when]").forEach(function (el) {
      var parts = el.getAttribute("data-shown-when").split("=");
      var checked = form.querySelector('input[name="' + parts[0] + '"]:checked');
      el.hidden = !(checked && checked.value === parts[1]);
    });
  }

  // A native <dialog> confirms an irreversible decision; keyboard: Tab between the buttons, Esc cancels.
  function confirmBeforeSubmit(form) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") return;
    var text = document.getElementById("confirm-text");
    var submit = form.querySelector('button[type="submit"]');
    form.addEventListener("submit", function (event) {
      var choice = form.querySelector('input[type="radio"]:checked');
      if (!choice || form.dataset.confirmed === "1") return;
      event.preventDefault();
      text.textContent = text.dataset.template.replace("__DECISION__", choice.dataset.label || choice.value);
      dialog.showModal();
      document.getElementById("confirm-yes").focus();
    });
    document.getElementById("confirm-yes").addEventListener("click", function () {
      form.dataset.confirmed = "1";
      dialog.close();
      form.submit();
    });
    document.getElementById("confirm-no").addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () { if (form.dataset.confirmed !== "1" && submit) submit.focus(); });
  }

  // Application drafts stay in this browser (localStorage), keyed by user and resource.
  function drafts(form) {
    var key = form.dataset.draftKey, note = document.getElementById("draft-note");
    var save = document.getElementById("save-draft"), discard = document.getElementById("discard-draft");
    var store;
    try { store = window.localStorage; } catch (e) { return; }
    if (!store || !save) return;
    save.hidden = false;
    function say(message) { note.textContent = message; note.hidden = false; }
    function collect() {
      var data = { items: [] };
      form.querySelectorAll("textarea, input[type=date]").forEach(function (el) { data[el.name] = el.value; });
      form.querySelectorAll('input[name="items"]:checked').forEach(function (el) { data.items.push(el.value); });
      data.savedAt = new Date().toLocaleString();
      return data;
    }
    function restore(data) {
      Object.keys(data).forEach(function (name) {
        var el = form.querySelector('textarea[name="' + name + '"], input[type=date][name="' + name + '"]');
        if (el) el.value = data[name];
      });
      form.querySelectorAll('input[name="items"]').forEach(function (el) { el.checked = data.items.indexOf(el.value) >= 0; });
    }
    var saved = store.getItem(key);
    if (saved) {
      discard.hidden = false;
      if (!form.dataset.hasErrors) {
        var data = JSON.parse(saved);
        restore(data);
        say(form.dataset.msgRestored + " " + data.savedAt);
      }
    }
    save.addEventListener("click", function () {
      var data = collect();
      store.setItem(key, JSON.stringify(data));
      discard.hidden = false;
      say(form.dataset.msgSaved + " " + data.savedAt);
    });
    discard.addEventListener("click", function () {
      store.removeItem(key);
      discard.hidden = true;
      say(form.dataset.msgDiscarded);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-clear-draft]").forEach(function (el) {
      try { window.localStorage.removeItem(el.dataset.clearDraft); } catch (e) { /* storage unavailable */ }
    });
    var taskForm = document.getElementById("task-form");
    if (taskForm) {
      applyShownWhen(taskForm);
      taskForm.addEventListener("change", function () { applyShownWhen(taskForm); });
      confirmBeforeSubmit(taskForm);
    }
    var applicationForm = document.getElementById("application-form");
    if (applicationForm) drafts(applicationForm);
  });
})();
