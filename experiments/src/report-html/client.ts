/**
 * The page's own script (inlined as text): draws the charts with uPlot from the JSON data block,
 * shades fault/fix windows, and wires the copy buttons. Plain ES2020, no imports.
 */
export const clientScript = String.raw`
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  // Okabe–Ito palette (colour-blind safe); each series also gets its own dash and point shape.
  var palette = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
  var dashes = [[], [6, 3], [2, 2], [8, 3, 2, 3], [1, 3], [10, 4]];
  var charts = [];
  window.__reportCharts = charts;
  function width(el) { return Math.max(280, el.clientWidth || 600); }
  function windowsPlugin(moments) {
    return { hooks: { drawClear: [function (u) {
      var ctx = u.ctx;
      moments.forEach(function (m) {
        if (m.kind === 'phase') return;
        var x0 = u.valToPos(m.start, 'x', true), x1 = u.valToPos(m.end, 'x', true);
        ctx.save();
        ctx.fillStyle = m.kind === 'fault' ? 'rgba(213,94,0,0.12)' : 'rgba(0,114,178,0.12)';
        ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
        // Hatching so the window reads without colour too.
        ctx.strokeStyle = m.kind === 'fault' ? 'rgba(213,94,0,0.35)' : 'rgba(0,114,178,0.35)';
        ctx.beginPath();
        for (var x = x0 - u.bbox.height; x < x1; x += 12) {
          ctx.moveTo(Math.max(x, x0), u.bbox.top + Math.max(0, x0 - x));
          ctx.lineTo(Math.min(x + u.bbox.height, x1), u.bbox.top + u.bbox.height - Math.max(0, x + u.bbox.height - x1));
        }
        ctx.stroke();
        ctx.restore();
      });
    }] } };
  }
  function draw(el, series, xs, ys, yLabel, moments, scale) {
    var opts = {
      width: width(el), height: 240,
      plugins: [windowsPlugin(moments || [])],
      scales: { x: { time: false, range: scale && scale.x ? function () { return scale.x; } : undefined },
                y: scale && scale.y ? { range: function () { return scale.y; } } : {} },
      axes: [{ label: 'seconds since start' }, { label: yLabel, size: 80 }],
      series: [{ label: 's' }].concat(series.map(function (name, i) {
        return { label: name, stroke: palette[i % palette.length], width: 2, dash: dashes[i % dashes.length],
                 points: { show: true, size: 5 + (i % 3) * 2 }, spanGaps: false };
      })),
    };
    var chart = new uPlot(opts, [xs].concat(ys), el);
    charts.push({ id: el.id, chart: chart, points: xs.length });
  }
  document.querySelectorAll('[data-chart]').forEach(function (el) {
    var spec = data.charts[el.getAttribute('data-chart')];
    if (!spec || spec.x.length === 0) return;
    draw(el, spec.series, spec.x, spec.y, spec.yLabel, spec.moments, spec.scale);
  });
  window.addEventListener('resize', function () {
    charts.forEach(function (c) { var el = document.getElementById(c.id); c.chart.setSize({ width: width(el), height: 240 }); });
  });
  document.querySelectorAll('button[data-copy]').forEach(function (b) {
    b.addEventListener('click', function () {
      var text = document.getElementById(b.getAttribute('data-copy')).textContent;
      var done = function () { b.textContent = 'Copied'; setTimeout(function () { b.textContent = 'Copy'; }, 1500); };
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, function () {});
    });
  });
})();
`;
