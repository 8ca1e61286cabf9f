/**
 * The previous release, checked out and installed beside this one, for mixed-version tests: the
 * newest `v*` tag that is an ancestor of HEAD and not HEAD itself (or, in a clone without tags, the
 * newest "Version x.y.z" release commit behind HEAD), exported with `git archive` into
 * `~/.cache/parley/releases/<tag>-<commit>` and installed with `npm ci` (from npm's cache when it
 * can), once per machine. Answers a reason instead when it cannot (no git, no tag, no registry).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function git(...args: string[]): string | undefined {
  const result = spawnSync("git", ["-C", ROOT, ...args], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

export type Release = { tag: string; commit: string; root: string };

/** The previous release's checkout, installed; or why there is none. */
export function previousRelease(log: (line: string) => void = () => {}): Release | { reason: string } {
  const head = git("rev-parse", "HEAD");
  if (!head) return { reason: "not a git checkout (git rev-parse HEAD failed)" };
  const tags = (git("tag", "--list", "v*", "--sort=-v:refname") ?? "").split("\n").filter(Boolean);
  let found: { tag: string; commit: string } | undefined;
  for (const tag of tags) {
    const commit = git("rev-list", "-n", "1", tag);
    if (!commit || commit === head) continue;
    if (spawnSync("git", ["-C", ROOT, "merge-base", "--is-ancestor", commit, head]).status !== 0) continue;
    found = { tag, commit };
    break;
  }
  // A clone without tags still has the release commits ("Version x.y.z: ..."): the newest behind HEAD.
  if (!found) {
    const [commit, subject] = (git("log", "--grep=^Version [0-9]", "--format=%H %s", "-n", "1", `${head}~1`) ?? "").split(/ (.*)/);
    const version = /^Version (\d+\.\d+\.\d+)/.exec(subject ?? "")?.[1];
    if (commit && version) found = { tag: `v${version}`, commit };
  }
  if (!found) return { reason: `no release behind HEAD in this clone: no v* tag (tags: ${tags.join(", ") || "none"}) and no "Version x.y.z" commit` };

  const root = join(process.env.PARLEY_RELEASES ?? join(homedir(), ".cache", "parley", "releases"), `${found.tag}-${found.commit.slice(0, 12)}`);
  if (existsSync(join(root, ".installed"))) return { ...found, root };
  log(`installing ${found.tag} (${found.commit.slice(0, 12)}) into ${root} once`);
  mkdirSync(dirname(root), { recursive: true });
  const work = mkdtempSync(`${root}.tmp-`);
  try {
    const exported = spawnSync("sh", ["-c", `git -C "${ROOT}" archive --format=tar "${found.commit}" | tar -x -C "${work}"`], { encoding: "utf8" });
    if (exported.status !== 0) return { reason: `git archive ${found.tag} failed: ${exported.stderr.trim()}` };
    // Install scripts are not needed to run the server (the Node binary is this process's).
    const installed = spawnSync("npm", ["ci", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: work, encoding: "utf8", timeout: 600_000 });
    if (installed.status !== 0)
      return { reason: `npm ci of ${found.tag} failed (no registry or cache?): ${(installed.stderr || installed.error?.message || "").trim().split("\n").slice(-3).join(" ")}` };
    writeFileSync(join(work, ".installed"), `${found.tag} ${found.commit}\n`);
    rmSync(root, { recursive: true, force: true });
    renameSync(work, root);
    return { ...found, root };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
