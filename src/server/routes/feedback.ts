import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { decodeFeedback } from "../../serving/feedback.js";

export function feedbackRoutes(ballast: Ballast): FastifyPluginAsync {
  return async (app) => {
    // Acknowledged only after the write commits: a 200 means the outcome is durable.
    app.post("/v1/feedback", async (request) => {
      const now = ballast.clock.now();
      const records = decodeFeedback(request.body, now);
      await ballast.predictions.upsertFeedback(records, now);
      const labels = records.filter((r) => r.kind === "label").length;
      if (labels > 0) ballast.metrics.feedbackReceived("label", labels);
      if (records.length > labels) ballast.metrics.feedbackReceived("event", records.length - labels);
      return { accepted: records.length };
    });
  };
}
