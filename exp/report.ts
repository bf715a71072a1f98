// The report writer: turns the experiments' result objects into report.md (figures linked by
// relative path) and a self-contained report.html (each figure's SVG inlined), written atomically.
// It formats finished results only; it runs no experiment and renders no chart.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../src/nn/atomic-write';
import type { Verdict } from './verdict';

/** Which experiment of the protocol a result belongs to. */
export type ExperimentId = 'E1' | 'E2' | 'E3' | 'E4' | 'E5' | 'E6';

/** A figure already saved by `savePlot`: `path` with or without .svg/.png, absolute or relative to the report. */
export interface ReportFigure { path: string; caption: string }

/** A small table of numbers shown under the figures. */
export interface ReportTable { title: string; columns: string[]; rows: (string | number)[][] }

/** Everything one experiment contributes to the report. */
export interface ExperimentReport {
  id: ExperimentId;
  title: string;
  /** The paper's claim being tested, in one or two sentences. */
  claim: string;
  /** Which protocol reading was used, e.g. "inner loss: logit-lens CE, D1". */
  definition: string;
  /** What the result shows, in numbers. */
  headline: string[];
  held: 'yes' | 'partly' | 'no' | 'n/a';
  figures: ReportFigure[];
  tables?: ReportTable[];
  config: object;
  adapter: string;
  /** The seeds the numbers combine. */
  seeds: number[];
  commit: string;
  /** The verdict with its claims, controls, margins and checks (rendered as a table). */
  verdict?: Verdict;
}

/** Report-wide text; `generatedAt` defaults to now (pass it for byte-stable output); `notes` follow the summary. */
export interface ReportOptions { title?: string; intro?: string; generatedAt?: string; notes?: string[] }

/** Formats a table cell: integers as is, other numbers to 4 significant digits. */
export function formatCell(v: string | number): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v) || Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

interface ResolvedFigure { caption: string; svgPath: string; pngRel: string; svgRel: string; index: number }

function resolveFigures(r: ExperimentReport, outDir: string, start: number): ResolvedFigure[] {
  return r.figures.map((f, i) => {
    const abs = isAbsolute(f.path) ? f.path : resolve(outDir, f.path);
    const base = abs.replace(/\.(svg|png)$/i, '');
    const rel = (p: string): string => relative(outDir, p).split(sep).join('/');
    return { caption: f.caption, svgPath: `${base}.svg`, pngRel: rel(`${base}.png`), svgRel: rel(`${base}.svg`), index: start + i };
  });
}

const mdCell = (v: string | number): string => formatCell(v).replace(/\|/g, '\\|').replace(/\n/g, ' ');

function mdTable(columns: string[], rows: (string | number)[][]): string[] {
  return [
    `| ${columns.map(mdCell).join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(mdCell).join(' | ')} |`),
  ];
}

const anchor = (r: ExperimentReport): string => r.id.toLowerCase();

const est = (e: { value: number; ci95: [number, number] }): string => {
  const f = (x: number): string => (Number.isFinite(x) ? formatCell(Number(x.toPrecision(3))) : 'n/a');
  return `${f(e.value)} [${f(e.ci95[0])}, ${f(e.ci95[1])}]`;
};

/** The verdict as a table: one row per claim (effect, controls, strongest, margin, δ, outcome). */
function verdictTable(v: Verdict): { columns: string[]; rows: string[][] } {
  return {
    columns: ['claim', 'effect (95% CI over seeds)', 'controls', 'margin over the strongest control', 'δ', 'held'],
    rows: v.claims.map((c) => [
      c.text, `${c.effect}: ${est(c.effectValue)}`,
      c.controls.map((x) => `${x.name === c.strongest ? '**' : ''}${x.name}${x.name === c.strongest ? '**' : ''}: ${est(x)}`).join('; '),
      `${est(c.margin)}; per seed ${c.margin.perSeed.map((m) => formatCell(Number(m.toPrecision(3)))).join(', ')}`,
      String(c.minEffect), c.held,
    ]),
  };
}

/** The Markdown report; figure images link to the PNGs, with the SVGs alongside. */
export function renderMarkdown(reports: ExperimentReport[], outDir: string, opts: ReportOptions = {}): string {
  const out: string[] = [`# ${opts.title ?? 'Experiment report'}`, ''];
  if (opts.intro) out.push(opts.intro, '');
  out.push(`Generated ${opts.generatedAt ?? new Date().toISOString()}.`, '', '## Summary', '');
  out.push(...mdTable(['id', 'experiment', 'claim held', 'headline'],
    reports.map((r) => [`[${r.id}](#${anchor(r)})`, r.title, r.held, r.headline[0] ?? ''])), '');
  for (const n of opts.notes ?? []) out.push(n, '');
  let figureNo = 1;
  for (const r of reports) {
    out.push(`## ${r.id}: ${r.title}`, '', `**Claim.** ${r.claim}`, '', `**Reading.** ${r.definition}`, '',
      `**Claim held:** ${r.held}`, '');
    if (r.verdict) {
      const t = verdictTable(r.verdict);
      out.push(`**Verdict** (seeds ${r.verdict.seeds.join(', ')}; bold = the strongest control)`, '', ...mdTable(t.columns, t.rows), '',
        ...r.verdict.claims.map((c) => `- Rule (${c.id}): ${c.rule}`),
        ...r.verdict.checks.map((c) => `- Check (not evidence): ${c.text}: ${c.pass ? 'pass' : 'FAIL'}`), '');
    }
    out.push('**Headline numbers**', '', ...r.headline.map((h) => `- ${h}`), '');
    for (const f of resolveFigures(r, outDir, figureNo)) {
      out.push(`![Figure ${f.index}: ${f.caption}](${f.pngRel})`, '', `*Figure ${f.index}.* ${f.caption} ([SVG](${f.svgRel}))`, '');
    }
    figureNo += r.figures.length;
    for (const t of r.tables ?? []) out.push(`**${t.title}**`, '', ...mdTable(t.columns, t.rows), '');
    out.push('<details><summary>Configuration</summary>', '', '```json', JSON.stringify(r.config, null, 2), '```', '',
      '</details>', '', `Adapter: ${r.adapter} · seeds: ${r.seeds.join(', ')} · commit: \`${r.commit}\``, '');
  }
  return out.join('\n');
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Prefixes every id in an SVG (and its url(#…)/href="#…" references) so several can share one page. */
export function scopeSvgIds(svg: string, prefix: string): string {
  const ids = new Set([...svg.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]));
  const body = svg.replace(/^\s*<\?xml[^>]*\?>\s*/, '');
  if (ids.size === 0) return body;
  return body
    .replace(/\bid="([^"]+)"/g, (m, id: string) => (ids.has(id) ? `id="${prefix}${id}"` : m))
    .replace(/url\(#([^)]+)\)/g, (m, id: string) => (ids.has(id) ? `url(#${prefix}${id})` : m))
    .replace(/href="#([^"]+)"/g, (m, id: string) => (ids.has(id) ? `href="#${prefix}${id}"` : m));
}

const CSS = `body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.5}
h1{border-bottom:2px solid #ddd}h2{margin-top:2.5em;border-bottom:1px solid #eee}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1.2em 0}figure svg{max-width:100%;height:auto}figcaption{font-size:.92em;color:#444}
.held{display:inline-block;padding:.1em .6em;border-radius:.8em;font-weight:600;color:#fff}
.held-yes{background:#2e7d32}.held-partly{background:#ef6c00}.held-no{background:#c62828}.held-n\\/a{background:#757575}
pre{background:#f6f8fa;padding:.8em;overflow:auto;font-size:.85em}.meta{color:#555;font-size:.9em}`;

const held = (h: ExperimentReport['held']): string => `<span class="held held-${esc(h)}">${esc(h)}</span>`;

function htmlTable(columns: string[], rows: (string | number)[][]): string {
  const td = (v: string | number): string => `<td${typeof v === 'number' ? ' class="num"' : ''}>${esc(formatCell(v))}</td>`;
  return `<table><thead><tr>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead>`
    + `<tbody>${rows.map((r) => `<tr>${r.map(td).join('')}</tr>`).join('')}</tbody></table>`;
}

/** The self-contained HTML report: SVG figures inlined (ids scoped per figure), PNG fallback otherwise. */
export async function renderHtml(reports: ExperimentReport[], outDir: string, opts: ReportOptions = {}): Promise<string> {
  const title = opts.title ?? 'Experiment report';
  const parts: string[] = [`<h1>${esc(title)}</h1>`];
  if (opts.intro) parts.push(`<p>${esc(opts.intro)}</p>`);
  parts.push(`<p class="meta">Generated ${esc(opts.generatedAt ?? new Date().toISOString())}.</p>`, '<h2>Summary</h2>',
    '<table><thead><tr><th>id</th><th>experiment</th><th>claim held</th><th>headline</th></tr></thead><tbody>',
    ...reports.map((r) => `<tr><td><a href="#${anchor(r)}">${esc(r.id)}</a></td><td>${esc(r.title)}</td>`
      + `<td>${held(r.held)}</td><td>${esc(r.headline[0] ?? '')}</td></tr>`),
    '</tbody></table>');
  for (const n of opts.notes ?? []) parts.push(`<p>${esc(n)}</p>`);
  let figureNo = 1;
  for (const r of reports) {
    parts.push(`<section id="${anchor(r)}"><h2>${esc(r.id)}: ${esc(r.title)}</h2>`,
      `<p><strong>Claim.</strong> ${esc(r.claim)}</p>`, `<p><strong>Reading.</strong> ${esc(r.definition)}</p>`,
      `<p><strong>Claim held:</strong> ${held(r.held)}</p>`);
    if (r.verdict) {
      const t = verdictTable(r.verdict);
      parts.push(`<p><strong>Verdict</strong> (seeds ${esc(r.verdict.seeds.join(', '))}; bold = the strongest control)</p>`,
        htmlTable(t.columns, t.rows.map((row) => row.map((c) => c.replace(/\*\*/g, '')))),
        `<ul>${[...r.verdict.claims.map((c) => `Rule (${c.id}): ${c.rule}`),
          ...r.verdict.checks.map((c) => `Check (not evidence): ${c.text}: ${c.pass ? 'pass' : 'FAIL'}`)]
          .map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`);
    }
    parts.push('<p><strong>Headline numbers</strong></p>',
      `<ul>${r.headline.map((h) => `<li>${esc(h)}</li>`).join('')}</ul>`);
    for (const f of resolveFigures(r, outDir, figureNo)) {
      const body = existsSync(f.svgPath)
        ? scopeSvgIds(await readFile(f.svgPath, 'utf8'), `fig${f.index}-`)
        : `<img src="${esc(f.pngRel)}" alt="${esc(f.caption)}">`;
      parts.push(`<figure>${body}<figcaption><strong>Figure ${f.index}.</strong> ${esc(f.caption)}</figcaption></figure>`);
    }
    figureNo += r.figures.length;
    for (const t of r.tables ?? []) parts.push(`<p><strong>${esc(t.title)}</strong></p>`, htmlTable(t.columns, t.rows));
    parts.push(`<details><summary>Configuration</summary><pre>${esc(JSON.stringify(r.config, null, 2))}</pre></details>`,
      `<p class="meta">Adapter: ${esc(r.adapter)} · seeds: ${esc(r.seeds.join(', '))} · commit: <code>${esc(r.commit)}</code></p></section>`);
  }
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>`
    + `<style>${CSS}</style></head><body>\n${parts.join('\n')}\n</body></html>\n`;
}

/** Writes `<outDir>/report.md` and `<outDir>/report.html`; returns their paths. */
export async function writeReport(
  reports: ExperimentReport[], outDir: string, opts: ReportOptions = {},
): Promise<{ md: string; html: string }> {
  const stamped = { ...opts, generatedAt: opts.generatedAt ?? new Date().toISOString() };
  const out = { md: join(outDir, 'report.md'), html: join(outDir, 'report.html') };
  writeFileAtomic(out.md, renderMarkdown(reports, outDir, stamped));
  writeFileAtomic(out.html, await renderHtml(reports, outDir, stamped));
  return out;
}
