import type { Command } from "commander";
import { register as serve } from "./serve.js";
import { register as models } from "./models.js";
import { register as deploy } from "./deploy.js";
import { register as predict } from "./predict.js";
import { register as feedback } from "./feedback.js";
import { register as profile } from "./profile.js";
import { register as report } from "./report.js";
import { register as resources } from "./resources.js";
import { register as rollout } from "./rollout.js";
import { register as token } from "./token.js";
import { register as pipeline } from "./pipeline.js";
import { register as fit } from "./fit.js";
import { register as worker } from "./worker.js";
import { register as instruments } from "./instruments.js";
import { register as backtest } from "./backtest.js";
import { register as routers } from "./routers.js";

/** Adding a command is one file in this folder and one line here. */
export const commands: Array<(program: Command) => void> = [
  serve,
  models,
  deploy,
  predict,
  feedback,
  profile,
  report,
  resources,
  rollout,
  token,
  pipeline,
  fit,
  worker,
  instruments,
  backtest,
  routers,
];
