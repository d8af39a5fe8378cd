import nodemailer, { type Transporter } from 'nodemailer';
import { SkypatrolError } from '../../core/errors.ts';

/**
 * E-mail over SMTP (nodemailer). The server comes from SKYPATROL_SMTP_URL, e.g.
 * `smtp://user:pass@mail.example.cn:587` (STARTTLS when offered) or `smtps://…:465`.
 */

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** Extra headers, e.g. an id the receiving system can de-duplicate on. */
  headers?: Record<string, string>;
}

export interface MailResult {
  ok: boolean;
  detail: string;
}

export interface Mailer {
  send(mail: Mail): Promise<MailResult>;
  close(): void;
}

export function createMailer(smtpUrl: string, from: string, timeoutMs = 15_000): Mailer {
  let transport: Transporter;
  try {
    transport = nodemailer.createTransport(smtpUrl, {
      from,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    } as object);
  } catch (err) {
    throw new SkypatrolError('CONFIG_INVALID', `SKYPATROL_SMTP_URL is not usable: ${(err as Error).message}`);
  }
  return {
    async send(mail) {
      try {
        const info = await transport.sendMail({
          from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          ...(mail.html ? { html: mail.html } : {}),
          ...(mail.headers ? { headers: mail.headers } : {}),
        });
        const rejected = (info.rejected ?? []).map(String);
        if (rejected.length) return { ok: false, detail: `rejected: ${rejected.join(', ')}` };
        return { ok: true, detail: String(info.response ?? 'accepted').slice(0, 200) };
      } catch (err) {
        const e = err as Error & { responseCode?: number; code?: string };
        return {
          ok: false,
          detail:
            `not sent: ${e.responseCode ? `${e.responseCode} ` : ''}${e.code ? `${e.code} ` : ''}${e.message}`.slice(
              0,
              500,
            ),
        };
      }
    },
    close() {
      transport.close();
    },
  };
}
