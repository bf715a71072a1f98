// All op test cases, merged by registry op name. Each op module's cases live in their own file.
import { CORE_CASES } from "./core";
import { MOVEMENT_CASES } from "./movement";
import { SOFTMAX_CASES } from "./softmax";
import { FUSED_CASES } from "./fused";
import type { OpCase } from "../check";

/** Every case, keyed by registry op name. */
export const CASES: Record<string, OpCase[]> = { ...CORE_CASES, ...MOVEMENT_CASES, ...SOFTMAX_CASES, ...FUSED_CASES };
