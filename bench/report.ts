// `npx tsx bench/report.ts [results.json]`: prints the Markdown report of a bench result file
// (default bench/results/latest.json), the form bench/RESULTS.md quotes.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderMarkdown, type ResultFile } from "./lib/markdown";

const file = process.argv[2] ?? fileURLToPath(new URL("./results/latest.json", import.meta.url));
process.stdout.write(renderMarkdown(JSON.parse(readFileSync(file, "utf8")) as ResultFile));
