// The demo page's script: picks a WebGPU adapter, trains a DemoSession step by step while the
// controls allow, and draws the training loss, the inner loss and the representation norm per
// layer as live SVG charts. Exposes its state as `window.__demo` for the browser test.
// URL parameters preset the controls: size, seed, lr, warmup, maxSteps, autostart=1.
import { init, type AdapterInfo } from "../src/index";
import { LineChart, layerColor, type Series } from "./chart";
import { DEFAULT_CONFIG, DemoSession, SIZES, type SessionConfig, type SizeName, type StepRecord } from "./session";

/** Page state, readable from the outside (tests, the console) as `window.__demo`. */
export interface DemoState {
  status: "idle" | "starting" | "running" | "stopped" | "done" | "no-webgpu" | "error";
  /** The last error or WebGPU problem, if any. */
  message: string | null;
  adapter: AdapterInfo | null;
  config: SessionConfig;
  numParameters: number;
  /** Completed steps of the current session. */
  steps: number;
  records: StepRecord[];
  /** Starts (or resumes) training; resolves once the first step of this run is done or it failed. */
  start(): Promise<void>;
  stop(): void;
  /** Disposes the session (after a stopped step finishes); the next start() builds a new model. */
  reset(): Promise<void>;
}

declare global {
  interface Window {
    __demo: DemoState;
  }
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const maxSteps = Number(params.get("maxSteps") ?? Infinity);

const sizeSel = $<HTMLSelectElement>("size");
const seedIn = $<HTMLInputElement>("seed");
const lrIn = $<HTMLInputElement>("lr");
const adapterSel = $<HTMLSelectElement>("adapter");
const startBtn = $<HTMLButtonElement>("start");
const stopBtn = $<HTMLButtonElement>("stop");
const resetBtn = $<HTMLButtonElement>("reset");

for (const [name, d] of Object.entries(SIZES)) {
  const o = new Option(`${name}: ${d.nLayer} layers, width ${d.nEmbd}, T ${d.T}, batch ${d.B}`, name);
  sizeSel.add(o);
}
sizeSel.value = params.get("size") ?? DEFAULT_CONFIG.size;
seedIn.value = params.get("seed") ?? String(DEFAULT_CONFIG.seed);
lrIn.value = params.get("lr") ?? String(DEFAULT_CONFIG.lr);
const warmup = Number(params.get("warmup") ?? DEFAULT_CONFIG.warmup);

const charts = {
  loss: new LineChart($("chart-loss"), { title: "Training loss", xLabel: "step", yLabel: "cross-entropy (nats)", integerX: true }),
  inner: new LineChart($("chart-inner"), { title: "Inner loss per layer (logit lens, CE of W_U·LN_f(hˡ))", xLabel: "step", yLabel: "inner loss ℓˡ (nats)", integerX: true }),
  norms: new LineChart($("chart-norms"), { title: "Representation norm per layer", xLabel: "step", yLabel: "mean ‖hˡ‖₂ over positions", integerX: true }),
  profile: new LineChart($("chart-profile"), { title: "Inner loss across layers, at several steps", xLabel: "layer l (0 = embedding, L = output)", yLabel: "inner loss (nats)", integerX: true }),
};

let session: DemoSession | null = null;
let running = false;
/** The training loop in flight (a stopped loop finishes its current step before it ends). */
let looping: Promise<void> | null = null;

const state: DemoState = {
  status: "idle", message: null, adapter: null, config: readConfig(), numParameters: 0, steps: 0, records: [],
  start, stop, reset,
};
window.__demo = state;

function readConfig(): SessionConfig {
  const size = (sizeSel.value in SIZES ? sizeSel.value : DEFAULT_CONFIG.size) as SizeName;
  return { size, seed: Math.max(0, Math.floor(Number(seedIn.value) || 0)), lr: Number(lrIn.value) || DEFAULT_CONFIG.lr, warmup };
}

function show(kind: "error" | "info" | null, text = ""): void {
  const el = $("message");
  el.className = kind ? `message ${kind}` : "message";
  el.textContent = text;
}

function setStatus(s: DemoState["status"]): void {
  state.status = s;
  $("st-status").textContent = s;
  const busy = s === "starting" || s === "running";
  const dead = s === "no-webgpu";
  startBtn.disabled = busy || dead || s === "done";
  stopBtn.disabled = !busy;
  resetBtn.disabled = busy || dead || !session;
  for (const el of [sizeSel, seedIn, lrIn]) el.disabled = busy || dead || !!session;
  adapterSel.disabled = busy || dead || state.adapter !== null;
}

/** Finds WebGPU (with the chosen power preference) or explains why there is none. */
async function ensureGpu(): Promise<boolean> {
  if (state.adapter) return true;
  if (!("gpu" in navigator) || !navigator.gpu) {
    fail("no-webgpu", "This browser does not offer WebGPU (navigator.gpu is missing), so the model cannot train here. " +
      "Use a recent Chrome or Edge (113+), Safari 26+, or Firefox 141+ on Windows; on Linux start Chromium with " +
      "--enable-unsafe-webgpu. WebGPU also needs a secure context: https, or http://localhost / 127.0.0.1.");
    return false;
  }
  try {
    const pref = adapterSel.value as GPUPowerPreference | "";
    const info = await init({ backend: "webgpu", ...(pref ? { powerPreference: pref } : {}) });
    state.adapter = info.adapter ?? null;
  } catch (e) {
    fail("no-webgpu", `WebGPU is present but no adapter could be used: ${(e as Error).message}`);
    return false;
  }
  const a = state.adapter!;
  $("st-adapter").textContent = [a.vendor, a.architecture, a.description].filter(Boolean).join(" · ") || "unnamed";
  return true;
}

function fail(status: "no-webgpu" | "error", message: string): void {
  running = false;
  state.message = message;
  show("error", message);
  setStatus(status);
}

async function start(): Promise<void> {
  if (running || state.status === "no-webgpu") return;
  setStatus("starting");
  show(null);
  await looping;
  if (!(await ensureGpu())) return;
  try {
    if (!session) {
      state.config = readConfig();
      session = new DemoSession(state.config);
      state.numParameters = session.numParameters;
      $("st-params").textContent = session.numParameters.toLocaleString("en-US");
      show("info", "Compiling the WebGPU kernels for the first step (a few seconds on a software adapter)…");
    }
    running = true;
    setStatus("running");
    const run = (looping = loop());
    await Promise.race([run, waitForStep(state.steps + 1)]);
  } catch (e) {
    fail("error", `Training failed: ${(e as Error).message}`);
  }
}

async function loop(): Promise<void> {
  try {
    while (running && session && state.steps < maxSteps) {
      const r = await session.step();
      state.records.push(r);
      state.steps = state.records.length;
      if (state.steps === 1) show(null);
      render();
      await new Promise((ok) => setTimeout(ok, 0)); // let the page paint and handle clicks
    }
    if (session && state.steps >= maxSteps) {
      running = false;
      setStatus("done");
    }
  } catch (e) {
    fail("error", `Training failed at step ${state.steps}: ${(e as Error).message}`);
  }
}

const stepWaiters: { n: number; ok: () => void }[] = [];
function waitForStep(n: number): Promise<void> {
  return new Promise((ok) => stepWaiters.push({ n, ok }));
}

function stop(): void {
  if (!running) return;
  running = false;
  setStatus("stopped");
}

async function reset(): Promise<void> {
  if (running || state.status === "starting") return;
  await looping;
  session?.dispose();
  session = null;
  state.records = [];
  state.steps = 0;
  state.numParameters = 0;
  state.config = readConfig();
  render();
  setStatus("idle");
}

/** Picks up to five evenly spaced records (always the first and the latest). */
function snapshots(rs: StepRecord[]): StepRecord[] {
  if (rs.length <= 5) return rs;
  const idx = new Set([0, 1, 2, 3, 4].map((k) => Math.round((k * (rs.length - 1)) / 4)));
  return [...idx].map((i) => rs[i]!);
}

function render(): void {
  for (const w of stepWaiters.splice(0)) {
    if (state.steps >= w.n) w.ok();
    else stepWaiters.push(w);
  }
  const rs = state.records;
  const last = rs[rs.length - 1];
  $("st-step").textContent = String(state.steps);
  $("st-loss").textContent = last ? last.loss.toFixed(4) : "–";
  const recent = rs.slice(-9).map((r) => r.ms).sort((a, b) => a - b); // median: skips the compile step
  $("st-ms").textContent = recent.length ? `${recent[recent.length >> 1]!.toFixed(0)} ms` : "–";
  const L = last ? last.inner.length - 1 : 0;
  const V = session?.data.vocabSize ?? 65;
  charts.loss.update([
    { name: "training loss", color: "#1d2330", points: rs.map((r) => [r.step, r.loss]) },
    { name: `uniform guess, ln ${V}`, color: "#9aa3b2", dashed: true, points: rs.length ? [[0, Math.log(V)], [last!.step, Math.log(V)]] : [] },
  ]);
  const perLayer = (pick: (r: StepRecord) => number[]): Series[] =>
    Array.from({ length: L + 1 }, (_, l) => ({
      name: l === 0 ? "l = 0 (embedding)" : l === L ? `l = ${l} (output)` : `l = ${l}`,
      color: layerColor(l, L + 1),
      points: rs.map((r): [number, number] => [r.step, pick(r)[l]!]),
    }));
  charts.inner.update(perLayer((r) => r.inner));
  charts.norms.update(perLayer((r) => r.norms));
  const snaps = snapshots(rs);
  charts.profile.update(snaps.map((r, i) => ({
    name: `step ${r.step}`,
    color: `hsl(222 60% ${Math.round(78 - (50 * i) / Math.max(1, snaps.length - 1))}%)`,
    markers: true,
    points: r.inner.map((v, l): [number, number] => [l, v]),
  })));
}

startBtn.addEventListener("click", () => void start());
stopBtn.addEventListener("click", stop);
resetBtn.addEventListener("click", () => void reset());
setStatus("idle");
render();
if (!("gpu" in navigator) || !navigator.gpu) void ensureGpu();
else if (params.get("autostart") === "1") void start();
