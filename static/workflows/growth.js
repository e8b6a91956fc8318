/* Growth charts of the admin (uPlot, vendored): a sample's curves per run, a campaign's per plate.
 *
 * The data comes with the page (Django's json_script): points in hours in culture, fitted curves
 * sampled as [hours, percent] pairs, the forecast curve and the threshold. Nothing is fetched.
 */
(function () {
  "use strict";

  var COLORS = {
    confluence: "#1f5fa8",
    fit: "#0b3566",
    viability: "#2e8540",
    count: "rgba(192, 90, 0, 0.75)",
    threshold: "#c62828",
    passage: "#777",
  };
  // Distinct hues for a line per plate; past twelve plates the same hues come back dashed.
  var PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939",
  ];
  var METRIC_LABELS = { confluence: "confluence (%)", viability: "viability (%)", cell_count: "cell count" };

  function readJson(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function key(x) {
    return Math.round(x * 1000) / 1000;
  }

  // uPlot wants every series on one x array: merge the x values of all series, null where a series has none.
  function align(seriesPoints) {
    var xs = {};
    seriesPoints.forEach(function (points) {
      points.forEach(function (p) { xs[key(p[0])] = true; });
    });
    var x = Object.keys(xs).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    x.forEach(function (value, i) { index[value] = i; });
    var data = [x];
    seriesPoints.forEach(function (points) {
      var ys = new Array(x.length).fill(null);
      points.forEach(function (p) { ys[index[key(p[0])]] = p[1]; });
      data.push(ys);
    });
    return data;
  }

  function pointsOf(points, metric) {
    return points.map(function (p) { return [p.hours, p[metric]]; });
  }

  function thresholdLine(value, xs) {
    if (!xs.length) { return []; }
    var low = Math.min.apply(null, xs), high = Math.max.apply(null, xs);
    return [[Math.min(0, low), value], [high, value]];
  }

  function allHours(lists) {
    var xs = [];
    lists.forEach(function (points) { points.forEach(function (p) { xs.push(p[0]); }); });
    return xs;
  }

  function markersOnly() { return null; }

  // The x series: its legend cell reads the hovered time in culture.
  function hoursSeries() {
    return {
      label: "time in culture",
      value: function (u, v) { return v == null ? "-" : v.toFixed(1) + " h"; },
    };
  }

  // Passages as x values, so the x range reaches a passage after the last imaging.
  function passagePoints(passages) {
    return (passages || []).map(function (hours) { return [hours, null]; });
  }

  // Vertical dotted lines where the culture was passaged.
  function passageHook(passages) {
    return function (u) {
      if (!passages || !passages.length) { return; }
      var ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = COLORS.passage;
      ctx.setLineDash([2, 4]);
      ctx.lineWidth = 1;
      ctx.fillStyle = COLORS.passage;
      ctx.font = 11 * devicePixelRatio + "px sans-serif";
      passages.forEach(function (hours) {
        var x = Math.round(u.valToPos(hours, "x", true));
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) { return; }
        ctx.beginPath();
        ctx.moveTo(x, u.bbox.top);
        ctx.lineTo(x, u.bbox.top + u.bbox.height);
        ctx.stroke();
        ctx.fillText("passage", x + 4, u.bbox.top + 12 * devicePixelRatio);
      });
      ctx.restore();
    };
  }

  function percentScale() {
    return { range: [0, 100] };
  }

  function width(element, fallback) {
    return Math.max(element.clientWidth || 0, fallback);
  }

  function sampleChart(element, chart) {
    var fits = chart.fits || [];
    var lists = [pointsOf(chart.points, "confluence")];
    var series = [
      hoursSeries(),
      {
        label: "confluence (%)", scale: "%", stroke: COLORS.confluence, paths: markersOnly,
        points: { show: true, size: 8, fill: COLORS.confluence },
      },
    ];
    fits.forEach(function (curve, i) {
      lists.push(curve);
      series.push({
        label: i === fits.length - 1 ? "fitted curve" : "fitted curve, before passage " + (i + 1),
        scale: "%", stroke: COLORS.fit, width: 2, spanGaps: true, points: { show: false },
      });
    });
    if (chart.forecast && chart.forecast.length) {
      lists.push(chart.forecast);
      series.push({
        label: "forecast", scale: "%", stroke: COLORS.fit, width: 2, dash: [8, 6], spanGaps: true,
        points: { show: false },
      });
    }
    var xs = allHours(lists.concat([passagePoints(chart.passages)]));
    lists.push(thresholdLine(chart.threshold.value, xs));
    series.push({
      label: "threshold " + chart.threshold.value + " %", scale: "%", stroke: COLORS.threshold, width: 2,
      spanGaps: true, points: { show: false },
    });
    lists.push(pointsOf(chart.points, "viability"));
    series.push({
      label: "viability (%)", scale: "%", stroke: COLORS.viability, width: 1, spanGaps: true,
      points: { show: true, size: 5, fill: COLORS.viability },
    });
    lists.push(pointsOf(chart.points, "cell_count"));
    series.push({
      label: "cell count", scale: "count", stroke: COLORS.count, width: 1, spanGaps: true,
      points: { show: true, size: 5, fill: COLORS.count },
      value: function (u, v) { return v == null ? "-" : Math.round(v).toLocaleString(); },
    });
    var options = {
      width: width(element, 600),
      height: 380,
      series: series,
      scales: {
        x: { time: false },
        "%": percentScale(),
        count: { range: function (u, min, max) { return [0, Math.max(max || 0, 1) * 1.1]; } },
      },
      axes: [
        { label: "time in culture (h)" },
        { scale: "%", label: "confluence, viability (%)" },
        {
          scale: "count", side: 1, label: "cell count", grid: { show: false }, size: 70,
          values: function (u, values) { return values.map(function (v) { return v >= 1000 ? v / 1000 + "k" : v; }); },
        },
      ],
      legend: { live: true },
      hooks: { draw: [passageHook(chart.passages)] },
    };
    return new uPlot(options, align(lists), element);
  }

  function plateSeries(plate, index, metric) {
    var color = PALETTE[index % PALETTE.length];
    var dashed = Math.floor(index / PALETTE.length) % 2 === 1;
    return {
      label: plate.plate, scale: metric === "cell_count" ? "count" : "%", stroke: color, width: 2,
      dash: dashed ? [6, 3] : undefined, spanGaps: true, points: { show: true, size: 5, fill: color },
    };
  }

  function overviewChart(element, growth, metric) {
    var lists = [], series = [hoursSeries()];
    growth.plates.forEach(function (plate, i) {
      lists.push(pointsOf(plate.points, metric));
      series.push(plateSeries(plate, i, metric));
    });
    var percent = metric !== "cell_count";
    if (metric === "confluence") {
      lists.push(thresholdLine(growth.threshold.value, allHours(lists)));
      series.push({
        label: "threshold " + growth.threshold.value + " %", scale: "%", stroke: COLORS.threshold, width: 2,
        spanGaps: true, points: { show: false },
      });
    }
    var options = {
      width: width(element, 600),
      height: 420,
      series: series,
      focus: { alpha: 0.25 },
      cursor: { focus: { prox: 24 } },
      scales: {
        x: { time: false },
        "%": percentScale(),
        count: { range: function (u, min, max) { return [0, Math.max(max || 0, 1) * 1.1]; } },
      },
      axes: [
        { label: "time in culture (h)" },
        percent
          ? { scale: "%", label: METRIC_LABELS[metric] + ", mean of the plate" }
          : { scale: "count", label: "cell count, mean of the plate", size: 70 },
      ],
    };
    return new uPlot(options, align(lists), element);
  }

  function plateCaption(plate, threshold) {
    var parts = [];
    if (plate.doubling_hours != null) { parts.push("doubling " + plate.doubling_hours.toFixed(1) + " h"); }
    if (plate.reached) {
      parts.push("at " + threshold.value + " % (measured)");
    } else if (plate.forecast_hours != null) {
      parts.push(threshold.value + " % at " + plate.forecast_hours.toFixed(0) + " h (forecast)");
    } else if (plate.passages.length) {
      parts.push("passaged at " + plate.passages[plate.passages.length - 1].toFixed(0) + " h");
    }
    return parts.join(" · ") || "no fit yet";
  }

  function plateChart(container, plate, threshold, hoursMax) {
    var figure = document.createElement("figure");
    figure.className = "growth-plate";
    var caption = document.createElement("figcaption");
    var link = document.createElement("a");
    link.href = plate.url;
    link.textContent = plate.plate;
    caption.appendChild(link);
    caption.appendChild(document.createTextNode(" " + plate.status));
    var facts = document.createElement("span");
    facts.className = "growth-plate-facts";
    facts.textContent = plateCaption(plate, threshold);
    caption.appendChild(facts);
    figure.appendChild(caption);
    var target = document.createElement("div");
    figure.appendChild(target);
    container.appendChild(figure);
    var lists = [pointsOf(plate.points, "confluence"), plate.fit, plate.forecast];
    lists.push([[0, threshold.value], [hoursMax, threshold.value]]);  // across the shared time axis
    var series = [
      hoursSeries(),
      {
        label: "mean confluence (%)", scale: "%", stroke: COLORS.confluence, paths: markersOnly,
        points: { show: true, size: 6, fill: COLORS.confluence },
      },
      { label: "fitted", scale: "%", stroke: COLORS.fit, width: 1.5, spanGaps: true, points: { show: false } },
      {
        label: "forecast", scale: "%", stroke: COLORS.fit, width: 1.5, dash: [6, 4], spanGaps: true,
        points: { show: false },
      },
      { label: "threshold", scale: "%", stroke: COLORS.threshold, width: 1.5, spanGaps: true, points: { show: false } },
    ];
    var options = {
      width: 300,
      height: 190,
      series: series,
      legend: { show: false },
      // One time axis for every plate, so their curves compare at a glance.
      scales: { x: { time: false, range: [0, hoursMax] }, "%": percentScale() },
      axes: [
        { label: "h in culture", labelSize: 18, size: 30, font: "11px sans-serif", labelFont: "11px sans-serif" },
        { scale: "%", label: "%", labelSize: 14, size: 36, font: "11px sans-serif", labelFont: "11px sans-serif" },
      ],
      hooks: { draw: [passageHook(plate.passages)] },
    };
    return new uPlot(options, align(lists), target);
  }

  function sampleCharts() {
    var charts = readJson("sample-growth-data");
    if (!charts) { return; }
    document.querySelectorAll("[data-growth-sample]").forEach(function (element) {
      sampleChart(element, charts[Number(element.getAttribute("data-growth-sample"))]);
    });
  }

  function campaignCharts() {
    var growth = readJson("campaign-growth-data");
    var overview = document.getElementById("campaign-growth-overview");
    if (!growth || !overview) { return; }
    var select = document.getElementById("campaign-growth-metric");
    var current = overviewChart(overview, growth, select.value);
    select.addEventListener("change", function () {
      current.destroy();
      current = overviewChart(overview, growth, select.value);
    });
    var container = document.getElementById("campaign-growth-plates");
    var hoursMax = Math.max.apply(null, growth.plates.map(function (plate) {
      return Math.max.apply(null, allHours([pointsOf(plate.points, "confluence"), plate.forecast,
        passagePoints(plate.passages)]).concat([1]));
    }));
    growth.plates.forEach(function (plate) { plateChart(container, plate, growth.threshold, hoursMax); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    sampleCharts();
    campaignCharts();
  });
})();
