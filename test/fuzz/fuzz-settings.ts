/**
 * fast-check settings shared by the fuzz tests: a fixed seed and a modest number of runs in CI, both
 * overridable for a longer hunt or to replay a failure (`FC_SEED=… FC_RUNS=… npx vitest run test/fuzz`).
 * fast-check prints the seed and the shrunk counterexample's path when a property fails.
 */
import type { Parameters as FcParameters } from 'fast-check';

const DEFAULT_SEED = 20_261_129;

/** Settings for one property: `runs` by default, `FC_RUNS` wins; seed from `FC_SEED` or fixed. */
export function fuzzSettings<T>(name: string, runs: number): FcParameters<T> {
  const seed = process.env.FC_SEED === undefined ? DEFAULT_SEED : Number(process.env.FC_SEED);
  const numRuns = process.env.FC_RUNS === undefined ? runs : Number(process.env.FC_RUNS);
  console.log(
    `[fuzz] ${name}: seed=${seed} runs=${numRuns} (replay: FC_SEED=${seed} FC_RUNS=${numRuns})`,
  );
  return { seed, numRuns, endOnFailure: true };
}
