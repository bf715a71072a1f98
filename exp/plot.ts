// Figure helpers for the experiments: build Vega-Lite specs (line charts, heatmaps, scatter plots,
// grids of panels) and render them headlessly in Node to SVG (vega's SVG renderer, no canvas) and
// PNG (resvg, with the DejaVu Sans font shipped by the `dejavu-fonts-ttf` npm package).
// It computes nothing about the model; the experiments pass finished numbers in.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../src/nn/atomic-write';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** A Vega-Lite specification as produced by the helpers below. */
export type PlotSpec = TopLevelSpec;

/**
 * One line of a line chart. Non-finite y values (and y ≤ 0 on a log axis) are dropped. `dash`
 * names a line style (e.g. "top-10" solid, "last-10" dashed): series sharing it share the pattern.
 * `lo`/`hi` draw a shaded band (e.g. a 95 % interval over seeds) in the series' colour.
 */
export interface Series { name: string; x: number[]; y: number[]; dash?: string; lo?: number[]; hi?: number[] }

/** Options shared by every chart. */
export interface ChartBase { title: string; xLabel: string; yLabel: string; width?: number; height?: number }

/** Line chart options; `ordered` colours the series along viridis (e.g. layers 0..L). */
export interface LineChartOptions extends ChartBase { series: Series[]; logY?: boolean; ordered?: boolean }

/** Heatmap options: z[yi][xi] is the cell at (x[xi], y[yi]); `showValues` prints each cell. */
export interface HeatmapOptions extends ChartBase {
  x: (string | number)[]; y: (string | number)[]; z: number[][]; colorLabel: string; showValues?: boolean;
}

/** One point: numeric `color` uses a viridis scale, string `color` a categorical one; `group` sets the shape. */
export interface ScatterPoint { x: number; y: number; color?: number | string; group?: string; size?: number; opacity?: number }

/** Scatter options. */
export interface ScatterOptions extends ChartBase { points: ScatterPoint[]; colorLabel: string; logY?: boolean }

/** Small multiples: the panels (built by the helpers above) laid out in `columns` columns. */
export interface GridOptions { title: string; panels: PlotSpec[]; columns?: number; independentColor?: boolean }

const FONT = 'DejaVu Sans';
const CONFIG = {
  font: FONT,
  background: 'white',
  title: { fontSize: 15, anchor: 'start' as const, offset: 8 },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridOpacity: 0.5 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 240 },
  range: { category: { scheme: 'tableau10' } },
};
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

function top(spec: object): PlotSpec {
  return { $schema: SCHEMA, config: CONFIG, padding: 8, ...spec } as unknown as PlotSpec;
}

function size(o: ChartBase): { width: number; height: number } {
  return { width: o.width ?? 420, height: o.height ?? 280 };
}

/** A quantitative x axis; integer-only data (layers, epochs) gets integer ticks. */
function xAxis(xs: number[], title: string): object {
  const integers = xs.length > 0 && xs.every((x) => Number.isInteger(x));
  return { field: 'x', type: 'quantitative', title, scale: { zero: false, nice: false, padding: 8 }, axis: { format: '~r', ...(integers ? { tickMinStep: 1 } : {}) } };
}

/** Lines (with point markers when series are short) of y against x, one colour per series. */
export function lineChart(o: LineChartOptions): PlotSpec {
  const values = o.series.flatMap((s) => s.x.map((x, i) => ({ series: s.name, x, y: s.y[i], dash: s.dash ?? '', lo: s.lo?.[i], hi: s.hi?.[i] })))
    .filter((r) => Number.isFinite(r.x) && Number.isFinite(r.y) && (!o.logY || r.y > 0));
  const bands = values.filter((r) => Number.isFinite(r.lo) && Number.isFinite(r.hi) && (!o.logY || (r.lo as number) > 0));
  const longest = Math.max(0, ...o.series.map((s) => s.x.length));
  const many = o.series.length > 10;
  const dashes = [...new Set(o.series.map((s) => s.dash).filter((d): d is string => d !== undefined))];
  const plain = o.series.some((s) => s.dash === undefined); // un-styled series stay solid, out of the legend
  const patterns = [[1, 0], [6, 4], [2, 3], [8, 3, 2, 3]];
  const dashEnc = dashes.length ? {
    strokeDash: {
      field: 'dash', type: 'nominal', title: null,
      legend: {
        values: dashes, symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 300,
        encode: { symbols: { update: { stroke: { value: '#444' } } } },
      },
      scale: {
        domain: plain ? ['', ...dashes] : dashes,
        range: (plain ? ['', ...dashes] : dashes).map((_, i) => patterns[i % patterns.length]),
      },
    },
  } : {};
  const x = xAxis(values.map((r) => r.x), o.xLabel);
  const y = { field: 'y', type: 'quantitative', title: o.yLabel, scale: o.logY ? { type: 'log' } : { zero: false } };
  const color = {
    field: 'series', type: 'nominal', title: null, legend: { symbolOpacity: 1 },
    scale: { domain: [...new Set(o.series.map((s) => s.name))], scheme: o.ordered ? 'viridis' : many ? 'tableau20' : 'tableau10' },
  };
  const line = { mark: { type: 'line', point: longest <= 30, strokeWidth: 2 }, encoding: { x, y, color, ...dashEnc } };
  if (bands.length === 0) return top({ title: o.title, ...size(o), data: { values }, ...line });
  const band = {
    data: { values: bands },
    mark: { type: 'area', opacity: 0.15 },
    encoding: { x, y: { field: 'lo', type: 'quantitative', title: o.yLabel, scale: y.scale }, y2: { field: 'hi' }, color },
  };
  return top({ title: o.title, ...size(o), data: { values }, layer: [band, line] });
}

/** A matrix of coloured cells (viridis), x and y kept in the given order. */
export function heatmap(o: HeatmapOptions): PlotSpec {
  const values = o.y.flatMap((y, yi) => o.x.map((x, xi) => ({ x: String(x), y: String(y), z: o.z[yi]?.[xi] })))
    .filter((r) => Number.isFinite(r.z));
  const zs = values.map((r) => r.z as number);
  const mid = zs.length ? (Math.min(...zs) + Math.max(...zs)) / 2 : 0;
  const enc = {
    x: { field: 'x', type: 'ordinal', title: o.xLabel, sort: o.x.map(String), axis: { grid: false, labelAngle: 0 } },
    y: { field: 'y', type: 'ordinal', title: o.yLabel, sort: o.y.map(String), axis: { grid: false } },
  };
  const layers: object[] = [{
    mark: 'rect',
    encoding: { ...enc, color: { field: 'z', type: 'quantitative', title: o.colorLabel, scale: { scheme: 'viridis' } } },
  }];
  if (o.showValues ?? o.x.length * o.y.length <= 120) {
    layers.push({
      mark: { type: 'text', fontSize: 10 },
      encoding: {
        ...enc,
        text: { field: 'z', type: 'quantitative', format: '.3~g' },
        color: { condition: { test: `datum.z < ${mid}`, value: 'white' }, value: 'black' },
      },
    });
  }
  return top({ title: o.title, ...size(o), data: { values }, layer: layers });
}

/** Points with optional colour (numeric → viridis, string → categorical), shape group and size. */
export function scatter(o: ScatterOptions): PlotSpec {
  const values = o.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!o.logY || p.y > 0));
  const numeric = values.some((p) => typeof p.color === 'number');
  const encoding: Record<string, object> = {
    x: xAxis(values.map((p) => p.x), o.xLabel),
    y: { field: 'y', type: 'quantitative', title: o.yLabel, scale: o.logY ? { type: 'log' } : { zero: false, padding: 8 } },
  };
  if (values.some((p) => p.color !== undefined)) {
    encoding.color = numeric
      ? { field: 'color', type: 'quantitative', title: o.colorLabel, scale: { scheme: 'viridis' } }
      : { field: 'color', type: 'nominal', title: o.colorLabel };
  }
  if (values.some((p) => p.group !== undefined)) encoding.shape = { field: 'group', type: 'nominal', title: null };
  if (values.some((p) => p.size !== undefined)) encoding.size = { field: 'size', type: 'quantitative', scale: null, legend: null };
  if (values.some((p) => p.opacity !== undefined)) encoding.opacity = { field: 'opacity', type: 'quantitative', scale: null, legend: null };
  return top({
    title: o.title, ...size(o),
    data: { values },
    mark: { type: 'point', filled: true, size: 30, opacity: 0.8 },
    encoding,
  });
}

/** Small multiples: panels side by side (wrapping after `columns`), one shared legend by default. */
export function grid(o: GridOptions): PlotSpec {
  const panels = o.panels.map((p) => {
    const { $schema: _s, config: _c, padding: _p, ...rest } = p as unknown as Record<string, unknown>;
    return rest;
  });
  return top({
    title: { text: o.title, fontSize: 16 },
    columns: o.columns ?? Math.min(3, panels.length),
    concat: panels,
    spacing: 24,
    resolve: { scale: { color: o.independentColor ? 'independent' : 'shared' } },
  });
}

/**
 * Renders a spec to SVG text with vega's headless SVG renderer. Vega-Lite's warnings (e.g. panels
 * of a grid whose colour domains differ and are merged, as intended) are not printed.
 */
export async function renderSvg(spec: PlotSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec, { logger: vega.logger(vega.Error) }).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

let fontFiles: string[] | undefined;
function dejavuFonts(): string[] {
  if (fontFiles) return fontFiles;
  try {
    const dir = join(dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')), 'ttf');
    fontFiles = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSans-Oblique.ttf'].map((f) => join(dir, f));
  } catch {
    fontFiles = []; // fall back to the system's fonts
  }
  return fontFiles;
}

/** Rasterizes SVG text to PNG bytes at `scale` × the SVG's size, white background. */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const files = dejavuFonts();
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: { fontFiles: files, loadSystemFonts: files.length === 0, defaultFontFamily: FONT, sansSerifFamily: FONT },
  });
  return resvg.render().asPng();
}

/** Writes `<path>.svg` and `<path>.png` (directories created, each file written then renamed). */
export async function savePlot(spec: PlotSpec, pathWithoutExt: string): Promise<{ svg: string; png: string }> {
  const svg = await renderSvg(spec);
  const out = { svg: `${pathWithoutExt}.svg`, png: `${pathWithoutExt}.png` };
  writeFileAtomic(out.svg, svg);
  writeFileAtomic(out.png, svgToPng(svg));
  return out;
}
