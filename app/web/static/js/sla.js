// 时效监督: the on-time rate per department as a bar chart (the table beside it holds the figures).
(function () {
  "use strict";
  var node = document.getElementById("sla-chart");
  if (!node || !window.echarts) { return; }
  var series = JSON.parse(node.dataset.series || "[]");
  var chart = window.echarts.init(node, null, { renderer: "svg" });
  chart.setOption({
    animation: false,  // the figures, not a show: drawn at once (and in screenshots, print)
    grid: { left: 48, right: 16, top: 24, bottom: 48 },
    tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "—" : v.toFixed(1) + "%"; } },
    xAxis: { type: "category", data: series.map(function (s) { return s.name; }), axisLabel: { interval: 0 } },
    yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
    series: [{ name: node.dataset.label, type: "bar", barMaxWidth: 40,
               data: series.map(function (s) { return s.rate == null ? null : Math.round(s.rate * 1000) / 10; }) }]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
