/** Dashboard: the reported figures from /stats with bar charts as inline SVG. */
import { ApiError, get, qs, type Stats, type StatsGroup } from '../api.ts';
import type { Ctx } from '../context.ts';
import { h } from '../dom.ts';
import { lang, nameOf, num, SCENARIO_COLORS, SCENARIO_NAMES, STATUS_NAMES, s } from '../i18n.ts';
import { barChart } from '../svg.ts';

export async function renderDashboard(ctx: Ctx, root: HTMLElement): Promise<void> {
  const t = s();
  root.replaceChildren(h('p', { class: 'muted pad' }, t.loading));
  const f = ctx.state.filters;
  let stats: Stats;
  try {
    stats = await get<Stats>(
      `/stats${qs({ from: f.from || undefined, to: f.to || undefined, county: f.county || undefined })}`,
    );
  } catch (e) {
    root.replaceChildren(
      h('p', { class: 'flash error pad' }, `${t.error}: ${e instanceof ApiError ? e.message : String(e)}`),
    );
    return;
  }
  const card = (id: string, label: string, value: string, raw: number) =>
    h(
      'div',
      { class: 'card', id },
      h('div', { class: 'card-value', 'data-value': raw }, value),
      h('div', { class: 'card-label' }, label),
    );
  const T = stats.totals;
  /** Bar text: clues, then confirmed and cases filed of the group. */
  const cases = (g: StatsGroup) =>
    `${num(g.clues)} · ${t.confirmed} ${num(g.confirmed)} · ${t.casesFiled} ${num(g.cases_filed)}`;
  const counties = stats.by_county.map((g) => ({
    key: g.key,
    label:
      g.key === 'unknown'
        ? t.unknownCounty
        : (ctx.counties.find((c) => c.adcode === g.key)?.[lang() === 'en' ? 'nameEn' : 'name'] ??
          g.name ??
          g.key),
    value: g.clues,
    text: cases(g),
    color: '#5f3dc4',
  }));
  const section = (id: string, title: string, chart: SVGSVGElement | HTMLElement) =>
    h('section', { class: 'chart-box', id }, h('h3', {}, title), chart);
  const chartOr = (bars: Parameters<typeof barChart>[0], title: string) =>
    bars.length ? barChart(bars, title, 460, 150) : h('p', { class: 'muted' }, t.noData);
  root.replaceChildren(
    h(
      'div',
      { class: 'dashboard', id: 'dashboard' },
      h('h2', {}, t.dashboard),
      h(
        'div',
        { class: 'cards' },
        card('card-km2', t.patrolledKm2, num(stats.patrolled_km2, 1), stats.patrolled_km2),
        card('card-clues', t.cluesFound, num(T.clues), T.clues),
        card('card-confirmed', t.confirmed, num(T.confirmed), T.confirmed),
        card('card-cases', t.casesFiled, num(T.cases_filed), T.cases_filed),
        card('card-area', t.damageArea, num(T.area_mu, 1), T.area_mu),
      ),
      h(
        'div',
        { class: 'charts' },
        section(
          'chart-scenario',
          t.byScenario,
          chartOr(
            stats.by_scenario.map((g) => ({
              key: g.key,
              label: nameOf(SCENARIO_NAMES, g.key),
              value: g.clues,
              text: cases(g),
              color: SCENARIO_COLORS[g.key] ?? '#e03131',
            })),
            t.byScenario,
          ),
        ),
        section('chart-county', t.byCounty, chartOr(counties, t.byCounty)),
        section(
          'chart-month',
          t.byMonth,
          chartOr(
            stats.by_month.map((g) => ({
              key: g.key,
              label: g.key,
              value: g.clues,
              text: cases(g),
              color: '#1c7ed6',
            })),
            t.byMonth,
          ),
        ),
        section(
          'chart-status',
          t.byStatus,
          chartOr(
            stats.by_status.map((g) => ({
              key: g.key,
              label: nameOf(STATUS_NAMES, g.key),
              value: g.clues,
              color: '#495057',
            })),
            t.byStatus,
          ),
        ),
      ),
    ),
  );
  document.body.dataset.dashboardReady = 'true';
}
