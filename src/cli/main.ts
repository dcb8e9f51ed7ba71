/**
 * The `ballast` command. Each subcommand lives in cli/commands/<name>.ts and exports
 * `register(program)`; this file only assembles them and maps failures to one line + exit code.
 */
import { Command, CommanderError } from "commander";
import { fail, usageExitCode } from "./errors.js";
import { commands } from "./commands/index.js";
import { exitQuietlyOnClosedPipe } from "./pipe.js";

export function buildProgram(): Command {
  const program = new Command("ballast")
    .description("Serve, watch and roll out machine-learning models")
    .version("0.1.0")
    // Root options only before the subcommand, so `deploy --version 3` is deploy's own flag.
    .enablePositionalOptions()
    // Set before the subcommands are added, which copy these settings: a usage error is one
    // line like every other error, and exits 2 (commander's own code is 1).
    .configureOutput({
      outputError: (text, write) =>
        write(`ballast: ${text.trim().replace(/^error: /, "")} (run with --help for usage)\n`),
    })
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  exitQuietlyOnClosedPipe(process.stdout);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    // Commander has already printed its message (or the help / version asked for).
    if (error instanceof CommanderError) process.exit(usageExitCode(error));
    fail(error);
  }
}

await main(process.argv);
