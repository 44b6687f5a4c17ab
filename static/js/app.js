// Behaviour every page may use, declared in the markup instead of inline handlers (the Content-Security-Policy
// refuses onclick=, onsubmit=, style= and inline <script>):
//   <form data-confirm="Really?">       asks before submitting
//   <select data-autosubmit>            submits its form when changed
//   <button data-print>                 opens the print dialog
//   <span data-bar-width="42">          a bar 42% wide (set through the CSSOM, which the policy allows)
// Listeners sit on the document, so content htmx swaps in later works too.
(function () {
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const message = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.addEventListener("change", function (event) {
    const field = event.target;
    if (field instanceof HTMLSelectElement && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.requestSubmit();
    }
  });

  document.addEventListener("click", function (event) {
    const button = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (button) window.print();
  });

  function sizeBars(root) {
    root.querySelectorAll("[data-bar-width]").forEach(function (bar) {
      const width = Math.min(100, Math.max(0, parseFloat(bar.dataset.barWidth) || 0));
      bar.style.width = width + "%";
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { sizeBars(document); });
  else sizeBars(document);
  document.addEventListener("htmx:afterSettle", function (event) { sizeBars(event.target instanceof Element ? event.target : document); });
})();
