// All op test cases, merged by registry op name. Each op module's cases live in their own file.
import { CORE_CASES } from "./core";
import type { OpCase } from "../helpers/check";

/** Every case, keyed by registry op name. */
export const CASES: Record<string, OpCase[]> = { ...CORE_CASES };
