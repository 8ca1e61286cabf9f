/**
 * A small typed event emitter, the same in browsers and Node. A listener that throws does not stop
 * the others or the kit: its error is rethrown on a microtask, where the host reports it.
 */

/** Subscribe and unsubscribe to the events of a map `{ name: payload }`. */
export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  #listeners: { [K in keyof Events]?: Set<(payload: Events[K]) => void> } = {};

  /** Call `listener` on every `type` event; returns a function that unsubscribes it. */
  on<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): () => void {
    (this.#listeners[type] ??= new Set()).add(listener);
    return () => this.off(type, listener);
  }

  /** Call `listener` on the next `type` event only. */
  once<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): () => void {
    const off = this.on(type, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  /** Remove a listener added with `on`. */
  off<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): void {
    this.#listeners[type]?.delete(listener);
  }

  /** Deliver `payload` to every listener of `type`, in subscription order. */
  emit<K extends keyof Events>(type: K, payload: Events[K]): void {
    const listeners = this.#listeners[type];
    if (!listeners) return;
    for (const listener of [...listeners]) {
      try {
        listener(payload);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** Drop every listener. */
  clear(): void {
    this.#listeners = {};
  }
}
