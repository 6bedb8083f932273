/**
 * `sendwatch test-email`: sends one short message through the configured transport, so
 * an admin finds out at setup time, not during the first incident, that alerts cannot
 * leave the host. Exit: 0 sent, 3 not sent (one line on stderr saying why).
 */
import { testMessage } from '../alerts/message.js';
import type { AlertsConfig } from '../config/alerts-schema.js';
import { now } from '../core/clock.js';
import { EXIT } from '../core/errors.js';
import { describeTransport, sendMail } from '../sinks/mail.js';

export interface TestEmailIo {
  /** One diagnostic line (the caller prefixes the program name). */
  err(line: string): void;
  out(text: string): Promise<void>;
}

export async function runTestEmail(config: AlertsConfig, io: TestEmailIo): Promise<number> {
  const via = describeTransport(config.transport);
  const security = config.transport.type === 'smtp' ? ` (${config.transport.security})` : '';
  const message = testMessage(config, now(), `${via}${security}`);
  try {
    const id = await sendMail(config.transport, message);
    await io.out(`test message sent to ${message.to.join(', ')} via ${via}: ${id}\n`);
    return EXIT.OK;
  } catch (e) {
    // sendMail's errors are already one line naming the transport.
    io.err(`test e-mail not sent: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.RUNTIME;
  }
}
