/**
 * The `ballast` command. Each subcommand lives in cli/commands/<name>.ts and exports
 * `register(program)`; this file only assembles them and maps failures to one line + exit code.
 */
import { Command, CommanderError } from "commander";
import { fail } from "./errors.js";
import { commands } from "./commands/index.js";

export function buildProgram(): Command {
  const program = new Command("ballast")
    .description("Serve, watch and roll out machine-learning models")
    .version("0.1.0")
    // Root options only before the subcommand, so `deploy --version 3` is deploy's own flag.
    .enablePositionalOptions()
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    // Commander has already printed its own one-line message for usage errors.
    if (error instanceof CommanderError) process.exit(error.exitCode);
    fail(error);
  }
}

await main(process.argv);
