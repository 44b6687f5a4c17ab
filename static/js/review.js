// Keyboard review on /trials/<pk>/review/ (as LeRobot's real-robot evaluation marks episodes by key):
//   j / ArrowDown / ArrowRight  next episode        k / ArrowUp / ArrowLeft  previous episode
//   s success · f failure · a aborted · c confirm the shown outcome · r type a reason · x select for bulk
// The forms are plain POSTs (they work without this file); a key only clicks a card's button. An override
// needs a reason, so s/f/a on another outcome with an empty reason opens the reason field and Enter sends
// that outcome. No inline script: the Content-Security-Policy refuses it.
(function () {
  const cards = Array.from(document.querySelectorAll("[data-review-card]"));
  if (!cards.length) return;
  let current = 0;
  const pending = new WeakMap(); // card -> the outcome key waiting for its reason

  function show(position, scroll) {
    current = Math.max(0, Math.min(cards.length - 1, position));
    cards.forEach(function (card, i) { card.classList.toggle("is-current", i === current); });
    if (scroll) cards[current].scrollIntoView({ block: "nearest" });
  }

  function button(card, key) { return card.querySelector('[data-review-key="' + key + '"]'); }

  function press(card, key) {
    const target = button(card, key);
    if (!target) return;
    const reason = card.querySelector("[data-review-reason]");
    const override = key !== "c" && target.value !== card.dataset.outcome;
    if (override && reason && !reason.value.trim()) {
      pending.set(card, key);
      reason.placeholder = "why " + target.value + "? (Enter sends the override, Esc cancels)";
      reason.focus();
      return;
    }
    target.click();
  }

  const hashed = cards.findIndex(function (card) { return "#" + card.id === window.location.hash; });
  show(hashed >= 0 ? hashed : 0, hashed >= 0);

  cards.forEach(function (card, i) {
    card.addEventListener("focusin", function () { show(i, false); });
    const reason = card.querySelector("[data-review-reason]");
    if (!reason) return;
    reason.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { pending.delete(card); reason.blur(); return; }
      if (event.key === "Enter" && pending.has(card)) {
        event.preventDefault();
        const target = button(card, pending.get(card));
        pending.delete(card);
        if (target) target.click();
      }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const t = event.target;
    if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) {
      if (!(t instanceof HTMLInputElement && t.type === "checkbox")) return;
    }
    if (t instanceof HTMLVideoElement && (event.key === "ArrowLeft" || event.key === "ArrowRight")) return;
    const card = cards[current];
    switch (event.key) {
      case "j": case "ArrowDown": case "ArrowRight": show(current + 1, true); break;
      case "k": case "ArrowUp": case "ArrowLeft": show(current - 1, true); break;
      case "s": press(card, "s"); break;
      case "f": press(card, "f"); break;
      case "a": press(card, "a"); break;
      case "c": press(card, "c"); break;
      case "r": { const r = card.querySelector("[data-review-reason]"); if (r) r.focus(); break; }
      case "x": { const box = card.querySelector("[data-review-select]"); if (box) box.checked = !box.checked; break; }
      default: return;
    }
    event.preventDefault();
  });
})();
