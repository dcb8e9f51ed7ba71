/**
 * The layers of src/, enforced (`npm run lint:layers`, part of `npm run lint`): an import may
 * point down the list or stay in its layer, never up, and no module may close a cycle. The
 * order (layers.cjs) is ARCHITECTURE.md's map.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- dependency-cruiser reads CommonJS config
const { LAYERS } = require("./layers.cjs");

const path = (name) => (name.endsWith(".ts") ? `^src/${name.replace(".", "\\.")}$` : `^src/${name}/`);

const forbidden = LAYERS.flatMap((layer, i) => {
  const above = LAYERS.slice(i + 1).flat();
  if (above.length === 0) return [];
  return [
    {
      name: `no-upward-from-${layer.join("-").replace(".ts", "")}`,
      comment: `${layer.join(", ")} may import only what is below it: ${LAYERS.slice(0, i).flat().join(", ") || "nothing"}`,
      severity: "error",
      from: { path: layer.map(path) },
      to: { path: above.map(path) },
    },
  ];
});

module.exports = {
  forbidden: [
    ...forbidden,
    {
      name: "no-circular",
      comment: "a cycle ties modules together so neither can change or be tested alone",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-unknown-layer",
      comment: "every folder under src/ has a place in LAYERS",
      severity: "error",
      from: { path: "^src/", pathNot: LAYERS.flat().map(path) },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    includeOnly: "^src/",
  },
};
