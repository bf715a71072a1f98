// The autosave time budget: a checkpoint once `everySeconds` of work have passed since the last
// one (the loop's own saves restart the clock), 30 s by default, overridable by the environment.
import { afterEach, expect, it } from "vitest";
import { Autosave, DEFAULT_AUTOSAVE_SECONDS, autosaveSeconds } from "../src/nn/autosave";

afterEach(() => {
  delete process.env.METAGRAD_AUTOSAVE_SECONDS;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it("checkpoints when the time budget is used up, and not before", async () => {
  let saves = 0;
  const a = new Autosave({ save: async () => void saves++, everySeconds: 0.15, resumeCommand: "resume", log: () => {} });
  try {
    await a.afterStep();
    expect(saves).toBe(0);
    await sleep(160);
    await a.afterStep();
    expect(saves).toBe(1);
    await a.afterStep(); // the clock restarted
    expect(saves).toBe(1);
    await sleep(100);
    a.saved(); // the loop saved itself
    await sleep(80);
    await a.afterStep();
    expect(saves).toBe(1);
    const every = new Autosave({ save: async () => void saves++, everySeconds: 0, resumeCommand: "resume", log: () => {} });
    await every.afterStep();
    await every.afterStep();
    expect(saves).toBe(3);
    every.close();
  } finally {
    a.close();
  }
});

it("defaults to 30 s, overridable by METAGRAD_AUTOSAVE_SECONDS, and rejects nonsense", () => {
  expect(DEFAULT_AUTOSAVE_SECONDS).toBe(30);
  expect(autosaveSeconds()).toBe(30);
  process.env.METAGRAD_AUTOSAVE_SECONDS = "2.5";
  expect(autosaveSeconds()).toBe(2.5);
  const a = new Autosave({ save: async () => {}, resumeCommand: "r", log: () => {} });
  a.close();
  expect(a.everySeconds).toBe(2.5);
  process.env.METAGRAD_AUTOSAVE_SECONDS = "soon";
  expect(() => autosaveSeconds()).toThrow(/METAGRAD_AUTOSAVE_SECONDS must be a number of seconds >= 0, got "soon"/);
  expect(() => new Autosave({ save: async () => {}, everySeconds: -1, resumeCommand: "r" })).toThrow(/everySeconds must be >= 0/);
});
