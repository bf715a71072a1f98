// The import rules of the codebase, checked by dependency-cruiser (`npm run deps`, and in
// `npm test` by test/layers.test.ts). Layers import downward only, never up or around:
//
//   test/                                  the test suite: may import anything
//   exp/  examples/                        entry points of the product: src only
//   bench/  scripts/                       tools: src, testkit/ (and scripts: bench/lib)
//   testkit/                               checks shared by test/, bench/, scripts/: src only
//   src/index.ts  src/node.ts              the package entries: all of src
//   src/probes                             nn, tensor, data
//   src/nn                                 tensor, data
//   src/tensor                             shaders (engine: Tensor, ops, autograd, backends)
//   src/data   src/shaders                 nothing of ours
//
// Inside src/tensor the backends (webgpu/, cpu/) sit below the engine and ops see the webgpu
// backend only through its KernelEncoder interface (webgpu/encoder.ts). No circles anywhere,
// type-only imports included.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Modules that import each other (directly or around a loop, type imports included).",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-unresolvable",
      severity: "error",
      comment: "An import the checker cannot resolve would hide its arrow from every other rule.",
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: "shaders-import-nothing",
      severity: "error",
      comment: "src/shaders: WGSL sources and their kernel/plan types; nothing of the engine.",
      from: { path: "^src/shaders/" },
      to: { path: "^(?!src/shaders/)", dependencyTypesNot: ["core"] },
    },
    {
      name: "data-imports-nothing-of-ours",
      severity: "error",
      comment: "src/data: tasks, corpora, tokenizers, batchers, sources; pure host code, no engine.",
      from: { path: "^src/data/" },
      to: { path: "^(src/(?!data/)|exp/|bench/|scripts/|examples/|test/|testkit/)" },
    },
    {
      name: "tensor-imports-shaders-only",
      severity: "error",
      comment: "src/tensor (the engine) may import the shaders, nothing above it.",
      from: { path: "^src/tensor/" },
      to: { path: "^(src/(?!tensor/|shaders/)|exp/|bench/|scripts/|examples/|test/|testkit/)" },
    },
    {
      name: "backends-below-the-engine",
      severity: "error",
      comment: "The backends (tensor/webgpu, tensor/cpu) implement the Backend interface; they know no Tensor, op or autograd.",
      from: { path: "^src/tensor/(webgpu|cpu)/" },
      to: { path: "^src/tensor/(tensor|op|autograd|methods|scope|anomaly|random|index)\\.ts$|^src/tensor/ops/" },
    },
    {
      name: "ops-see-the-backend-interface",
      severity: "error",
      comment: "Ops reach the webgpu backend through KernelEncoder (webgpu/encoder.ts), never the runtime or a backend object.",
      from: { path: "^src/tensor/ops/" },
      to: { path: "^src/tensor/(cpu/|webgpu/(?!encoder\\.ts$))" },
    },
    {
      name: "nn-below-probes",
      severity: "error",
      comment: "src/nn (models, training, checkpoints) may import tensor and data; it knows nothing of probes.",
      from: { path: "^src/nn/" },
      to: { path: "^(src/(probes/|shaders/|index\\.ts|node\\.ts)|exp/|bench/|scripts/|examples/|test/|testkit/)" },
    },
    {
      name: "probes-below-the-entries",
      severity: "error",
      comment: "src/probes may import nn, tensor and data.",
      from: { path: "^src/probes/" },
      to: { path: "^(src/(shaders/|index\\.ts|node\\.ts)|exp/|bench/|scripts/|examples/|test/|testkit/)" },
    },
    {
      name: "above-the-engine-through-its-face",
      severity: "error",
      comment: "nn and probes use the engine's public surface (tensor/index.ts) and the Backend interface, never a backend directly.",
      from: { path: "^src/(nn|probes)/" },
      to: { path: "^src/tensor/(?!index\\.ts$)" },
    },
    {
      name: "src-imports-src",
      severity: "error",
      comment: "The library never imports the tools, experiments or tests built on it.",
      from: { path: "^src/" },
      to: { path: "^(exp|bench|scripts|examples|test|testkit)/" },
    },
    {
      name: "testkit-imports-src",
      severity: "error",
      comment: "testkit/ holds the checks test/, bench/ and scripts/ share: it imports only src.",
      from: { path: "^testkit/" },
      to: { path: "^(exp|bench|scripts|examples|test)/" },
    },
    {
      name: "product-entries-import-src",
      severity: "error",
      comment: "exp/ and examples/ are entry points of the product: they import src only.",
      from: { path: "^(exp|examples)/" },
      to: { path: "^(bench|scripts|test|testkit)/" },
    },
    {
      name: "tools-import-src-and-testkit",
      severity: "error",
      comment: "bench/ and scripts/ import src and testkit (scripts may share bench/lib); never tests or experiments.",
      from: { path: "^(bench|scripts)/" },
      to: { path: "^(test|exp|examples)/" },
    },
    {
      name: "only-tests-import-tests",
      severity: "error",
      comment: "test/ is the top: nothing imports it.",
      from: { path: "^(?!test/)" },
      to: { path: "^test/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|dist|docs)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".d.ts", ".js", ".mjs", ".cjs", ".json"],
    },
  },
};
