import nodemailer from 'nodemailer';
import type { Notifier } from '../../domain/notifications.js';
import { AppError } from '../../errors.js';

/** Connection-level failures: the server is down or unreachable, and the same message can be sent later. */
const unreachable = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET']);

/**
 * Sends through an SMTP server (locally the SMTP catcher `npm run dev` starts). The notification key
 * goes in a header, so a mailbox (or a test) can tell a repeated notification from another one.
 */
export function smtpNotifier(smtpUrl: string, sender: string, sessions: number): Notifier & { close(): void } {
  // Short timeouts: the sent marker's lock is held while a message is sent.
  const url = new URL(smtpUrl);
  let closed = false;
  const transport = nodemailer.createTransport({
    // Pooled: a message goes over an open session (MAIL, RCPT, DATA) instead of connecting, greeting and
    // saying EHLO and QUIT for each one. A session the server closed is replaced on the next send.
    // Sends beyond `sessions` wait for one; a batch of notifications (src/adapters/postgres/notificationLedger.ts)
    // holds its one transaction meanwhile, not a connection per message.
    pool: true,
    maxConnections: sessions,
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 25)),
    secure: url.protocol === 'smtps:',
    ...(url.username ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } } : {}),
    connectionTimeout: 5_000,
    greetingTimeout: 5_000,
    socketTimeout: 10_000,
  });
  return {
    async send(message) {
      try {
        await transport.sendMail({ from: sender, to: message.to, subject: message.subject, text: message.text, headers: { 'X-Shop-Notification': message.notificationKey } });
      } catch (error) {
        const code = (error as { code?: string }).code;
        // A send still queued when the pool closes (shutdown) fails without a code: it is sent again later.
        if (closed || (code && unreachable.has(code))) throw new AppError('dependency_unavailable', 'The mail server is unavailable', { cause: error });
        throw error;
      }
    },
    close() {
      closed = true;
      transport.close();
    },
  };
}
