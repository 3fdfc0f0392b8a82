/**
 * A small dependency-free SVG line chart, for benchmark curves committed beside the README
 * (a plotting library would be a dependency for one picture). Panels are laid out in a grid;
 * each has its own axes, a log-scale x axis when asked, and one polyline per series.
 */
export type Series = { name: string; points: [number, number][] };
export type Panel = { title: string; xLabel: string; yLabel: string; series: Series[]; logX?: boolean; marker?: { x: number; label: string } };

const WIDTH = 420;
const HEIGHT = 280;
const MARGIN = { left: 64, right: 16, top: 34, bottom: 46 };
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const step0 = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= step0)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const label = (v: number) => (Math.abs(v) >= 10_000 ? `${v / 1000}k` : String(Number(v.toPrecision(4))));

function panelSvg(panel: Panel, offsetX: number, offsetY: number): string {
  const points = panel.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const tx = (x: number) => (panel.logX ? Math.log10(x) : x);
  const xs = points.map(([x]) => tx(x));
  const ys = points.map(([, y]) => y);
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const yMin = Math.min(0, ...ys);
  const yMax = Math.max(...ys) * 1.1 || 1;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x: number) => offsetX + MARGIN.left + (xMax > xMin ? ((tx(x) - xMin) / (xMax - xMin)) * plotW : plotW / 2);
  const py = (y: number) => offsetY + MARGIN.top + plotH - ((y - yMin) / (yMax - yMin)) * plotH;
  const parts: string[] = [];
  parts.push(`<text x="${offsetX + WIDTH / 2}" y="${offsetY + 20}" text-anchor="middle" font-size="14" font-weight="bold">${escape(panel.title)}</text>`);
  parts.push(`<rect x="${offsetX + MARGIN.left}" y="${offsetY + MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  for (const t of niceTicks(yMin, yMax)) {
    parts.push(`<line x1="${offsetX + MARGIN.left}" x2="${offsetX + MARGIN.left + plotW}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${offsetX + MARGIN.left - 6}" y="${py(t) + 4}" text-anchor="end" font-size="11">${label(t)}</text>`);
  }
  const xTicks = [...new Set(points.map(([x]) => x))].sort((a, b) => a - b);
  for (const t of xTicks) parts.push(`<text x="${px(t)}" y="${offsetY + MARGIN.top + plotH + 16}" text-anchor="middle" font-size="11">${label(t)}</text>`);
  parts.push(`<text x="${offsetX + MARGIN.left + plotW / 2}" y="${offsetY + HEIGHT - 8}" text-anchor="middle" font-size="12">${escape(panel.xLabel)}${panel.logX ? " (log)" : ""}</text>`);
  parts.push(`<text transform="translate(${offsetX + 14},${offsetY + MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escape(panel.yLabel)}</text>`);
  if (panel.marker && Number.isFinite(panel.marker.x)) {
    const x = px(panel.marker.x);
    parts.push(`<line x1="${x}" x2="${x}" y1="${offsetY + MARGIN.top}" y2="${offsetY + MARGIN.top + plotH}" stroke="#d62728" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${x + 4}" y="${offsetY + MARGIN.top + 12}" font-size="11" fill="#d62728">${escape(panel.marker.label)}</text>`);
  }
  panel.series.forEach((series, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const valid = series.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${valid.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ")}"/>`);
    for (const [x, y] of valid) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${colour}"/>`);
    if (panel.series.length > 1) parts.push(`<text x="${offsetX + MARGIN.left + 8}" y="${offsetY + MARGIN.top + 16 + i * 14}" font-size="11" fill="${colour}">${escape(series.name)}</text>`);
  });
  return parts.join("\n");
}

/** Panels in a grid of `columns`, as one SVG document. */
export function renderPanels(panels: Panel[], columns = 2, caption?: string): string {
  const rows = Math.ceil(panels.length / columns);
  const captionHeight = caption ? 24 : 0;
  const width = columns * WIDTH;
  const height = rows * HEIGHT + captionHeight;
  const body = panels.map((panel, i) => panelSvg(panel, (i % columns) * WIDTH, Math.floor(i / columns) * HEIGHT)).join("\n");
  const footer = caption ? `<text x="8" y="${height - 8}" font-size="11" fill="#555">${escape(caption)}</text>` : "";
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n${footer}\n</svg>\n`;
}
