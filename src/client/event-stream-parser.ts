/**
 * A Server-Sent Events parser (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation),
 * as a pure state machine: text in, events out, no I/O. Lines end with LF, CR or CRLF (a CR at
 * the end of one chunk may be the first half of a CRLF split across two); a blank line ends
 * an event; `:` starts a comment (the server's keepalive); `data` lines join with LF.
 */
export interface ServerEvent {
  /** The `event:` field, `message` when absent. */
  event: string;
  /** The `id:` field, when present. */
  id: string | undefined;
  data: string;
}

export class EventStreamParser {
  private buffer = '';
  private event = '';
  private id: string | undefined;
  private data: string[] = [];
  private sawCr = false;

  /** Feeds the next piece of the stream; returns the events it completed. */
  feed(text: string): ServerEvent[] {
    const events: ServerEvent[] = [];
    let start = 0;
    let i = 0;
    if (this.sawCr && text.startsWith('\n')) {
      start = 1;
      i = 1;
    }
    this.sawCr = false;
    for (; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code !== 10 && code !== 13) continue;
      const line = this.buffer + text.slice(start, i);
      this.buffer = '';
      if (code === 13) {
        if (i + 1 === text.length) this.sawCr = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      this.line(line, events);
    }
    this.buffer += text.slice(start);
    return events;
  }

  private line(line: string, events: ServerEvent[]): void {
    if (line === '') {
      if (this.data.length > 0) events.push({ event: this.event || 'message', id: this.id, data: this.data.join('\n') });
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
  }
}
