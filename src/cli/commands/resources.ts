/**
 * `ballast apply | diff | get | delete | events`: declared resources against a running server.
 * Files are read and checked here first, so a mistake is reported with its file and line
 * before anything is sent; the server checks again (it knows which versions exist).
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { stringify } from "yaml";
import { invalid, isBallastError } from "../../domain/errors.js";
import { kindNamed } from "../../resources/kinds.js";
import { checkedManifests, readManifestFiles } from "../../resources/files.js";
import { type ReadManifest, KINDS } from "../../resources/manifest.js";
import type { ApplyResult, PlannedChange, ResourceView } from "../../resources/service.js";
import type { BallastEvent } from "../../events/event-log.js";
import { clientFor, serverOptions, type ServerFlags } from "../client.js";
import { formatTable, printJson } from "../table.js";
import { parsePositiveInt } from "../options.js";

type ServerOptions = ServerFlags;

/** Every manifest in files, folders (recursively) or `-` (standard input). */
async function readManifestPaths(paths: readonly string[]): Promise<ReadManifest[]> {
  const out: ReadManifest[] = [];
  for (const path of paths) {
    if (path === "-") out.push(...checkedManifests(await readStdin(), "<stdin>"));
    else out.push(...(await readManifestFiles([path])));
  }
  return out;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function send(
  client: ReturnType<typeof clientFor>,
  manifests: ReadManifest[],
  options: { dryRun: boolean; prune?: string },
): Promise<ApplyResult> {
  return client.request<ApplyResult>("POST", "/api/v1/apply", {
    resources: manifests.map((m) => ({ manifest: m.manifest, origin: m.origin })),
    dryRun: options.dryRun,
    ...(options.prune === undefined ? {} : { prune: true }),
    source: { via: "cli", ...(options.prune === undefined ? {} : { location: options.prune }) },
  });
}

function changeLine(c: PlannedChange, dryRun: boolean): string {
  return `${c.kind.toLowerCase()}/${c.name} ${c.action}${dryRun && c.action !== "unchanged" ? " (dry run)" : ""}\n`;
}

export function register(program: Command): void {
  serverOptions(
    program
      .command("apply")
      .description("Create or update resources from YAML files (Deployment, Monitor, Notifier, Pipeline)")
      .requiredOption("-f, --filename <path...>", "a file, a folder (read recursively) or - for stdin")
      .option("--dry-run", "check everything and print what would change, change nothing")
      .option("--prune", "delete resources applied from this folder before that are no longer in it"),
  ).action(async (options: ServerOptions & { filename: string[]; dryRun?: boolean; prune?: boolean }) => {
    const manifests = await readManifestPaths(options.filename);
    if (options.prune === true && (options.filename.length !== 1 || options.filename[0] === "-"))
      throw invalid("--prune needs exactly one folder with -f");
    const client = clientFor(options);
    const prune = options.prune === true ? resolve(options.filename[0] as string) : undefined;
    const result = await send(client, manifests, {
      dryRun: options.dryRun === true,
      ...(prune === undefined ? {} : { prune }),
    });
    for (const change of result.changes) process.stdout.write(changeLine(change, result.dryRun));
  });

  serverOptions(
    program
      .command("diff")
      .description("Show what applying the files would change; exits 1 when something would")
      .requiredOption("-f, --filename <path...>", "a file, a folder (read recursively) or - for stdin"),
  ).action(async (options: ServerOptions & { filename: string[] }) => {
    const manifests = await readManifestPaths(options.filename);
    const result = await send(clientFor(options), manifests, { dryRun: true });
    const changed = result.changes.filter((c) => c.action !== "unchanged");
    for (const c of changed) {
      process.stdout.write(
        `--- ${c.kind} ${c.name} (live)\n+++ ${c.kind} ${c.name} (${c.action})\n${c.diff}`,
      );
    }
    if (changed.length > 0) process.exitCode = 1;
  });

  serverOptions(
    program
      .command("get <kind> [name]")
      .description(`List resources of a kind (${KINDS.join(", ")}) or show one`)
      .option("-o, --output <format>", "table, yaml or json", "table"),
  ).action(async (rawKind: string, name: string | undefined, options: ServerOptions & { output: string }) => {
    const kind = kindNamed(rawKind);
    if (kind === undefined) throw invalid(`unknown kind '${rawKind}'; expected one of ${KINDS.join(", ")}`);
    if (!["table", "yaml", "json"].includes(options.output))
      throw invalid(`--output must be table, yaml or json, got '${options.output}'`);
    const client = clientFor(options);
    const base = `/api/v1/resources/${encodeURIComponent(kind)}`;
    const items =
      name === undefined
        ? (await client.request<{ items: ResourceView[] }>("GET", base)).items
        : [await client.request<ResourceView>("GET", `${base}/${encodeURIComponent(name)}`)];
    if (options.output === "json") return printJson(name === undefined ? { items } : items[0]);
    if (options.output === "yaml") {
      process.stdout.write(
        items.map((v) => stringify({ ...v.manifest, status: v.status }, { lineWidth: 0 })).join("---\n"),
      );
      return;
    }
    process.stdout.write(
      formatTable(
        ["KIND", "NAME", "SYNC", "GENERATION", "SOURCE", "APPLIED"],
        items.map((v) => [
          v.manifest.kind,
          v.manifest.metadata.name,
          v.status.sync,
          v.status.generation ?? "-",
          sourceLabel(v),
          v.status.appliedAt === undefined ? "-" : new Date(v.status.appliedAt).toISOString(),
        ]),
      ),
    );
    for (const v of items.filter((x) => x.status.diff !== undefined && name !== undefined)) {
      process.stdout.write(`\nchanged outside its source (- declared, + live):\n${v.status.diff ?? ""}`);
    }
  });

  serverOptions(
    program
      .command("delete [kind] [name]")
      .description("Delete a resource, or every resource in -f files")
      .option("-f, --filename <path...>", "delete what these files declare"),
  ).action(
    async (
      rawKind: string | undefined,
      name: string | undefined,
      options: ServerOptions & { filename?: string[] },
    ) => {
      const client = clientFor(options);
      const targets: Array<{ kind: string; name: string }> = [];
      if (options.filename !== undefined) {
        for (const m of (await readManifestPaths(options.filename)).reverse()) {
          targets.push({ kind: m.manifest.kind, name: m.manifest.metadata.name });
        }
      } else {
        const kind = rawKind === undefined ? undefined : kindNamed(rawKind);
        if (kind === undefined || name === undefined)
          throw invalid(`give a kind (${KINDS.join(", ")}) and a name, or -f files`);
        targets.push({ kind, name });
      }
      for (const t of targets) {
        try {
          await client.request(
            "DELETE",
            `/api/v1/resources/${encodeURIComponent(t.kind)}/${encodeURIComponent(t.name)}`,
          );
          process.stdout.write(`${t.kind.toLowerCase()}/${t.name} deleted\n`);
        } catch (error) {
          // Deleting what a file declares is idempotent: already gone is fine.
          if (!(options.filename !== undefined && isBallastError(error) && error.code === "not_found"))
            throw error;
          process.stdout.write(`${t.kind.toLowerCase()}/${t.name} not found\n`);
        }
      }
    },
  );

  serverOptions(
    program
      .command("events")
      .description("What changed and why: applies, rollout steps, rollbacks, manual actions")
      .option("--kind <kind>", "only events about this kind of resource")
      .option("--name <name>", "only events about resources of this name")
      .option("--limit <n>", "at most this many (the newest)", "50")
      .option("-o, --output <format>", "table or json", "table"),
  ).action(
    async (options: ServerOptions & { kind?: string; name?: string; limit: string; output: string }) => {
      const query = new URLSearchParams({ limit: String(parsePositiveInt(options.limit, "--limit")) });
      if (options.kind !== undefined) query.set("kind", kindNamed(options.kind) ?? options.kind);
      if (options.name !== undefined) query.set("name", options.name);
      const { events } = await clientFor(options).request<{
        events: BallastEvent[];
      }>("GET", `/api/v1/events?${query.toString()}`);
      if (options.output === "json") return printJson({ events });
      process.stdout.write(
        formatTable(
          ["TIME", "TYPE", "REASON", "OBJECT", "MESSAGE"],
          events.map((e) => [
            new Date(e.at).toISOString(),
            e.type,
            e.reason,
            `${e.kind.toLowerCase()}/${e.name}`,
            e.message,
          ]),
        ),
      );
    },
  );
}

function sourceLabel(v: ResourceView): string {
  const s = v.status.source;
  if (s === undefined) return "-";
  const commit = s.commit === undefined ? "" : `@${s.commit.slice(0, 8)}`;
  return `${s.via}:${s.file ?? s.location ?? ""}${commit}`;
}
