// Tap-name patterns: globs over dotted names. `*` matches within one segment (`blocks.*.out`,
// `attn_*`), `**` matches any number of segments (`**.out`). Compiled once to a RegExp.

/** A compiled set of tap patterns. */
export class TapPattern {
  readonly #res: RegExp[];

  constructor(readonly patterns: readonly string[]) {
    if (patterns.length === 0) throw new Error("tap pattern: give at least one pattern, e.g. 'blocks.*.out'");
    this.#res = patterns.map(compile);
  }

  /** Whether `name` matches any of the patterns. */
  test(name: string): boolean {
    return this.#res.some((r) => r.test(name));
  }
}

function compile(p: string): RegExp {
  if (!p || /\s/.test(p)) throw new Error(`tap pattern '${p}': must be a non-empty dotted name without spaces`);
  let src = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "*" && p[i + 1] === "*") {
      // `**.` / `.**` / `**` alone: any number of whole segments (including none).
      const dotAfter = p[i + 2] === ".";
      src += dotAfter ? "(?:[^.]+\\.)*" : ".*";
      i += dotAfter ? 2 : 1;
    } else if (c === "*") src += "[^.]*";
    else src += c.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${src}$`);
}

/** Whether `name` matches the glob `pattern` (see {@link TapPattern}). */
export function matchTap(pattern: string, name: string): boolean {
  return new TapPattern([pattern]).test(name);
}
