import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allowList,
  postWebhook,
  refusedRange,
  vetWebhookTarget,
  WebhookTargetRefused,
} from '../../services/adapters/notify/webhook.ts';

/** The webhook SSRF guard: which addresses are refused, DNS names, the allow-list, delivery. */

describe('refusedRange', () => {
  it('refuses loopback, link-local (cloud metadata), private, ULA and other special ranges', () => {
    for (const [addr, what] of [
      ['127.0.0.1', 'loopback'],
      ['127.255.0.9', 'loopback'],
      ['10.1.2.3', 'private (RFC 1918)'],
      ['172.16.0.1', 'private (RFC 1918)'],
      ['172.31.255.255', 'private (RFC 1918)'],
      ['192.168.1.1', 'private (RFC 1918)'],
      ['169.254.169.254', 'link-local (cloud metadata)'],
      ['100.64.0.1', 'carrier-grade NAT'],
      ['0.0.0.0', '"this" network'],
      ['224.0.0.1', 'multicast'],
      ['::1', 'loopback'],
      ['[::1]', 'loopback'],
      ['::', 'unspecified'],
      ['fc00::1', 'unique local (ULA)'],
      ['fd12:3456::1', 'unique local (ULA)'],
      ['fe80::1%eth0', 'link-local'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['::ffff:a9fe:a9fe', 'link-local (cloud metadata)'],
    ])
      expect({ addr, why: refusedRange(addr!) }).toEqual({ addr, why: what });
  });

  it('lets public addresses through', () => {
    for (const addr of [
      '8.8.8.8',
      '1.1.1.1',
      '172.32.0.1',
      '192.169.0.1',
      '2606:4700::1111',
      '::ffff:8.8.8.8',
    ])
      expect({ addr, why: refusedRange(addr) }).toEqual({ addr, why: null });
  });

  it('lets through what the allow-list names, and only that', () => {
    const allow = allowList(['127.0.0.0/8', '10.20.0.0/16', '::1']);
    expect(refusedRange('127.0.0.1', allow)).toBeNull();
    expect(refusedRange('10.20.3.4', allow)).toBeNull();
    expect(refusedRange('::1', allow)).toBeNull();
    expect(refusedRange('10.21.0.1', allow)).toBe('private (RFC 1918)');
    expect(refusedRange('169.254.169.254', allow)).toBe('link-local (cloud metadata)');
    expect(() => allowList(['localhost'])).toThrow(/not an IP network/);
    expect(() => allowList(['10.0.0.0/33'])).toThrow(/prefix/);
  });
});

describe('vetWebhookTarget', () => {
  const refused = async (url: string, allow: string[] = []) => {
    try {
      await vetWebhookTarget(new URL(url), allowList(allow));
    } catch (err) {
      if (err instanceof WebhookTargetRefused) return err.message;
      throw err;
    }
    return null;
  };

  it('refuses literal addresses in refused ranges and non-http(s) schemes', async () => {
    expect(await refused('http://127.0.0.1:8080/hook')).toMatch(/127\.0\.0\.1:8080 is a loopback address/);
    expect(await refused('http://169.254.169.254/latest/meta-data/')).toMatch(/link-local/);
    expect(await refused('https://10.0.0.5/hook')).toMatch(/private/);
    expect(await refused('http://[::1]:9000/')).toMatch(/loopback/);
    expect(await refused('http://[fd00::1]/')).toMatch(/unique local/);
    expect(await refused('http://[::ffff:127.0.0.1]/')).toMatch(/loopback/);
    // WHATWG URL parsing turns these spellings of 127.0.0.1 into the dotted form first.
    expect(await refused('http://2130706433/')).toMatch(/loopback/);
    expect(await refused('http://0x7f.1/')).toMatch(/loopback/);
    expect(await refused('ftp://example.com/x')).toMatch(/http:\/\/ or https:\/\//);
    expect(await refused('file:///etc/passwd')).toMatch(/http:\/\/ or https:\/\//);
  });

  it('refuses a name that resolves to loopback (localhost), after DNS', async () => {
    expect(await refused('http://localhost:8080/hook')).toMatch(
      /localhost:8080 resolves to (127\.0\.0\.1|::1), a loopback address/,
    );
    expect(await refused('http://localhost:8080/hook', ['127.0.0.0/8', '::1'])).toBeNull();
    // Every address of the name must pass, not just one.
    expect(await refused('http://localhost:8080/hook', ['203.0.113.0/24'])).not.toBeNull();
  });

  it('lets a public literal address through', async () => {
    expect(await refused('https://203.0.113.10/hook')).toBeNull();
  });
});

describe('postWebhook', () => {
  let receiver: Server;
  let other: Server;
  let port = 0;
  let otherPort = 0;
  const got: string[] = [];
  let otherHits = 0;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      got.push(req.url ?? '');
      if (req.url === '/redirect') {
        res.statusCode = 302;
        res.setHeader('location', `http://127.0.0.1:${otherPort}/inside`);
        res.end();
        return;
      }
      res.end('ok');
    });
    other = createServer((_req, res) => {
      otherHits++;
      res.end('inside');
    });
    await new Promise<void>((ok) => receiver.listen(0, '127.0.0.1', () => ok()));
    await new Promise<void>((ok) => other.listen(0, '127.0.0.1', () => ok()));
    port = (receiver.address() as AddressInfo).port;
    otherPort = (other.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((ok) => receiver.close(() => ok()));
    await new Promise<void>((ok) => other.close(() => ok()));
  });

  const post = (url: string, allowNets?: string[]) =>
    postWebhook({
      url,
      secret: 'a-secret-of-sixteen+',
      event: 'clue.created',
      deliveryId: '1',
      payload: { hello: 'world' },
      timeoutMs: 5000,
      ...(allowNets ? { allowNets } : {}),
    });

  it('refuses at delivery a loopback target (literal or by name) that nothing allowed; nothing is sent', async () => {
    const before = got.length;
    const literal = await post(`http://127.0.0.1:${port}/hook`);
    expect(literal).toMatchObject({ ok: false, status: 0 });
    expect(literal.detail).toMatch(/^not delivered: refused: .*loopback/);
    const byName = await post(`http://localhost:${port}/hook`);
    expect(byName).toMatchObject({ ok: false, status: 0 });
    expect(byName.detail).toMatch(/resolves to .*loopback/);
    expect(got.length).toBe(before);
  });

  it('delivers when the allow-list permits the address, by literal and by name', async () => {
    expect(await post(`http://127.0.0.1:${port}/hook`, ['127.0.0.0/8'])).toMatchObject({
      ok: true,
      status: 200,
    });
    expect(await post(`http://localhost:${port}/by-name`, ['127.0.0.0/8', '::1'])).toMatchObject({
      ok: true,
      status: 200,
    });
    expect(got).toContain('/by-name');
  });

  it('never follows a redirect (a 3xx is a failed delivery; the Location is not requested)', async () => {
    const r = await post(`http://127.0.0.1:${port}/redirect`, ['127.0.0.0/8']);
    expect(r).toMatchObject({ ok: false, status: 302 });
    expect(otherHits).toBe(0);
  });
});
