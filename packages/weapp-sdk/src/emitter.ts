// A small typed event emitter (mini-programs have no EventEmitter). A throwing handler does not break
// the emitter or the other handlers: its error is rethrown asynchronously, where App.onError sees it.

export type Listener<A> = (arg: A) => void

/** Default for a throwing handler: rethrow on a clean stack, so App.onError / the console reports it. */
export function rethrowLater (err: unknown): void {
  setTimeout(() => { throw err }, 0)
}

export class Emitter<Events extends object> {
  private readonly listeners: { [K in keyof Events]?: Array<Listener<Events[K]>> } = {}

  constructor (private readonly reportError: (err: unknown) => void = rethrowLater) {}

  /** Returns a function that removes the listener. */
  on<K extends keyof Events> (event: K, listener: Listener<Events[K]>): () => void {
    const list = this.listeners[event] ?? (this.listeners[event] = [])
    list.push(listener)
    return () => { this.off(event, listener) }
  }

  once<K extends keyof Events> (event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (arg) => { off(); listener(arg) })
    return off
  }

  off<K extends keyof Events> (event: K, listener: Listener<Events[K]>): void {
    const list = this.listeners[event]
    if (list === undefined) return
    const i = list.indexOf(listener)
    if (i !== -1) list.splice(i, 1)
  }

  emit<K extends keyof Events> (event: K, arg: Events[K]): void {
    const list = this.listeners[event]
    if (list === undefined) return
    for (const listener of list.slice()) {
      try { listener(arg) } catch (err) { this.reportError(err) }
    }
  }

  listenerCount (event: keyof Events): number {
    return this.listeners[event]?.length ?? 0
  }
}
