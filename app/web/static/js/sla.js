// 时效监督: the on-time rate per department as a bar chart (the table beside it holds the figures).
(function () {
  "use strict";
  var node = document.getElementById("sla-chart");
  if (!node || !window.echarts) { return; }
  var series = JSON.parse(node.dataset.series || "[]");
  var chart = window.echarts.init(node, null, { renderer: "svg" });
  chart.setOption({
    animation: false,  // the figures, not a show: drawn at once (and in screenshots, print)
    grid: { left: 48, right: 16, top: 24, bottom: series.length > 6 ? 96 : 48 },
    tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "—" : v.toFixed(1) + "%"; } },
    // many departments: their names slant, so each stays readable under its own bar
    xAxis: { type: "category", data: series.map(function (s) { return s.name; }),
             axisLabel: { interval: 0, rotate: series.length > 6 ? 30 : 0 } },
    yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
    series: [{ name: node.dataset.label, type: "bar", barMaxWidth: 40,
               data: series.map(function (s) { return s.rate == null ? null : Math.round(s.rate * 1000) / 10; }) }]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();

// The trend: on-time rate per week or month against the profile's target line, with the volume
// and the late completions as bars; clicking a period opens the steps behind it.
(function () {
  "use strict";
  var node = document.getElementById("sla-trend");
  if (!node || !window.echarts) { return; }
  var data = JSON.parse(node.dataset.series || "{}");
  var buckets = data.buckets || [];
  var chart = window.echarts.init(node, null, { renderer: "svg" });
  chart.setOption({
    animation: false,
    legend: { top: 0 },
    grid: { left: 48, right: 48, top: 36, bottom: 48 },
    tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: buckets.map(function (b) { return b.label; }) },
    yAxis: [{ type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
            { type: "value", minInterval: 1 }],
    series: [
      { name: node.dataset.rate, type: "line", yAxisIndex: 0, connectNulls: false,
        data: buckets.map(function (b) { return b.rate == null ? null : Math.round(b.rate * 1000) / 10; }),
        markLine: { symbol: "none", lineStyle: { type: "dashed" },
                    label: { position: "insideEndTop", formatter: node.dataset.target + " {c}%" },
                    data: [{ yAxis: data.target }] } },
      { name: node.dataset.volume, type: "bar", yAxisIndex: 1, barMaxWidth: 24,
        data: buckets.map(function (b) { return b.completed; }) },
      { name: node.dataset.late, type: "bar", yAxisIndex: 1, barMaxWidth: 24,
        data: buckets.map(function (b) { return b.late; }) }
    ]
  });
  chart.on("click", function (params) {
    var b = buckets[params.dataIndex];
    if (!b || !b.completed) { return; }
    var url = new URL(window.location.href);
    url.pathname = url.pathname.replace(/\/?$/, "/") + "steps";
    url.searchParams.set("from", b.from);
    url.searchParams.set("to", b.to);
    url.searchParams.delete("grain");
    if (params.seriesIndex === 2) { url.searchParams.set("late", "true"); }
    window.location.href = url.toString();
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
