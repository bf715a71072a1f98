// Tests of exp/plot.ts: every chart helper renders headlessly to SVG that carries its title and
// axis labels, and to a PNG with the PNG signature; savePlot writes both files (no temp files left).
// Visual quality is checked by eye, not here.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { grid, heatmap, lineChart, renderSvg, savePlot, scatter, svgToPng, type PlotSpec } from '../exp/plot';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const layers = [0, 1, 2, 3];
const series = layers.map((l) => ({ name: `layer ${l}`, x: [1, 2, 3], y: [3 - l * 0.5, 2.5 - l * 0.5, 2.2 - l * 0.5] }));

const cases: [string, PlotSpec, string[]][] = [
  ['lineChart', lineChart({ title: 'Inner loss by epoch', xLabel: 'epoch', yLabel: 'inner loss', series, logY: true }),
    ['Inner loss by epoch', 'epoch', 'inner loss', 'layer 3']],
  ['heatmap', heatmap({
    title: 'Loss heatmap', xLabel: 'layer', yLabel: 'epoch', x: layers, y: ['e1', 'e2'],
    z: [[4, 3, 2, 1], [3.5, 2.5, 1.5, 0.5]], colorLabel: 'CE (nats)',
  }), ['Loss heatmap', 'layer', 'epoch', 'CE (nats)']],
  ['scatter', scatter({
    title: 'PCA of representations', xLabel: 'PC1', yLabel: 'PC2', colorLabel: 'norm',
    points: Array.from({ length: 50 }, (_, i) => ({ x: Math.cos(i), y: Math.sin(i) * i, color: i / 10 })),
  }), ['PCA of representations', 'PC1', 'PC2', 'norm']],
  ['scatter (groups, sizes)', scatter({
    title: 'Per-sample dots', xLabel: 'layer', yLabel: 'CE', colorLabel: 'model',
    points: layers.flatMap((l) => [{ x: l, y: 3 - l, group: 'mean', size: 120, color: 'd2' },
      { x: l, y: 3.2 - l, group: 'sample', size: 10, opacity: 0.4, color: 'd2' }]),
  }), ['Per-sample dots', 'layer', 'CE', 'model', 'sample']],
  ['grid', grid({
    title: 'Three labels', columns: 3,
    panels: ['seed', 'next token', 'seed×next'].map((t) =>
      lineChart({ title: t, xLabel: 'step', yLabel: 'macro F1', series, width: 200, height: 150 })),
  }), ['Three labels', 'seed', 'next token', 'seed×next', 'macro F1', 'step']],
];

describe('chart helpers', () => {
  for (const [name, spec, texts] of cases) {
    it(`${name} renders SVG with its title and labels, and a PNG`, async () => {
      const svg = await renderSvg(spec);
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      for (const t of texts) expect(svg).toContain(`>${t}<`);
      const png = svgToPng(svg, 1);
      expect(Array.from(png.subarray(0, 8))).toEqual(PNG_SIGNATURE);
      expect(png.length).toBeGreaterThan(1000);
    });
  }
});

describe('savePlot', () => {
  const dirs: string[] = [];
  afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

  it('writes SVG and PNG under new directories, leaving no temp files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plot-test-'));
    dirs.push(dir);
    const out = await savePlot(cases[0][1], join(dir, 'a', 'b', 'fig'));
    expect(out).toEqual({ svg: join(dir, 'a', 'b', 'fig.svg'), png: join(dir, 'a', 'b', 'fig.png') });
    expect(await readFile(out.svg, 'utf8')).toContain('Inner loss by epoch');
    const png = await readFile(out.png);
    expect(Array.from(png.subarray(0, 8))).toEqual(PNG_SIGNATURE);
    expect((await readdir(join(dir, 'a', 'b'))).sort()).toEqual(['fig.png', 'fig.svg']);
  });
});
