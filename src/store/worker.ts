/**
 * Starts a worker thread running one of Ballast's modules, whether Ballast runs compiled (dist,
 * .js) or from source under tsx (.ts: the worker registers tsx first, since loader hooks are
 * not inherited by worker threads on Node 20).
 */
import { Worker } from "node:worker_threads";

export function startModuleWorker(moduleUrl: URL, workerData: unknown): Worker {
  const href = JSON.stringify(moduleUrl.href);
  const source = moduleUrl.pathname.endsWith(".ts")
    ? `import("tsx/esm/api").then((tsx) => tsx.register()).then(() => import(${href}))`
    : `import(${href})`;
  return new Worker(source, { eval: true, workerData });
}

/** The sibling module of `from` named `name`, with the extension `from` itself has. */
export function siblingModule(from: string, name: string): URL {
  const extension = from.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./${name}${extension}`, from);
}
