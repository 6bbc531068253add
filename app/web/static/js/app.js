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

  document.addEventListener("DOMContentLoaded", function () {
    var taskForm = document.getElementById("task-form");
    if (taskForm) {
      applyShownWhen(taskForm);
      taskForm.addEventListener("change", function () { applyShownWhen(taskForm); });
      confirmBeforeSubmit(taskForm);
    }
  });
})();
