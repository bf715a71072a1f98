// Shapes shared by the suites and the peers: one GPT training-step configuration (its matmuls
// are [4096,256]x[256,1024] and friends) and the peer comparison cases.

/** The bench GPT step: batch 16 × context 256 tokens, width 256, 4 heads of 64, vocab 1024. */
export const GPT_SHAPES = { B: 16, T: 256, BT: 4096, C: 256, H: 4, D: 64, V: 1024 } as const;

/** A case that every implementation (ours and the peers) runs. */
export interface PeerCase {
  id: string;
  kind: "matmul" | "softmax" | "layernorm" | "mlp";
  /** matmul: [M, K, N]; softmax/layernorm: [rows, cols]; mlp: [batch, in, hidden, out]. */
  dims: number[];
  /** Work per call: FLOPs (matmul, mlp) or bytes moved (softmax, layernorm: read + write). */
  flop?: number;
  bytes?: number;
}

/** The peer comparison cases; `quick` keeps the ones the targets name. */
export function peerCases(quick: boolean): PeerCase[] {
  const mm = (M: number, K: number, N: number): PeerCase =>
    ({ id: `matmul ${M}x${K}x${N}`, kind: "matmul", dims: [M, K, N], flop: 2 * M * N * K });
  const all: PeerCase[] = [
    mm(512, 512, 512),
    mm(1024, 1024, 1024),
    mm(4096, 256, 1024),
    { id: "softmax [4096,1024]", kind: "softmax", dims: [4096, 1024], bytes: 2 * 4 * 4096 * 1024 },
    { id: "layernorm [4096,256]", kind: "layernorm", dims: [4096, 256], bytes: 2 * 4 * 4096 * 256 },
    // MLP step: x[512,256] -> relu(x W1 + b1)[512,1024] -> W2 -> [512,256], MSE, SGD.
    { id: "mlp train step 512x256-1024-256", kind: "mlp", dims: [512, 256, 1024, 256], flop: 6 * 2 * 512 * 256 * 1024 },
  ];
  return quick ? all.filter((c) => c.dims.join() !== "512,512,512") : all;
}
