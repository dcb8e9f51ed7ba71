import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { decodeFeedback } from "../../serving/feedback.js";
import { joinReport, loggedAmong } from "../../serving/feedback-join.js";

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
      // Unmatched items are kept (their prediction may be logged later) and reported.
      const join = joinReport(
        records,
        await loggedAmong(records, ballast.predictionLog, ballast.predictions),
      );
      if (join.unmatched > 0) ballast.metrics.feedbackUnmatched(join.unmatched);
      return join;
    });
  };
}
