import { type ModelPrice, priceOf, priceTableFrom } from '#groq-batch';
import { dashboardSnapshot, renderInsightsSection, teamInsights } from '#ledger';
import { KAFKA_ADMIN, OpsAccess, readGroupLag, submissionStatus } from '#platform';
import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Admin } from 'kafkajs';
import { DataSource } from 'typeorm';
import { DASHBOARD_CSP, DASHBOARD_PAGE, DASHBOARD_SCRIPT } from './dashboard.page.js';
import { OPS_SETTINGS, type OpsSettings } from './ops-settings.js';

export interface GroupLag {
  service: string;
  groupId: string;
  lag: number | null;
}

/** The live dashboard: one self-contained page that polls `/dashboard/data`. */
@ApiTags('dashboard')
@Controller('dashboard')
export class DashboardController {
  private lagCache: { at: number; rows: GroupLag[] } | null = null;
  /** The database snapshot (reconcile and the run report), shared by every viewer for 2 s. */
  private snapshotCache: { at: number; snapshot: ReturnType<typeof dashboardSnapshot> } | null = null;
  private readonly strongPrice: ModelPrice;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(KAFKA_ADMIN) private readonly admin: Admin,
    @Inject(OPS_SETTINGS) private readonly settings: OpsSettings,
  ) {
    this.strongPrice = priceOf(priceTableFrom(settings.modelPrices), settings.strongModel);
  }

  /** The page and its script hold no data (they fetch it with the viewer's token), so they are open. */
  @Get()
  @OpsAccess('open')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', DASHBOARD_CSP)
  @ApiProduces('text/html')
  @ApiOperation({ summary: 'The live dashboard page (no external assets)' })
  page(): string {
    return DASHBOARD_PAGE;
  }

  @Get('app.js')
  @OpsAccess('open')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @ApiProduces('text/javascript')
  @ApiOperation({ summary: "The dashboard page's script" })
  script(): string {
    return DASHBOARD_SCRIPT;
  }

  @Get('data')
  @ApiOperation({ summary: "The dashboard's figures: requests by stage, batches in flight, failures, recoveries, cost, consumer lag, submission state" })
  async data() {
    if (!this.snapshotCache || Date.now() - this.snapshotCache.at >= 2_000) {
      const snapshot = dashboardSnapshot(this.dataSource.manager, {
        strongModel: this.settings.strongModel,
        strongPrice: this.strongPrice,
        defaultStageDeadlineMs: this.settings.stageDeadlineMs,
        strandedAfterMs: this.settings.strandedAfterMs,
        defaultPromptVersion: this.settings.defaultPromptVersion,
      });
      // A failed snapshot is not kept: the next refresh asks again.
      snapshot.catch(() => (this.snapshotCache = null));
      this.snapshotCache = { at: Date.now(), snapshot };
    }
    const [snapshot, submission, lag] = await Promise.all([
      this.snapshotCache.snapshot,
      submissionStatus(this.dataSource.manager),
      this.lag(),
    ]);
    return { ...snapshot, submission, lag };
  }

  @Get('insights')
  @Header('content-type', 'text/html; charset=utf-8')
  @ApiProduces('text/html')
  @ApiOperation({ summary: 'The team insights charts as an HTML fragment (names escaped), embedded by the dashboard' })
  async insights(): Promise<string> {
    return renderInsightsSection(await teamInsights(this.dataSource.manager));
  }

  /** Lag per consumer group, summed over partitions; cached for 3 s so dashboards cannot flood the broker. */
  private async lag(): Promise<GroupLag[]> {
    if (this.lagCache && Date.now() - this.lagCache.at < 3_000) return this.lagCache.rows;
    const rows = await Promise.all(
      this.settings.groups.map(async (group) => {
        try {
          const partitions = await readGroupLag(this.admin, group.groupId, group.topics);
          return { service: group.service, groupId: group.groupId, lag: partitions.reduce((sum, p) => sum + p.lag, 0) };
        } catch {
          return { service: group.service, groupId: group.groupId, lag: null };
        }
      }),
    );
    this.lagCache = { at: Date.now(), rows };
    return rows;
  }
}
