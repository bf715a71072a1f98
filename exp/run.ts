// `npm run exp -- [e1 … e6] [--config smoke|quick|paper] [--backend webgpu|cpu64] [--seed N]
// [--out DIR] [--data WIKITEXT_DIR] [--gpt2 HF_GPT2_DIR]`: the command-line entry. Usage errors
// exit with status 2, failures with 1. See exp/cli.ts (--help) and exp/main.ts.
import { CliError, HELP, parseCli } from "./cli";
import { runExperiments } from "./main";

async function main(): Promise<number> {
  let opts;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (e) {
    if (e instanceof CliError) {
      console.error(`exp: ${e.message}\n\n${HELP}`);
      return 2;
    }
    throw e;
  }
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  await runExperiments(opts);
  return 0;
}

process.env.XDG_RUNTIME_DIR ??= "/tmp";
main().then((code) => process.exit(code), (e: unknown) => {
  console.error(`exp: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  process.exit(1);
});
