/* kechuang page scripts: ECharts charts declared by data-chart="<name>" with JSON in #chart-<name>. */
(function () {
  "use strict";
  function factsOption(d, el) {
    var css = getComputedStyle(document.documentElement);
    var font = css.getPropertyValue("--font");
    var narrow = el && el.clientWidth < 560;
    return {
      textStyle: { fontFamily: font },
      color: ["#1747a6", "#0f766e", "#d97706"],
      tooltip: { trigger: "axis" },
      legend: { top: 0, itemGap: narrow ? 8 : 16 },
      grid: { left: 8, right: 8, top: narrow ? 84 : 48, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: d.years.map(String) },
      yAxis: [
        { type: "value", name: d.labels.money_axis, nameTextStyle: { align: "left" } },
        { type: "value", name: d.labels.pct_axis, splitLine: { show: false } }
      ],
      series: [
        { name: d.labels.revenue, type: "bar", data: d.revenue, barMaxWidth: 28 },
        { name: d.labels.rd, type: "bar", data: d.rd, barMaxWidth: 28 },
        { name: d.labels.intensity, type: "line", yAxisIndex: 1, data: d.intensity, smooth: true, symbolSize: 7 }
      ]
    };
  }
  function statusOption(d) {
    return {
      textStyle: { fontFamily: getComputedStyle(document.documentElement).getPropertyValue("--font") },
      color: ["#94a3b8", "#1747a6", "#0f766e", "#b91c1c"],
      tooltip: { trigger: "item" },
      legend: { bottom: 0 },
      series: [{ type: "pie", radius: ["45%", "72%"], data: d.status.filter(function (x) { return x.value > 0; }),
                 label: { formatter: "{b}: {c}" } }]
    };
  }
  var builders = { facts: factsOption, status: statusOption };
  function init() {
    if (!window.echarts) { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var name = el.getAttribute("data-chart");
      var src = document.getElementById("chart-" + name);
      if (!src || !builders[name]) { return; }
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption(builders[name](JSON.parse(src.textContent), el));
      window.addEventListener("resize", function () { chart.resize(); });
      el.setAttribute("data-chart-ready", "true");
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
