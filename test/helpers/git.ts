/** Runs git in a test repository with a fixed identity, so commits work on a bare CI machine. */
import { execFileSync } from "node:child_process";

export function gitIn(repo: () => string): (...args: string[]) => string {
  return (...args) =>
    execFileSync("git", ["-C", repo(), ...args], {
      encoding: "utf8",
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@x",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@x",
      },
    }).trim();
}
