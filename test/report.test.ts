// Tests of exp/report.ts on a fixed inline fixture: report.md and report.html are written with
// every section, claim, headline, figure and table, figures linked relatively (md) or inlined (html).
// The figures are real SVG/PNG files made by savePlot in a temporary directory.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heatmap, lineChart, savePlot } from '../exp/plot';
import { formatCell, scopeSvgIds, writeReport, type ExperimentReport } from '../exp/report';
import { combineClaims, judgeClaim } from '../exp/verdict';

const verdict = combineClaims([judgeClaim(
  { id: 'seed-clusters', text: 'clusters by seed', effect: 'F1 (seed)', better: 'higher', minEffect: 0.05 }, [1, 2, 3],
  [0.6, 0.62, 0.58].map((effect) => ({ effect, controls: { 'permuted labels': 0.2, 'untrained model': effect - 0.3 } })),
)], [{ text: 'an identity holds', value: 1e-7, pass: true }]);

let dir = '';
let md = '';
let html = '';

const fixture = (figDir: string): ExperimentReport[] => [
  {
    id: 'E1', title: 'Clustering by seed and next token',
    claim: 'Representations cluster by the task seed and the next token.',
    definition: 'D6 clustering: k-means, Hungarian-matched macro F1',
    headline: ['macro F1 (seed) rises from 0.21 at layer 0 to 0.87 at layer 4', 'NMI 0.75 at the last layer'],
    held: 'partly',
    figures: [{ path: 'figs/e1_f1', caption: 'Macro F1 per layer | three labels' }],
    tables: [{ title: 'F1 per layer', columns: ['layer', 'seed', 'next token'], rows: [[0, 0.2134567, 0.1], [4, 0.87, 0.93]] }],
    config: { layers: 4, epochs: 3 }, adapter: 'lavapipe (software Vulkan)', seeds: [1, 2, 3], commit: 'abc1234', verdict,
  },
  {
    id: 'E2', title: 'Inner loss across layers',
    claim: 'The inner loss falls across layers & epochs.',
    definition: 'inner loss: logit-lens CE, D1',
    headline: ['falls monotonically over layers in 3/3 checkpoints'],
    held: 'yes',
    figures: [
      { path: join(figDir, 'e2_heat.svg'), caption: 'Inner loss heatmap <layer × epoch>' },
      { path: 'figs/e2_heat', caption: 'The same heatmap again (ids must not clash)' },
    ],
    config: {}, adapter: 'NVIDIA H100', seeds: [2, 3], commit: 'def5678',
  },
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'report-test-'));
  const figDir = join(dir, 'out', 'figs');
  await savePlot(lineChart({
    title: 'F1', xLabel: 'layer', yLabel: 'F1', series: [{ name: 'seed', x: [0, 1], y: [0.2, 0.9] }],
  }), join(figDir, 'e1_f1'));
  await savePlot(heatmap({
    title: 'Heat', xLabel: 'layer', yLabel: 'epoch', x: [0, 1], y: [1, 2], z: [[3, 2], [2, 1]], colorLabel: 'CE',
  }), join(figDir, 'e2_heat'));
  const out = await writeReport(fixture(figDir), join(dir, 'out'), { title: 'Meta-learning view', generatedAt: '2026-01-01' });
  md = await readFile(out.md, 'utf8');
  html = await readFile(out.html, 'utf8');
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('writeReport', () => {
  it('writes exactly report.md and report.html next to the figures', async () => {
    expect((await readdir(join(dir, 'out'))).sort()).toEqual(['figs', 'report.html', 'report.md']);
  });

  it('markdown has every section, claim, reading, headline, table and provenance', () => {
    expect(md).toContain('# Meta-learning view');
    for (const r of fixture('')) {
      expect(md).toContain(`## ${r.id}: ${r.title}`);
      expect(md).toContain(r.claim);
      expect(md).toContain(r.definition);
      expect(md).toContain(`**Claim held:** ${r.held}`);
      for (const h of r.headline) expect(md).toContain(`- ${h}`);
      expect(md).toContain(`commit: \`${r.commit}\``);
    }
    expect(md).toContain('| [E1](#e1) | Clustering by seed and next token | partly |');
    expect(md).toContain('| 0 | 0.2135 | 0.1 |');
    expect(md).toContain('"layers": 4');
    expect(md).toContain('**Verdict** (seeds 1, 2, 3; bold = the strongest control)');
    expect(md).toContain('| clusters by seed | F1 (seed): 0.6 [0.55, 0.65] | permuted labels: 0.2 [0.2, 0.2]; **untrained model**: 0.3 [0.25, 0.35] |');
    expect(md).toMatch(/- Rule \(seed-clusters\): margin = F1 \(seed\) − untrained model; .* → yes/);
    expect(md).toContain('- Check (not evidence): an identity holds: pass');
    expect(md).toContain('seeds: 1, 2, 3 · commit');
  });

  it('markdown links figures relatively, PNG image plus SVG link, numbered across sections', () => {
    expect(md).toContain('![Figure 1: Macro F1 per layer | three labels](figs/e1_f1.png)');
    expect(md).toContain('([SVG](figs/e1_f1.svg))');
    expect(md).toContain('](figs/e2_heat.png)'); // an absolute path became relative
    expect(md).toContain('*Figure 3.* The same heatmap again');
    expect(md).not.toContain(dir);
  });

  it('html is self-contained: escaped text, inlined SVGs with scoped ids', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<title>Meta-learning view</title>');
    expect(html).toContain('The inner loss falls across layers &amp; epochs.');
    expect(html).toContain('Inner loss heatmap &lt;layer × epoch&gt;');
    for (const r of fixture('')) for (const h of r.headline) expect(html).toContain(`<li>${h}</li>`);
    expect(html.match(/<figure><svg/g)?.length).toBe(3);
    expect(html).not.toMatch(/<img /);
    expect(html).toContain('id="fig2-gradient_0"');
    expect(html).toContain('id="fig3-gradient_0"');
    expect(html).toContain('url(#fig3-gradient_0)');
    expect(html).toContain('<td class="num">0.2135</td>');
    expect(html).toContain('class="held held-partly"');
    expect(html).toContain('<td>permuted labels: 0.2 [0.2, 0.2]; untrained model: 0.3 [0.25, 0.35]</td>');
  });
});

describe('helpers', () => {
  it('formats cells', () => {
    expect([formatCell(3), formatCell(0.123456), formatCell(1.5e-5), formatCell(NaN), formatCell('x')])
      .toEqual(['3', '0.1235', '1.500e-5', 'NaN', 'x']);
  });
  it('scopes only ids that are defined', () => {
    const svg = '<?xml version="1.0"?><svg><defs><linearGradient id="g"/></defs><rect fill="url(#g)"/><use href="#other"/></svg>';
    expect(scopeSvgIds(svg, 'p-')).toBe('<svg><defs><linearGradient id="p-g"/></defs><rect fill="url(#p-g)"/><use href="#other"/></svg>');
  });
});
