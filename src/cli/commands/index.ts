import type { Command } from "commander";

/** Adding a command is one file in this folder and one line here. */
export const commands: Array<(program: Command) => void> = [];
