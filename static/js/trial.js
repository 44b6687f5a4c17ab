// Trial page: draw the cycle-time histogram once the finished trial's data is on the page
// (on load, or when the htmx poll swaps in the final state).
(function () {
  const COLORS = { success: "#157347", failure: "#b42318", aborted: "#b54708" };

  function niceStep(raw) {
    if (!(raw > 0)) return 0;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const unit = raw / power;
    return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 2.5 ? 2.5 : unit <= 5 ? 5 : 10) * power;
  }

  function draw() {
    const data = document.getElementById("cycle-data");
    const target = document.getElementById("cycle-chart");
    if (!data || !target || !window.Plotly || target.dataset.drawn) return;
    const byOutcome = JSON.parse(data.textContent);
    const all = [].concat(...Object.values(byOutcome));
    if (!all.length) return;
    // One set of bins for every outcome, starting at 0 s or above: plotly's own binning picks each
    // trace's bins apart (failures' started at -2.5 s), so the bars could not be compared.
    const lo = Math.min(...all), hi = Math.max(...all);
    const size = niceStep((hi - lo) / Math.min(30, Math.max(5, Math.ceil(Math.sqrt(all.length))))) || 1;
    const start = Math.max(0, Math.floor(lo / size) * size);
    const xbins = { start: start, end: hi + size, size: size };
    const traces = Object.keys(byOutcome)
      .filter((k) => byOutcome[k].length)
      .map((k) => ({ type: "histogram", name: k, x: byOutcome[k], xbins: xbins, autobinx: false, opacity: 0.75, marker: { color: COLORS[k] } }));
    Plotly.newPlot(target, traces, {
      barmode: "overlay",
      margin: { t: 34, r: 10, b: 80, l: 45 },
      title: { text: "Cycle time by outcome", font: { size: 14 }, x: 0.01, xanchor: "left" },
      xaxis: { title: { text: "cycle time (s)" } },
      yaxis: { title: { text: "episodes" } },
      // Below the axis: on a phone the title takes the whole top line.
      legend: { orientation: "h", x: 0, y: -0.3, yanchor: "top" },
    }, { displayModeBar: false, responsive: true });
    target.dataset.drawn = "1";
  }

  window.addEventListener("load", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
