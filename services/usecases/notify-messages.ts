import { SCENARIO_ZH, STATUS_ZH } from '../adapters/files/kml.ts';
import type { Mail } from '../adapters/notify/smtp.ts';
import type { ClueSummary } from '../adapters/postgis/notify-store.ts';

/**
 * What notifications say: e-mail (zh-CN first, English second) and webhook payloads. Pure
 * functions of the clue summaries, so the wording can be checked without sending anything.
 */

export const EVENT_CLUE = 'clue.high_priority';
export const EVENT_DIGEST = 'clues.digest';

interface Recipient {
  username: string;
  display_name: string;
}

const nf = (v: number, digits: number) =>
  v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });

function county(c: ClueSummary): string {
  if (!c.county_adcode) return '未归属区县 / no county';
  return c.county_name ? `${c.county_name}（${c.county_adcode}）` : c.county_adcode;
}

function scenarioZh(s: string): string {
  return SCENARIO_ZH[s] ?? s;
}

function lonLat(c: ClueSummary): string {
  return `${c.lon.toFixed(5)}°E, ${c.lat.toFixed(5)}°N`;
}

/** The clue as webhook JSON (stable field names, ISO dates). */
export function clueJson(c: ClueSummary) {
  return {
    id: c.id,
    number: `#${c.id}`,
    scenario: c.scenario,
    scenario_zh: scenarioZh(c.scenario),
    status: c.status,
    priority: c.priority,
    confidence: c.confidence,
    area_m2: c.area_m2,
    area_mu: c.area_mu,
    first_seen: c.first_seen,
    last_seen: c.last_seen,
    county_adcode: c.county_adcode,
    county_name: c.county_name,
    centroid: [c.lon, c.lat],
    created_at: c.created_at.toISOString(),
  };
}

export function clueWebhookPayload(deliveryId: number, subscriptionId: number, c: ClueSummary, now: Date) {
  return {
    event: EVENT_CLUE,
    delivery_id: deliveryId,
    subscription_id: subscriptionId,
    sent_at: now.toISOString(),
    clue: clueJson(c),
  };
}

export function digestWebhookPayload(
  digestId: number,
  subscriptionId: number,
  day: string,
  clues: ClueSummary[],
  now: Date,
) {
  return {
    event: EVENT_DIGEST,
    digest_id: digestId,
    subscription_id: subscriptionId,
    day,
    sent_at: now.toISOString(),
    count: clues.length,
    clues: clues.map(clueJson),
  };
}

export function clueMail(to: string, user: Recipient, c: ClueSummary, deliveryId: number): Mail {
  const name = user.display_name || user.username;
  const subject = `【天巡】高优先级线索 #${c.id}：${scenarioZh(c.scenario)}（优先级 ${c.priority}）| High-priority clue #${c.id}`;
  const text = [
    `${name}，您好：`,
    '',
    '您辖区内发现一条新的高优先级线索，请及时审查。',
    `线索编号：#${c.id}`,
    `类型：${scenarioZh(c.scenario)}（${c.scenario}）`,
    `优先级：${c.priority}（0–3，3 为最高）`,
    `状态：${STATUS_ZH[c.status] ?? c.status}`,
    `所在区县：${county(c)}`,
    `面积：${nf(c.area_m2, 0)} 平方米 / ${nf(c.area_mu, 2)} 亩`,
    `置信度：${c.confidence.toFixed(2)}`,
    `发现日期：${c.first_seen} 至 ${c.last_seen}`,
    `位置（WGS84）：${lonLat(c)}`,
    '',
    '—— English ——',
    `A new high-priority clue was found in your counties; please review it.`,
    `Clue number: #${c.id}`,
    `Scenario: ${c.scenario}`,
    `Priority: ${c.priority} (0–3, 3 highest)`,
    `Status: ${c.status}`,
    `County: ${c.county_adcode ?? 'none'}`,
    `Area: ${nf(c.area_m2, 0)} m² / ${nf(c.area_mu, 2)} mu`,
    `Confidence: ${c.confidence.toFixed(2)}`,
    `Seen: ${c.first_seen} to ${c.last_seen}`,
    `Location (WGS84): ${lonLat(c)}`,
    '',
    '此邮件由天巡系统自动发送，请勿直接回复。 This message was sent automatically by Skypatrol.',
  ].join('\n');
  return {
    to,
    subject,
    text,
    headers: { 'X-Skypatrol-Delivery': String(deliveryId), 'X-Skypatrol-Clue': String(c.id) },
  };
}

export function digestMail(
  to: string,
  user: Recipient,
  day: string,
  clues: ClueSummary[],
  digestId: number,
): Mail {
  const name = user.display_name || user.username;
  const high = clues.filter((c) => c.priority >= 2).length;
  const subject = `【天巡】线索日报 ${day}：新线索 ${clues.length} 条（高优先级 ${high} 条）| Daily digest: ${clues.length} new clues`;
  const line = (c: ClueSummary) =>
    `#${c.id}  ${scenarioZh(c.scenario)}（${c.scenario}）  优先级/priority ${c.priority}  ${county(c)}  ${nf(c.area_mu, 2)} 亩/mu  ${lonLat(c)}`;
  const text = [
    `${name}，您好：`,
    '',
    `${day}（北京时间）您辖区内新增线索 ${clues.length} 条，其中高优先级（≥2）${high} 条：`,
    '',
    ...clues.map(line),
    '',
    '—— English ——',
    `${clues.length} new clues in your counties on ${day} (China time), ${high} of high priority (≥ 2); listed above, highest priority first.`,
    '',
    '此邮件由天巡系统自动发送，请勿直接回复。 This message was sent automatically by Skypatrol.',
  ].join('\n');
  return { to, subject, text, headers: { 'X-Skypatrol-Digest': String(digestId) } };
}
