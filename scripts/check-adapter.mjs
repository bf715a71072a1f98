// Prints the WebGPU adapter Dawn finds in Node and exits 1 when there is none (used by .ci/run).
import { create, globals } from "webgpu";

Object.assign(globalThis, globals);
process.env.XDG_RUNTIME_DIR ??= "/tmp";
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error("no WebGPU adapter");
  process.exit(1);
}
const i = adapter.info;
console.log(`adapter: ${i.vendor} ${i.architecture} ${i.device} ${i.description}`.replace(/\s+/g, " "));
process.exit(0);
