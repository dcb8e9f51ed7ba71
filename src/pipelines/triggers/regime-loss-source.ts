/**
 * A `regimeLoss` trigger's reading: the router's per-regime scoreboard (the losses recorded as
 * each forecast's realized variance came with the next bar), and which specialist-regime pairs
 * the trigger watches in it. The routers keep the board; this is the port they answer through,
 * so the trigger reads the same numbers as `GET /api/v1/routers/{name}/performance`.
 */
import { lossHistory, type ScoreboardState } from "../../markets/regime-scoreboard.js";
import { judgeRegimeLoss, type RegimeLossJudgement } from "./decide.js";
import type { RegimeLossTrigger } from "./trigger-spec.js";

/** A router's evaluation as the trigger reads it. */
export interface RouterEvaluation {
  readonly regimes: readonly string[];
  /** The specialists' names (the board also holds the router's own under `router`). */
  readonly specialists: readonly string[];
  readonly board: ScoreboardState;
}

export type RegimeLossAnswer = RouterEvaluation | { readonly problem: string };

export interface RegimeLossSource {
  read(router: string): Promise<RegimeLossAnswer>;
}

/** Every watched pair judged, or what keeps the trigger from being judged (a name the router lacks). */
export function regimeLossJudgements(
  trigger: RegimeLossTrigger,
  evaluation: RouterEvaluation,
): RegimeLossJudgement[] | { readonly problem: string } {
  const { board } = evaluation;
  if (trigger.specialist !== undefined && !board.models.includes(trigger.specialist))
    return {
      problem: `router ${trigger.router} has no specialist ${trigger.specialist} (it has ${board.models.join(", ")})`,
    };
  if (trigger.regime !== undefined && !evaluation.regimes.includes(trigger.regime))
    return {
      problem: `router ${trigger.router} has no regime ${trigger.regime} (it has ${evaluation.regimes.join(", ")})`,
    };
  const specialists = trigger.specialist === undefined ? evaluation.specialists : [trigger.specialist];
  const regimes = trigger.regime === undefined ? evaluation.regimes : [trigger.regime];
  return regimes.flatMap((regime) =>
    specialists.map((s) =>
      judgeRegimeLoss(trigger, s, regime, lossHistory(board, regime, s, trigger.metric)),
    ),
  );
}
