// Statistics panels: draw every plotly figure the server built (reports/stats_charts.py) into the element
// whose id is the figure's key; figures arrive as JSON in <script class="stats-charts">. Runs on load and
// after each htmx swap (the trial panel refreshes while the trial runs). The panel brings its own
// stylesheet, which may finish loading after the swap: a ResizeObserver re-fits each chart to its box.
(function () {
  const observer = window.ResizeObserver
    ? new ResizeObserver(function (entries) {
        entries.forEach(function (entry) {
          const target = entry.target;
          // A live refresh swaps the panel out: a detached or hidden chart cannot be resized (plotly
          // logs "Resize must be passed a displayed plot div element"), so stop watching it instead.
          if (!target.isConnected) { observer.unobserve(target); return; }
          if (target.dataset.drawn && window.Plotly && target.offsetParent !== null) Plotly.Plots.resize(target);
        });
      })
    : null;

  function drawAll() {
    if (!window.Plotly) return;
    document.querySelectorAll("script.stats-charts").forEach(function (data) {
      const figures = JSON.parse(data.textContent);
      Object.keys(figures).forEach(function (id) {
        const target = document.getElementById(id);
        if (!target || target.dataset.drawn) return;
        const fig = figures[id];
        if (fig.layout && fig.layout.height) target.style.height = fig.layout.height + "px";
        Plotly.newPlot(target, fig.data, fig.layout, { displayModeBar: false, responsive: true });
        target.dataset.drawn = "1";
        if (observer) observer.observe(target);
      });
    });
    document.body.dataset.statsDrawn = "1";
  }

  function draw() {
    // Wait for the panel's stylesheet: charts drawn before it applies would take the full page width.
    const pending = Array.from(document.querySelectorAll('link[rel="stylesheet"][href*="stats.css"]')).filter(
      function (link) { return !link.sheet; }
    );
    if (!pending.length) return drawAll();
    pending.forEach(function (link) { link.addEventListener("load", drawAll, { once: true }); });
  }

  if (document.readyState === "complete") draw();
  else window.addEventListener("load", draw);
  document.addEventListener("htmx:afterSettle", draw);
  // Before a swap replaces charts, stop observing and free them (their plotly listeners would outlive them).
  document.addEventListener("htmx:beforeSwap", function (event) {
    const old = event.detail.target;
    if (!event.detail.shouldSwap || !old || !old.querySelectorAll) return;  // a 204 keeps the charts
    old.querySelectorAll("[data-drawn]").forEach(function (chart) {
      if (observer) observer.unobserve(chart);
      if (window.Plotly) Plotly.purge(chart);
    });
  });
})();
