import net from 'node:net';
import tls from 'node:tls';

/**
 * A lean SMTP client for load: STARTTLS and AUTH PLAIN (or neither), then messages back to back with
 * PIPELINING (RFC 2920) as MTAs such as Postfix submit — MAIL, RCPT and DATA in one write, the
 * body after the 354 — so a message costs two round trips instead of five. nodemailer's client
 * (one command per round trip) is the other way the submission bench measures.
 */
export class PipeliningSmtpClient {
  private socket: net.Socket | tls.TLSSocket;
  private buffer = '';
  private lines: string[] = [];
  private waiting:
    | { count: number; replies: string[]; resolve: (r: string[]) => void; reject: (e: Error) => void }
    | undefined;
  private failure: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.listen(socket);
  }

  static async connect(host: string, port: number, user: string, pass: string): Promise<PipeliningSmtpClient> {
    const socket = net.connect(port, host);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new PipeliningSmtpClient(socket);
    await client.expect(1, '220');
    await client.command('EHLO bench.client\r\n', '250');
    await client.command('STARTTLS\r\n', '220');
    await client.upgrade(host);
    await client.command('EHLO bench.client\r\n', '250');
    await client.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`).toString('base64')}\r\n`, '235');
    return client;
  }

  /** Without TLS or AUTH, for a relay that trusts the client's address (the delivery bench's Postfix). */
  static async connectPlain(host: string, port: number): Promise<PipeliningSmtpClient> {
    const socket = net.connect(port, host);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new PipeliningSmtpClient(socket);
    await client.expect(1, '220');
    await client.command('EHLO bench.client\r\n', '250');
    return client;
  }

  /** One message: MAIL, RCPT and DATA pipelined, then the body. Rejects with the server's reply on a refusal. */
  async send(from: string, to: string, raw: string): Promise<void> {
    this.socket.write(`MAIL FROM:<${from}>\r\nRCPT TO:<${to}>\r\nDATA\r\n`);
    const [mail, rcpt, data] = await this.expect(3);
    if (!mail!.startsWith('250') || !rcpt!.startsWith('250') || !data!.startsWith('354')) {
      if (data!.startsWith('354')) await this.command('.\r\n'); // DATA was accepted after a refusal: end it empty
      throw new Error(`refused: ${[mail, rcpt, data].join(' | ')}`);
    }
    // dot-stuffing: a line starting with "." gets a second one
    this.socket.write(`${raw.replace(/\r\n\./g, '\r\n..')}\r\n.\r\n`);
    const [done] = await this.expect(1);
    if (!done!.startsWith('250')) throw new Error(`refused after DATA: ${done}`);
  }

  async quit(): Promise<void> {
    await this.command('QUIT\r\n').catch(() => undefined);
    this.socket.destroy();
  }

  private async command(line: string, expected?: string): Promise<string> {
    this.socket.write(line);
    const [reply] = await this.expect(1, expected);
    return reply!;
  }

  private expect(count: number, code?: string): Promise<string[]> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<string[]>((resolve, reject) => {
      this.waiting = {
        count,
        replies: [],
        resolve: (replies) =>
          code && !replies.every((r) => r.startsWith(code))
            ? reject(new Error(`expected ${code}, got ${replies.join(' | ')}`))
            : resolve(replies),
        reject,
      };
      this.drain();
    });
  }

  private async upgrade(host: string): Promise<void> {
    const plain = this.socket as net.Socket;
    plain.removeAllListeners('data');
    const secure = tls.connect({
      socket: plain,
      servername: host === '127.0.0.1' ? undefined : host,
      rejectUnauthorized: false,
    });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    this.socket = secure;
    this.listen(secure);
  }

  private listen(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let i: number;
      while ((i = this.buffer.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, i));
        this.buffer = this.buffer.slice(i + 2);
      }
      this.drain();
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      this.waiting?.reject(err);
      this.waiting = undefined;
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  /** Hands complete replies (a multi-line reply ends with "ddd ") to the waiting caller. */
  private drain(): void {
    const w = this.waiting;
    if (!w) return;
    let end: number;
    while (w.replies.length < w.count && (end = this.lines.findIndex((l) => /^\d{3}( |$)/.test(l))) >= 0) {
      w.replies.push(this.lines.slice(0, end + 1).join('\n'));
      this.lines.splice(0, end + 1);
    }
    if (w.replies.length === w.count) {
      this.waiting = undefined;
      w.resolve(w.replies);
    }
  }
}
