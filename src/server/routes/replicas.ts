/**
 * The replicas sharing this store, and which reconciler each runs (the lease it holds): what
 * an operator asks first when two pods disagree, or a rollout seems to stand still.
 */
import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { leaseRows } from "../../store/leases.js";

export function replicaRoutes(ballast: Ballast): FastifyPluginAsync {
  return async (app) => {
    app.get("/api/v1/replicas", async () => {
      const [replicas, leases] = await Promise.all([
        ballast.replica.heartbeat.list(),
        leaseRows(ballast.store.db),
      ]);
      // Leases expire by real time (the database's on PostgreSQL), never by an injected clock.
      const now = Date.now();
      // A lease past its expiry is nobody's, whatever its row still says.
      const held = leases.filter((l) => l.expiresAt > now || l.holder === ballast.replica.id);
      return {
        self: ballast.replica.id,
        replicas: replicas.map((r) => ({
          ...r,
          leases: held.filter((l) => l.holder === r.id).map((l) => l.name),
        })),
        leases: held,
      };
    });
  };
}
