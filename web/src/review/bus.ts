// A small in-page channel between the review features and the chat panel:
// "Share selection in chat" hands a link to the chat's draft, and the
// editor reports what it scrolled to and any notice for the user.

type Listener<T> = (v: T) => void

class Channel<T> {
  private readonly fns = new Set<Listener<T>>()
  on(fn: Listener<T>): () => void {
    this.fns.add(fn)
    return () => this.fns.delete(fn)
  }
  emit(v: T): void {
    for (const fn of this.fns) fn(v)
  }
}

export const reviewBus = {
  shares: new Channel<string>(),
  notices: new Channel<string>(),
  reveals: new Channel<{ startLine: number; endLine: number }>(),
  share(link: string) {
    this.shares.emit(link)
  },
  notice(text: string) {
    this.notices.emit(text)
  },
  revealed(startLine: number, endLine: number) {
    this.reveals.emit({ startLine, endLine })
  },
}
