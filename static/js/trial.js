// Trial page: draw the cycle-time histogram once the finished trial's data is on the page
// (on load, or when the htmx poll swaps in the final state).
(function () {
  const COLORS = { success: "#157347", failure: "#b42318", aborted: "#b54708" };

  function draw() {
    const data = document.getElementById("cycle-data");
    const target = document.getElementById("cycle-chart");
    if (!data || !target || !window.Plotly || target.dataset.drawn) return;
    const byOutcome = JSON.parse(data.textContent);
    const traces = Object.keys(byOutcome)
      .filter((k) => byOutcome[k].length)
      .map((k) => ({ type: "histogram", name: k, x: byOutcome[k], opacity: 0.75, marker: { color: COLORS[k] } }));
    if (!traces.length) return;
    Plotly.newPlot(target, traces, {
      barmode: "overlay",
      margin: { t: 30, r: 10, b: 40, l: 45 },
      title: { text: "Cycle time by outcome", font: { size: 14 } },
      xaxis: { title: { text: "cycle time (s)" } },
      yaxis: { title: { text: "episodes" } },
      legend: { orientation: "h", y: 1.12, x: 1, xanchor: "right" },
    }, { displayModeBar: false, responsive: true });
    target.dataset.drawn = "1";
  }

  window.addEventListener("load", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
