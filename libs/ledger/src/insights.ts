import type { EntityManager } from 'typeorm';

export interface AiRate {
  analysed: number;
  aiAssisted: number;
  /** aiAssisted / analysed */
  rate: number;
}

export interface MonthRate extends AiRate {
  /** UTC 'YYYY-MM' of the PR's createdAt */
  month: string;
}

export interface TeamAdoption extends AiRate {
  team: string;
  /** Ascending; a month without an analysed PR of the team is left out. */
  months: MonthRate[];
}

export interface ToolShare {
  tool: string;
  /** AI-assisted PRs of the team that name the tool */
  prs: number;
  /** prs / the team's AI-assisted PRs (a PR may name several tools, so shares may add up to more than 1) */
  share: number;
}

export interface TeamTools {
  team: string;
  aiAssisted: number;
  tools: ToolShare[];
}

export interface DurationMedian {
  /** PRs with the duration (merged ones for cycle time, reviewed ones for review time) */
  prs: number;
  /** null when prs is 0 */
  medianHours: number | null;
}

export interface AiVersusOther {
  aiAssisted: DurationMedian;
  other: DurationMedian;
}

export interface SpeedComparison {
  /** createdAt -> mergedAt */
  cycleTime: AiVersusOther;
  /** createdAt -> firstReviewAt */
  reviewTime: AiVersusOther;
}

export interface TeamSpeed extends SpeedComparison {
  team: string;
}

/** AI adoption and its effect on speed, per team, from the analysed PRs. Plain JSON. */
export interface TeamInsights {
  promptVersion: string | null;
  /** Every month with an analysed PR, ascending: the axis all teams share. */
  months: string[];
  allTeams: AiRate;
  teams: TeamAdoption[];
  tools: TeamTools[];
  speed: { allTeams: SpeedComparison; teams: TeamSpeed[] };
}

/**
 * One row per analysed PR. A request may have succeeded under several prompt versions (a replay keeps
 * both): with $1 only that version counts, otherwise the latest resolved success, so no PR counts twice.
 * The PR's dates live only in the stored input of the same version, hence the inner joins.
 */
const ANALYSED_PRS = `
  SELECT DISTINCT ON (res.request_id)
         res.request_id,
         req.team,
         inp.pr,
         coalesce((res.analysis->>'ai_assisted')::boolean, false) AS ai,
         CASE WHEN jsonb_typeof(res.analysis->'ai_tools') = 'array' THEN res.analysis->'ai_tools' ELSE '[]'::jsonb END AS tools
  FROM results res
  JOIN requests req ON req.request_id = res.request_id AND req.prompt_version = res.prompt_version
  JOIN request_inputs inp ON inp.request_id = res.request_id AND inp.prompt_version = res.prompt_version
  WHERE res.status = 'succeeded' AND ($1::text IS NULL OR res.prompt_version = $1)
  ORDER BY res.request_id, res.resolved_at DESC, res.prompt_version DESC`;

/** Monthly AI-assisted rate, tools and cycle/review medians per team, from the database. */
export async function teamInsights(manager: EntityManager, options: { promptVersion?: string } = {}): Promise<TeamInsights> {
  const pv = options.promptVersion ?? null;
  const monthly = await monthlyRates(manager, pv);
  const teams = adoptionByTeam(monthly);
  const analysed = teams.reduce((sum, t) => sum + t.analysed, 0);
  const aiAssisted = teams.reduce((sum, t) => sum + t.aiAssisted, 0);
  return {
    promptVersion: pv,
    months: [...new Set(monthly.map((m) => m.month))].sort(),
    allTeams: { analysed, aiAssisted, rate: ratio(aiAssisted, analysed) },
    teams,
    tools: await toolsByTeam(manager, pv, teams),
    speed: await speedByTeam(manager, pv, teams),
  };
}

const ratio = (part: number, whole: number) => (whole ? part / whole : 0);

type MonthRow = { team: string; month: string; analysed: number; aiAssisted: number };

async function monthlyRates(manager: EntityManager, pv: string | null): Promise<MonthRow[]> {
  return manager.query(
    `WITH analysed AS (${ANALYSED_PRS})
     SELECT team,
            to_char((pr->>'createdAt')::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
            count(*)::int AS analysed,
            count(*) FILTER (WHERE ai)::int AS "aiAssisted"
     FROM analysed
     GROUP BY 1, 2 ORDER BY 1, 2`,
    [pv],
  );
}

function adoptionByTeam(rows: MonthRow[]): TeamAdoption[] {
  const teams = new Map<string, TeamAdoption>();
  for (const row of rows) {
    const team = teams.get(row.team) ?? { team: row.team, analysed: 0, aiAssisted: 0, rate: 0, months: [] };
    team.months.push({ month: row.month, analysed: row.analysed, aiAssisted: row.aiAssisted, rate: ratio(row.aiAssisted, row.analysed) });
    team.analysed += row.analysed;
    team.aiAssisted += row.aiAssisted;
    teams.set(row.team, team);
  }
  return [...teams.values()].map((t) => ({ ...t, rate: ratio(t.aiAssisted, t.analysed) }));
}

/**
 * Tools count on AI-assisted PRs only: the share is of those, and a tool named on a PR the model
 * judged not AI-assisted contradicts the flag every rate here is built on.
 */
async function toolsByTeam(manager: EntityManager, pv: string | null, teams: TeamAdoption[]): Promise<TeamTools[]> {
  const rows: Array<{ team: string; tool: string; prs: number }> = await manager.query(
    `WITH analysed AS (${ANALYSED_PRS})
     SELECT team, tool, count(DISTINCT request_id)::int AS prs
     FROM analysed, jsonb_array_elements_text(tools) AS tool
     WHERE ai
     GROUP BY team, tool ORDER BY team, prs DESC, tool`,
    [pv],
  );
  return teams
    .filter((t) => t.aiAssisted > 0)
    .map((t) => ({
      team: t.team,
      aiAssisted: t.aiAssisted,
      tools: rows.filter((r) => r.team === t.team).map((r) => ({ tool: r.tool, prs: r.prs, share: ratio(r.prs, t.aiAssisted) })),
    }));
}

type SpeedRow = {
  allTeams: boolean;
  team: string | null;
  ai: boolean;
  cyclePrs: number;
  cycleMedian: number | null;
  reviewPrs: number;
  reviewMedian: number | null;
};

/** Medians per team and over all teams in one pass (GROUPING SETS); a PR without the date is left out of that median. */
async function speedByTeam(manager: EntityManager, pv: string | null, teams: TeamAdoption[]): Promise<TeamInsights['speed']> {
  const rows: SpeedRow[] = await manager.query(
    `WITH analysed AS (${ANALYSED_PRS}),
     timed AS (
       SELECT team, ai,
              extract(epoch FROM (pr->>'mergedAt')::timestamptz - (pr->>'createdAt')::timestamptz)::float8 / 3600 AS cycle_hours,
              extract(epoch FROM (pr->>'firstReviewAt')::timestamptz - (pr->>'createdAt')::timestamptz)::float8 / 3600 AS review_hours
       FROM analysed)
     SELECT GROUPING(team) = 1 AS "allTeams", team, ai,
            count(cycle_hours)::int AS "cyclePrs",
            percentile_cont(0.5) WITHIN GROUP (ORDER BY cycle_hours) AS "cycleMedian",
            count(review_hours)::int AS "reviewPrs",
            percentile_cont(0.5) WITHIN GROUP (ORDER BY review_hours) AS "reviewMedian"
     FROM timed
     GROUP BY GROUPING SETS ((team, ai), (ai))`,
    [pv],
  );
  const comparison = (pick: (row: SpeedRow) => boolean): SpeedComparison => {
    const ai = rows.find((r) => pick(r) && r.ai);
    const other = rows.find((r) => pick(r) && !r.ai);
    return {
      cycleTime: { aiAssisted: duration(ai?.cyclePrs, ai?.cycleMedian), other: duration(other?.cyclePrs, other?.cycleMedian) },
      reviewTime: { aiAssisted: duration(ai?.reviewPrs, ai?.reviewMedian), other: duration(other?.reviewPrs, other?.reviewMedian) },
    };
  };
  return {
    allTeams: comparison((r) => r.allTeams),
    teams: teams.map((t) => ({ team: t.team, ...comparison((r) => !r.allTeams && r.team === t.team) })),
  };
}

function duration(prs: number | undefined, median: number | null | undefined): DurationMedian {
  return prs ? { prs, medianHours: median ?? null } : { prs: 0, medianHours: null };
}
