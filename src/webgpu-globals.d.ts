// The WebGPU interfaces that metagrad's public declarations name, declared empty so that they
// merge with the real ones wherever those exist and stand alone where they do not:
// - TypeScript 5.x has no WebGPU in its DOM library: without `@webgpu/types` these stay empty
//   (nothing to install for a user who never touches a raw GPU object); with it they merge into
//   the full types.
// - TypeScript 7's DOM library declares WebGPU itself: these merge into it, no duplicate names
//   (declaring `@webgpu/types` here instead would collide with it).
// - Projects without the DOM library (e.g. `lib: ["es2022"]` in Node) get the empty interfaces.
// Only interfaces may appear here (they merge); type aliases and `declare var`s would collide.
// The build copies this file to dist/types/ and references it from each entry's declarations.
interface GPU {}
interface GPUAdapter {}
interface GPUBuffer {}
interface GPUBufferBinding {}
interface GPUDevice {}
interface GPUComputePipeline {}
interface GPUBindGroupLayout {}
interface GPUBindGroupEntry {}
