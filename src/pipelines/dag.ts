/**
 * A pipeline's steps as a graph: each step depends on the steps its spec reads from
 * (`split.train` reads step `split`) and on those it `needs`. Checked when a pipeline is
 * applied (duplicates, unknown references, cycles, each refused with the field named) and read
 * by the orchestrator to know which steps may start. Pure.
 */
import { invalidField } from "../registry/field.js";

export interface DagNode {
  readonly name: string;
  /** Where the step is declared (`steps[2]`). */
  readonly field: string;
  /** Upstream steps, each with where the spec names it (`steps[2].train`, `steps[2].needs[0]`). */
  readonly upstream: ReadonlyArray<{ readonly step: string; readonly field: string }>;
}

/** The step a reference reads from: `split.train` -> `split`, `data` -> `data`. */
export function stepOfRef(ref: string): string {
  const dot = ref.indexOf(".");
  return dot < 0 ? ref : ref.slice(0, dot);
}

/** The output a reference names, or undefined for a bare step name (its primary output). */
export function outputOfRef(ref: string): string | undefined {
  const dot = ref.indexOf(".");
  return dot < 0 ? undefined : ref.slice(dot + 1);
}

/**
 * Checks the graph and returns its steps in an order where every step comes after what it
 * depends on (declaration order among steps free to go). Throws naming the field at fault.
 */
export function checkDag(nodes: readonly DagNode[]): string[] {
  const byName = new Map<string, DagNode>();
  for (const node of nodes) {
    if (byName.has(node.name))
      throw invalidField(`${node.field}.name`, `a step named '${node.name}' is declared twice`);
    byName.set(node.name, node);
  }
  for (const node of nodes) {
    for (const up of node.upstream) {
      if (up.step === node.name) throw invalidField(up.field, `step '${node.name}' cannot read from itself`);
      if (!byName.has(up.step))
        throw invalidField(
          up.field,
          `names step '${up.step}', which does not exist; the steps are ${[...byName.keys()].join(", ")}`,
        );
    }
  }
  const cycle = findCycle(nodes, byName);
  if (cycle !== undefined) {
    const first = byName.get(cycle[0] as string) as DagNode;
    throw invalidField(first.field, `the steps form a cycle: ${cycle.join(" -> ")}`, { cycle });
  }
  return topologicalOrder(nodes);
}

/** A cycle as the names along it, first name repeated at the end (`a -> b -> a`). */
function findCycle(nodes: readonly DagNode[], byName: ReadonlyMap<string, DagNode>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  // Iterative depth-first search (a long chain of steps must not exhaust the call stack).
  for (const root of nodes) {
    if (state.has(root.name)) continue;
    const stack: Array<{ name: string; next: number }> = [{ name: root.name, next: 0 }];
    state.set(root.name, "open");
    path.push(root.name);
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as { name: string; next: number };
      const ups = (byName.get(top.name) as DagNode).upstream;
      if (top.next >= ups.length) {
        state.set(top.name, "done");
        stack.pop();
        path.pop();
        continue;
      }
      const up = (ups[top.next++] as { step: string }).step;
      const seen = state.get(up);
      if (seen === "open") {
        // Edges point upstream; reversed, the cycle reads in the direction data flows.
        const at = path.indexOf(up);
        return [...path.slice(at), up].reverse();
      }
      if (seen === undefined) {
        state.set(up, "open");
        path.push(up);
        stack.push({ name: up, next: 0 });
      }
    }
  }
  return undefined;
}

function topologicalOrder(nodes: readonly DagNode[]): string[] {
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < nodes.length) {
    const next = nodes.find((n) => !done.has(n.name) && n.upstream.every((u) => done.has(u.step)));
    if (next === undefined) break; // unreachable after findCycle
    done.add(next.name);
    order.push(next.name);
  }
  return order;
}

/** The steps directly downstream of `step`, and theirs, in the given order. */
export function downstreamOf(
  step: string,
  order: readonly string[],
  upstream: (step: string) => readonly string[],
): string[] {
  const hit = new Set([step]);
  for (const name of order) if (upstream(name).some((u) => hit.has(u))) hit.add(name);
  hit.delete(step);
  return order.filter((n) => hit.has(n));
}
