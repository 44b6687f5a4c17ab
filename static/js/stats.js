// Statistics panels: draw every plotly figure the server built (reports/stats_charts.py) into the element
// whose id is the figure's key; figures arrive as JSON in <script class="stats-charts">. Runs on load and
// after each htmx swap (the trial panel refreshes while the trial runs).
(function () {
  function draw() {
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
      });
    });
    document.body.dataset.statsDrawn = "1";
  }
  if (document.readyState === "complete") draw();
  else window.addEventListener("load", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
