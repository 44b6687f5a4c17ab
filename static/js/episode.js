// Episode page: the timeline's markers seek the video(s); the trajectory plots (fetched as JSON from the
// page's data-trajectory-url) carry a vertical cursor that follows the video's currentTime. No inline
// script or style (the Content-Security-Policy refuses them): positions come from data-* attributes and
// are set through the CSSOM.
(function () {
  const CURSOR_EVERY_MS = 50;  // a plotly relayout per plot: 20 a second is smooth and cheap enough
  const COLORS = ["#1f4e8c", "#b42318", "#157347", "#b54708", "#6941c6", "#0e7490", "#7a5af8", "#475467"];
  let plots = [];
  let lastDrawn = -1;
  let lastDrawnAt = 0;

  function videos() {
    return Array.from(document.querySelectorAll("video[data-episode-video]"));
  }

  function span() {
    const timeline = document.querySelector(".timeline[data-span-s]");
    const fromTimeline = timeline ? parseFloat(timeline.dataset.spanS) : NaN;
    const durations = videos().map((v) => v.duration).filter((d) => isFinite(d) && d > 0);
    return Math.max(isFinite(fromTimeline) ? fromTimeline : 0, ...durations, 1e-3);
  }

  function placeMarkers() {
    document.querySelectorAll(".marker[data-left]").forEach(function (marker) {
      const left = Math.min(100, Math.max(0, parseFloat(marker.dataset.left) || 0));
      marker.style.left = left + "%";
    });
  }

  function showTime(t, force) {
    const out = document.querySelector("[data-video-time]");
    if (out) out.textContent = t.toFixed(2);
    const cursor = document.querySelector("[data-timeline-cursor]");
    if (cursor) cursor.style.left = Math.min(100, (100 * t) / span()) + "%";
    const now = performance.now();
    if (!force && Math.abs(t - lastDrawn) < 1e-3) return;
    if (!force && now - lastDrawnAt < CURSOR_EVERY_MS) return;
    lastDrawn = t;
    lastDrawnAt = now;
    const box = document.getElementById("trajectory-plots");
    if (box) box.dataset.cursorS = t.toFixed(3);
    plots.forEach(function (plot) {
      if (plot.isConnected) Plotly.relayout(plot, { "shapes[0].x0": t, "shapes[0].x1": t });
    });
  }

  function seek(t) {
    videos().forEach(function (video) {
      const end = isFinite(video.duration) ? video.duration : t;
      video.currentTime = Math.max(0, Math.min(t, end));
    });
    showTime(t, true);
  }

  function follow(video) {
    // timeupdate fires about 4 times a second: while playing, a frame loop moves the cursor smoothly.
    function frame() {
      showTime(video.currentTime, false);
      if (!video.paused && !video.ended) requestAnimationFrame(frame);
    }
    video.addEventListener("play", function () { requestAnimationFrame(frame); });
    video.addEventListener("timeupdate", function () { showTime(video.currentTime, false); });
    video.addEventListener("seeked", function () { showTime(video.currentTime, true); });
    video.addEventListener("pause", function () { showTime(video.currentTime, true); });
  }

  function layout(title, yTitle, tEnd) {
    return {
      height: 220,
      margin: { t: 30, r: 10, b: 40, l: 55 },
      title: { text: title, font: { size: 13 }, x: 0.01, xanchor: "left" },
      xaxis: { title: { text: "time (s)" }, range: [0, tEnd], zeroline: false },
      yaxis: { title: { text: yTitle }, zeroline: false },
      showlegend: true,
      legend: { orientation: "h", x: 1, y: 1.02, yanchor: "bottom", xanchor: "right", font: { size: 11 } },
      shapes: [{ type: "line", xref: "x", yref: "paper", x0: 0, x1: 0, y0: 0, y1: 1, line: { color: "#101828", width: 1.5, dash: "dot" } }],
    };
  }

  function line(name, t, y, i) {
    return { type: "scatter", mode: "lines", name: name, x: t, y: y, line: { color: COLORS[i % COLORS.length], width: 1.5 }, connectgaps: false };
  }

  function draw(target, traces, lay) {
    if (!target) return;
    if (!traces.length) { target.hidden = true; return; }
    // One series needs no legend: the title names it (and a legend would sit on the title).
    lay.showlegend = traces.length > 1;
    Plotly.newPlot(target, traces, lay, { displayModeBar: false, responsive: true });
    target.dataset.drawn = "1";
    plots.push(target);
  }

  function drawTrajectory(data) {
    const t = data.t_s;
    const tEnd = Math.max(span(), t.length ? t[t.length - 1] : 0);
    if (data.gripper) {
      draw(document.getElementById("plot-gripper"), [line("gripper", t, data.gripper, 0)], layout("Gripper opening", data.gripper_unit, tEnd));
    } else if (data.state) {
      // A cell whose state layout is not known: every proprio component, as it is.
      draw(document.getElementById("plot-gripper"), data.state.map((y, i) => line("state " + i, t, y, i)), layout("Proprio state", "value", tEnd));
    } else {
      draw(document.getElementById("plot-gripper"), [], {});
    }
    draw(document.getElementById("plot-height"), data.height ? [line("tool z", t, data.height, 1)] : [], layout("Tool height", "m", tEnd));
    draw(document.getElementById("plot-actions"), data.actions.map((y, i) => line("action " + i, t, y, i)), layout("Actions", "command", tEnd));
    const latencyKnown = data.latency_ms.some((v) => v !== null);
    draw(document.getElementById("plot-latency"), latencyKnown ? [line("latency", t, data.latency_ms, 3)] : [], layout("Policy latency", "ms", tEnd));
    const first = videos()[0];
    showTime(first ? first.currentTime : 0, true);
  }

  function loadTrajectory() {
    const box = document.getElementById("trajectory-plots");
    if (!box || !box.dataset.trajectoryUrl) return;
    const status = box.querySelector("[data-trajectory-status]");
    fetch(box.dataset.trajectoryUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.detail || "the trajectory could not be loaded (" + response.status + ")");
          return body;
        });
      })
      .then(function (data) {
        if (!window.Plotly) throw new Error("the plotting library did not load");
        drawTrajectory(data);
        if (status) status.remove();
        box.dataset.plotsDrawn = "1";
      })
      .catch(function (error) {
        if (status) status.textContent = "No plots: " + error.message + ".";
      });
  }

  function start() {
    placeMarkers();
    videos().forEach(follow);
    document.addEventListener("click", function (event) {
      const marker = event.target instanceof Element ? event.target.closest(".marker[data-seek]") : null;
      if (!marker) return;
      seek(parseFloat(marker.dataset.seek) || 0);
    });
    loadTrajectory();
  }

  // Plotly is loaded with defer before this script, so both are there by DOMContentLoaded.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
