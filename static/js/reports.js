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
      if (fig.layout && fig.layout.height) target.style.height = fig.layout.height + "px";
      if (document.body.classList.contains("print-page")) {
        // The one-page report is printed on A4: smaller type and margins than on screen.
        fig.layout.font = Object.assign({}, fig.layout.font, { size: 9 });
        fig.layout.title = Object.assign({}, fig.layout.title, { font: { size: 11 } });
        // A figure with a taller top margin carries a row of labels above its plot (the histograms' P50): keep room
        // for it below the title.
        fig.layout.margin = { t: fig.layout.margin && fig.layout.margin.t > 45 ? 42 : 28, r: fig.layout.margin && fig.layout.margin.r > 40 ? 45 : 10, b: 32, l: fig.layout.margin && fig.layout.margin.l > 100 ? 90 : 50 };
      }
      Plotly.newPlot(target, fig.data, fig.layout, { displayModeBar: false, responsive: true, staticPlot: document.body.classList.contains("print-page") });
      target.dataset.drawn = "1";
    });
    document.body.dataset.chartsDrawn = "1";
  }
  if (document.readyState === "complete") draw();
  else window.addEventListener("load", draw);
})();
