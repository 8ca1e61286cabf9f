/** Preact with htm: components as tagged templates, no JSX build step. */
export { html } from "htm/preact";
export { render } from "preact";
export { useCallback, useEffect, useRef, useState } from "preact/hooks";

/** Call `load` now and every `intervalMs` while mounted; skipped while a call is in flight. */
export function every(intervalMs: number, load: () => Promise<void>): () => void {
  let busy = false;
  const run = () => {
    if (busy) return;
    busy = true;
    void load().finally(() => (busy = false));
  };
  run();
  const timer = setInterval(run, intervalMs);
  return () => clearInterval(timer);
}

/** "3 min ago"-style age of an ISO time. */
export function since(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}
