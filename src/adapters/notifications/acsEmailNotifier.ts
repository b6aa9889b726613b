import { EmailClient } from '@azure/communication-email';
import { ManagedIdentityCredential } from '@azure/identity';
import type { Notifier } from '../../domain/notifications.js';
import { AppError } from '../../errors.js';

/**
 * Sends through Azure Communication Services Email as the function app's user-assigned managed
 * identity (granted a role on the Communication Services resource by infra/). ACS deduplicates only
 * the SDK's own retries of one call (its repeatability headers, for 5 minutes); a new call after a
 * crash is a new email, which is why the sent marker is what stops redeliveries.
 */
export function acsEmailNotifier(options: { endpoint: string; sender: string; managedIdentityClientId?: string }): Notifier {
  const credential = new ManagedIdentityCredential(options.managedIdentityClientId ? { clientId: options.managedIdentityClientId } : {});
  const client = new EmailClient(options.endpoint, credential);
  return {
    async send(message) {
      let status: string;
      try {
        const poller = await client.beginSend({
          senderAddress: options.sender,
          recipients: { to: [{ address: message.to }] },
          content: { subject: message.subject, plainText: message.text },
          headers: { 'X-Shop-Notification': message.notificationKey },
        });
        status = (await poller.pollUntilDone()).status;
      } catch (error) {
        const httpStatus = (error as { statusCode?: number }).statusCode;
        // A 4xx other than throttling will fail again the same way: let the consumer's retries dead-letter it.
        if (httpStatus !== undefined && httpStatus < 500 && httpStatus !== 429 && httpStatus !== 408) throw error;
        throw new AppError('dependency_unavailable', 'Azure Communication Services Email is unavailable', { cause: error });
      }
      if (status !== 'Succeeded') throw new Error(`Azure Communication Services Email answered ${status}`);
    },
  };
}
