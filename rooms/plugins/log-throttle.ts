/**
 * Bounded logging of events a stranger can cause at will (refused joins, bad frames, idle sockets):
 * at most `perWindow` lines per event kind per window, then one line saying how many were left out.
 * The metric beside each event still counts every one.
 */

export type ThrottledLog = (kind: string, context: Record<string, unknown>, message: string) => void;

/** Wrap a warn-level log function; `windowMs` @default 10000, `perWindow` @default 20. */
export function throttleLog(warn: (context: Record<string, unknown>, message: string) => void, options: { windowMs?: number; perWindow?: number } = {}): ThrottledLog {
  const { windowMs = 10_000, perWindow = 20 } = options;
  /** kind -> lines written and left out in the current window. Kinds are a fixed set of literals. */
  const windows = new Map<string, { startedAt: number; written: number; suppressed: number }>();
  return (kind, context, message) => {
    const now = Date.now();
    let window = windows.get(kind);
    if (window === undefined || now - window.startedAt >= windowMs) {
      if (window && window.suppressed > 0) warn({ event: kind, suppressed: window.suppressed, windowMs }, "more events of this kind were not logged");
      window = { startedAt: now, written: 0, suppressed: 0 };
      windows.set(kind, window);
    }
    if (window.written < perWindow) {
      window.written++;
      warn({ event: kind, ...context }, message);
    } else window.suppressed++;
  };
}
