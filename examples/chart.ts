// A small live line chart drawn as inline SVG: title, legend rows, axis labels, "nice" ticks, and
// cheap redraws (the whole SVG is rebuilt from the series, at most once per animation frame).
// Not a charting library: linear axes, lines and optional point markers only.

/** One line of a chart. */
export interface Series {
  name: string;
  color: string;
  /** [x, y] points; non-finite y values are skipped. */
  points: [number, number][];
  /** Draw point markers (for short series such as a per-layer profile). */
  markers?: boolean;
  /** Dashed line (e.g. a reference level). */
  dashed?: boolean;
}

/** Axis labels and layout of a {@link LineChart}. */
export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Force the x range to include these values (e.g. [0, 1]). */
  xInclude?: number[];
  /** Force the y range to include these values. */
  yInclude?: number[];
  /** Integer x ticks only (layers, steps). */
  integerX?: boolean;
  width?: number;
  height?: number;
}

const NS = "http://www.w3.org/2000/svg";
const M = { left: 58, right: 16, top: 40, bottom: 44 }; // margins; the legend adds to the top

/** Evenly spaced round tick values covering [lo, hi] (about `n` of them). */
export function niceTicks(lo: number, hi: number, n = 5, integer = false): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  if (integer) step = Math.max(1, Math.ceil(step));
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

function fmtTick(v: number, step: number): string {
  const digits = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(digits);
}

/** A live SVG line chart mounted in a container element. */
export class LineChart {
  readonly svg: SVGSVGElement;
  series: Series[] = [];
  #pending = false;

  constructor(readonly container: HTMLElement, readonly opts: ChartOptions) {
    this.svg = document.createElementNS(NS, "svg");
    const w = opts.width ?? 560;
    const h = opts.height ?? 300;
    this.svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    this.svg.setAttribute("role", "img");
    this.svg.setAttribute("aria-label", opts.title);
    this.svg.classList.add("chart");
    container.appendChild(this.svg);
    this.draw();
  }

  /** Replaces the series and schedules a redraw on the next animation frame. */
  update(series: Series[]): void {
    this.series = series;
    if (this.#pending) return;
    this.#pending = true;
    requestAnimationFrame(() => {
      this.#pending = false;
      this.draw();
    });
  }

  /** Redraws now. */
  draw(): void {
    const { opts } = this;
    const W = opts.width ?? 560;
    const H = opts.height ?? 300;
    const legend = this.#legend(M.left, W - M.right);
    const top = M.top + legend.height;
    const pw = W - M.left - M.right;
    const ph = H - top - M.bottom;
    const xs: number[] = [...(opts.xInclude ?? [])];
    const ys: number[] = [...(opts.yInclude ?? [])];
    for (const s of this.series) {
      for (const [x, y] of s.points) {
        if (Number.isFinite(y)) {
          xs.push(x);
          ys.push(y);
        }
      }
    }
    let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
    let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
    const pad = (y1 - y0) * 0.05;
    [y0, y1] = [y0 - pad, y1 + pad];
    const X = (x: number): number => M.left + ((x - x0) / (x1 - x0)) * pw;
    const Y = (y: number): number => top + ph - ((y - y0) / (y1 - y0)) * ph;
    const parts: string[] = [];
    parts.push(`<text class="title" x="${W / 2}" y="20" text-anchor="middle">${esc(opts.title)}</text>`);
    parts.push(legend.svg);
    parts.push(`<rect class="plot" x="${M.left}" y="${top}" width="${pw}" height="${ph}"/>`);
    const xt = niceTicks(x0, x1, 6, opts.integerX);
    const yt = niceTicks(y0, y1, 5);
    const xStep = xt.length > 1 ? xt[1]! - xt[0]! : 1;
    const yStep = yt.length > 1 ? yt[1]! - yt[0]! : 1;
    for (const v of xt) {
      parts.push(`<line class="grid" x1="${X(v)}" x2="${X(v)}" y1="${top}" y2="${top + ph}"/>`);
      parts.push(`<text class="tick" x="${X(v)}" y="${top + ph + 15}" text-anchor="middle">${fmtTick(v, xStep)}</text>`);
    }
    for (const v of yt) {
      parts.push(`<line class="grid" x1="${M.left}" x2="${M.left + pw}" y1="${Y(v)}" y2="${Y(v)}"/>`);
      parts.push(`<text class="tick" x="${M.left - 6}" y="${Y(v) + 4}" text-anchor="end">${fmtTick(v, yStep)}</text>`);
    }
    parts.push(`<text class="axis" x="${M.left + pw / 2}" y="${H - 8}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
    parts.push(`<text class="axis" transform="translate(14 ${top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
    for (const s of this.series) {
      const pts = s.points.filter(([, y]) => Number.isFinite(y));
      if (pts.length === 0) continue;
      const d = pts.map(([x, y], i) => `${i ? "L" : "M"}${X(x).toFixed(1)} ${Y(y).toFixed(1)}`).join("");
      const dash = s.dashed ? ` stroke-dasharray="5 4"` : "";
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${dash}/>`);
      if (s.markers) {
        for (const [x, y] of pts) parts.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2.6" fill="${s.color}"/>`);
      }
    }
    this.svg.innerHTML = parts.join("");
  }

  /** Legend as centered rows of entries under the title, wrapping within [left, right]. */
  #legend(left: number, right: number): { svg: string; height: number } {
    const named = this.series.filter((s) => s.name);
    if (named.length === 0) return { svg: "", height: 0 };
    const widths = named.map((s) => s.name.length * 6.2 + 34);
    const rows: number[][] = [[]];
    let used = 0;
    named.forEach((_, i) => {
      if (used + widths[i]! > right - left && rows[rows.length - 1]!.length) {
        rows.push([]);
        used = 0;
      }
      rows[rows.length - 1]!.push(i);
      used += widths[i]!;
    });
    const out: string[] = [];
    rows.forEach((row, r) => {
      const rowW = row.reduce((a, i) => a + widths[i]!, 0);
      let x = (left + right - rowW) / 2;
      const y = M.top - 2 + r * 16;
      for (const i of row) {
        const s = named[i]!;
        const dash = s.dashed ? ` stroke-dasharray="4 3"` : "";
        out.push(`<line x1="${x}" x2="${x + 18}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="2.6"${dash}/>`);
        out.push(`<text class="legend-text" x="${x + 23}" y="${y}">${esc(s.name)}</text>`);
        x += widths[i]!;
      }
    });
    return { svg: out.join(""), height: rows.length * 16 + 4 };
  }
}

/** Color of layer `l` of `n` on a blue → red ramp (early layers blue, late layers red). */
export function layerColor(l: number, n: number): string {
  const t = n <= 1 ? 0 : l / (n - 1);
  const hue = 230 - 230 * t;
  return `hsl(${hue.toFixed(0)} 70% ${(45 - 5 * Math.sin(Math.PI * t)).toFixed(0)}%)`;
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}
