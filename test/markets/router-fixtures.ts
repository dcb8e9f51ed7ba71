/** Shared by the router tests: the window length and a 2-state Markov-switching classifier. */
export const W = 22;

export const CLASSIFIER = {
  format: "ballast.builtin/v1",
  kind: "markov-switching",
  window: W,
  regimes: {
    method: "markov-switching",
    labels: ["calm", "turbulent"],
    transition: [
      [0.95, 0.05],
      [0.1, 0.9],
    ],
    means: [0, 0],
    variances: [0.5, 6],
    scale: 100,
  },
};
