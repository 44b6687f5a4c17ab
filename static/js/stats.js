// Statistics panels: draw every plotly figure the server built (reports/stats_charts.py) into the element
// whose id is the figure's key; figures arrive as JSON in <script class="stats-charts">. Runs on load and
// after each htmx swap (the trial panel refreshes while the trial runs). The panel brings its own
// stylesheet, which may finish loading after the swap: a ResizeObserver re-fits each chart to its box.
(function () {
  const observer = window.ResizeObserver
    ? new ResizeObserver(function (entries) {
        entries.forEach(function (entry) {
          if (entry.target.dataset.drawn && window.Plotly) Plotly.Plots.resize(entry.target);
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
})();
