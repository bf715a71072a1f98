// Test helper: finiteness checks for values read back from experiment JSON.

/** A finite JS number (not NaN, not ±Infinity, not a string or null). */
const finite = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);

/** A non-empty (nested) array of finite numbers, or a finite number. */
export const allFinite = (v: unknown): boolean => (Array.isArray(v) ? v.length > 0 && v.every(allFinite) : finite(v));
