import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MailDev } from 'maildev';

export interface CaughtMail {
  subject: string;
  to: { address: string }[];
  headers: Record<string, string>;
  text: string;
}

/** A private SMTP catcher (MailDev, the one `npm run dev` starts) on free ports, with its messages readable. */
export interface MailCatcher {
  smtpUrl: string;
  webUrl: string;
  /** Every message received so far. */
  messages(): Promise<CaughtMail[]>;
  /** Waits until `count` messages satisfy `match` (or the time is up) and returns those received. */
  waitFor(match: (mail: CaughtMail) => boolean, count?: number, timeoutMs?: number): Promise<CaughtMail[]>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `smtpPort` starts it on a known port (a restarted mail server); any free one otherwise. */
export async function startMailCatcher(smtpPort?: number): Promise<MailCatcher> {
  const [smtp, web] = [smtpPort ?? (await freePort()), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'shop-mail-'));
  const maildev = new MailDev({ smtp, web, ip: '127.0.0.1', webIp: '127.0.0.1', mailDirectory: dir, silent: true });
  await maildev.start();
  const webUrl = `http://127.0.0.1:${web}`;
  const messages = async () => (await (await fetch(`${webUrl}/api/email`)).json()) as CaughtMail[];
  return {
    smtpUrl: `smtp://127.0.0.1:${smtp}`,
    webUrl,
    messages,
    async waitFor(match, count = 1, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = (await messages()).filter(match);
        if (found.length >= count || Date.now() > deadline) return found;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async stop() {
      await maildev.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
