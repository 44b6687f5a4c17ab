// The one plotly drawer (ROI pages and statistics panels alike). The server builds each figure (reports'
// chart helpers) and puts a page's or panel's figures, keyed by the id of the element to draw into, as JSON
// in a <script type="application/json"> element: id "roi-charts" or class "stats-charts". Runs on load and
// after each htmx swap (the trial panel refreshes while the trial runs). On the one-page report
// (body.print-page, also printed to PDF) figures get smaller type and margins and no interaction.
(function () {
  const FIGURES = 'script[type="application/json"]#roi-charts, script[type="application/json"]#sweep-charts, script[type="application/json"].stats-charts';

  // A panel may bring its own stylesheet, which can finish loading after the swap: re-fit each chart to its
  // box when the box changes. A detached or hidden chart cannot be resized (plotly logs "Resize must be
  // passed a displayed plot div element"), so a chart that left the page is no longer watched.
  const observer = window.ResizeObserver
    ? new ResizeObserver(function (entries) {
        entries.forEach(function (entry) {
          const target = entry.target;
          if (!target.isConnected) { observer.unobserve(target); return; }
          if (target.dataset.drawn && window.Plotly && target.offsetParent !== null) Plotly.Plots.resize(target);
        });
      })
    : null;

  function forPrint(fig) {
    // The one-page report is printed on A4: smaller type and margins than on screen. A figure with a taller
    // top margin carries a row of labels above its plot (the histograms' P50): keep room for it below the title.
    const margin = fig.layout.margin || {};
    fig.layout.font = Object.assign({}, fig.layout.font, { size: 9 });
    fig.layout.title = Object.assign({}, fig.layout.title, { font: { size: 11 } });
    fig.layout.margin = { t: margin.t > 45 ? 42 : 28, r: margin.r > 40 ? 45 : 10, b: 32, l: margin.l > 100 ? 90 : 50 };
  }

  function drawAll() {
    if (!window.Plotly) return;
    const print = document.body.classList.contains("print-page");
    document.querySelectorAll(FIGURES).forEach(function (data) {
      const figures = JSON.parse(data.textContent);
      Object.keys(figures).forEach(function (id) {
        const target = document.getElementById(id);
        if (!target || target.dataset.drawn) return;
        const fig = figures[id];
        fig.layout = fig.layout || {};
        if (fig.layout.height) target.style.height = fig.layout.height + "px";
        if (print) forPrint(fig);
        Plotly.newPlot(target, fig.data, fig.layout, { displayModeBar: false, responsive: true, staticPlot: print });
        target.dataset.drawn = "1";
        if (observer && !print) observer.observe(target);
      });
    });
    document.body.dataset.chartsDrawn = "1";
  }

  function draw() {
    // Wait for stylesheets still loading (a swapped-in panel's): charts drawn before their CSS applies would
    // take the full page width.
    const pending = Array.from(document.querySelectorAll('link[rel="stylesheet"]')).filter(function (link) { return !link.sheet; });
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
