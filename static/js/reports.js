// ROI pages: draw every plotly figure the server built (reports/charts.py) into the element whose id
// is the figure's key. Figures arrive as JSON in <script id="roi-charts">; plotly.js is vendored.
(function () {
  function draw() {
    const data = document.getElementById("roi-charts");
    if (!data || !window.Plotly) return;
    const figures = JSON.parse(data.textContent);
    Object.keys(figures).forEach(function (id) {
      const target = document.getElementById(id);
      if (!target || target.dataset.drawn) return;
      const fig = figures[id];
      Plotly.newPlot(target, fig.data, fig.layout, { displayModeBar: false, responsive: true, staticPlot: document.body.classList.contains("print-page") });
      target.dataset.drawn = "1";
    });
    document.body.dataset.chartsDrawn = "1";
  }
  if (document.readyState === "complete") draw();
  else window.addEventListener("load", draw);
})();
