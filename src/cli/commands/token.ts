/**
 * `ballast token hash [token]`: the sha256 a --token-file entry holds, so the file never holds
 * the token itself. Reads the token from stdin when not given (keeps it out of shell history).
 */
import type { Command } from "commander";
import { invalid } from "../../domain/errors.js";
import { hashToken } from "../../server/tokens.js";

export function register(program: Command): void {
  const token = program.command("token").description("API tokens for --token-file");
  token
    .command("hash [token]")
    .description("print the sha256 of a token (read from stdin when not given) for a --token-file entry")
    .action(async (given: string | undefined) => {
      const raw = given ?? (await readStdin());
      const value = raw.replace(/\r?\n$/, "");
      if (value === "") throw invalid("no token given (pass it as an argument or on stdin)");
      process.stdout.write(`${hashToken(value)}\n`);
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
