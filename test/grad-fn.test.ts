// The functional grad(): gradients for chosen leaves only, leaving every .grad untouched.
import { expect, test } from "vitest";
import { grad, sum, tensor, tidy } from "../src/node";

test("grad() returns d(root)/d(wrt) and does not touch .grad of other leaves", () => {
  tidy(() => {
    const w = tensor([[1, 2], [3, 4]], { backend: "cpu64", requiresGrad: true });
    const h = tensor([[0.5, -1]], { backend: "cpu64" }).requireGrad();
    const y = sum(h.matmul(w).square()); // y = Σ_j (Σ_i h_i w_ij)²
    const [gh] = grad(y, [h]);
    // dy/dh_i = Σ_j 2 (h·w)_j w_ij with h·w = [-2.5, -3]
    expect(Array.from(gh!.storage.f64)).toEqual([2 * -2.5 * 1 + 2 * -3 * 2, 2 * -2.5 * 3 + 2 * -3 * 4]);
    expect(w.grad).toBeNull();
    expect(h.grad).toBeNull();
  });
});

test("grad() rejects non-leaf wrt with a clear error", () => {
  tidy(() => {
    const x = tensor([1, 2], { backend: "cpu64", requiresGrad: true });
    const m = x.mul(2);
    expect(() => grad(sum(m), [m])).toThrow(/grad: wrt tensors must be leaves/);
  });
});
