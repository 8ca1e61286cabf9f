/**
 * The browser pages a node serves (the ops console at /admin, the demo chat at /demo): their
 * TypeScript under pages/ is bundled by esbuild on first request, once per process, so the page
 * loads nothing from any other host and the image needs no build step. Every page answer carries a
 * strict Content-Security-Policy: scripts, styles and images from this origin only.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Response } from "express";

const PAGES = join(import.meta.dirname, "..", "..", "pages");

/** One page's assets: its script bundle and its stylesheet. */
export type PageAssets = { script: string; style: string };

/** Bundle a page once (lazily); a failed build is retried on the next request. */
export function pageAssets(page: "console" | "demo"): () => Promise<PageAssets> {
  let built: Promise<PageAssets> | undefined;
  return () => {
    built ??= bundle(page).catch((error: unknown) => {
      built = undefined;
      throw error;
    });
    return built;
  };
}

async function bundle(page: "console" | "demo"): Promise<PageAssets> {
  // Imported on first use: nodes that never serve a page never load esbuild.
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [join(PAGES, page, "main.ts")],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2022",
    minify: true,
    write: false,
    logLevel: "silent",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const [base, own] = await Promise.all([readFile(join(PAGES, "shared", "base.css"), "utf8"), readFile(join(PAGES, page, "page.css"), "utf8")]);
  return { script: result.outputFiles[0]!.text, style: `${base}\n${own}` };
}

/** Headers every page and page API answer carries. `connectSrc` widens connect-src (the demo's cluster nodes). */
export function setPageHeaders(res: Response, connectSrc: readonly string[] = []): void {
  res.set({
    "Content-Security-Policy": [
      "default-src 'self'",
      `connect-src 'self'${connectSrc.map((source) => ` ${source}`).join("")}`,
      "img-src 'self' data:",
      "style-src 'self'",
      "script-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join("; "),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
  });
}

/** The HTML shell of a page: a title, its stylesheet and its script, and nothing inline. */
export function pageShell(title: string, base: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="${base}/assets/page.css">
</head>
<body>
<div id="app"><p>Loading…</p></div>
<script src="${base}/assets/page.js"></script>
</body>
</html>`;
}

/** Serve a page's two assets under `${base}/assets/`. */
export async function sendAsset(res: Response, assets: () => Promise<PageAssets>, name: string): Promise<void> {
  const { script, style } = await assets();
  if (name === "page.js") res.type("text/javascript; charset=utf-8").send(script);
  else if (name === "page.css") res.type("text/css; charset=utf-8").send(style);
  else res.status(404).json({ error: { code: "NOT_FOUND", message: "no such asset" } });
}
