// First-step child: `tsx bench/lib/first-step-child.ts <out.json> <shape json>` initialises WebGPU
// in a fresh process (so every pipeline is created anew; with an empty MESA_SHADER_CACHE_DIR also
// compiled from scratch) and times the first and the second training step of the shape.
import { AdamW, GPT, Trainer, gpuRuntime, init } from "../../src/node";
import { writeFileAtomic } from "../../src/nn/atomic-write";
import { SplitMix32 } from "../../src/tensor/random";

const [out, shape] = process.argv.slice(2);
const s = JSON.parse(shape) as { L: number; H: number; C: number; B: number; T: number; V: number };
await init({ backend: "webgpu" });
const rt = gpuRuntime()!;
const model = new GPT({ nLayer: s.L, nHead: s.H, nEmbd: s.C, blockSize: s.T, vocabSize: s.V }, { seed: 1 });
const trainer = new Trainer(model, AdamW.forModel(model, { lr: 1e-3 }), { schedule: { lr: 1e-3, warmup: 2, total: 1000 } });
const rng = new SplitMix32(5);
const x = Int32Array.from({ length: s.B * s.T }, () => Math.floor(rng.uniform() * s.V));
const batch = [{ B: s.B, T: s.T, x, y: Int32Array.from(x, (_, i) => x[(i + 1) % x.length]) }];
let t0 = performance.now();
await trainer.trainStep(batch);
const firstStepMs = performance.now() - t0;
const pipelines = rt.stats.pipelines;
t0 = performance.now();
await trainer.trainStep(batch);
const secondStepMs = performance.now() - t0;
writeFileAtomic(out, JSON.stringify({ firstStepMs, secondStepMs, pipelines }));
console.log(`first step ${firstStepMs.toFixed(0)} ms (${pipelines} pipelines), second ${secondStepMs.toFixed(0)} ms`);
process.exit(0);
