import type { RequestMetadata } from '#contracts';
import { featureVector, historyFromStored, promptTokensOf, Router, RouterRepository, type RoutingDecisionRecord, type StoredRouterVersion } from '#routing';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { SUBMITTER_SETTINGS, type SubmitterSettings } from '../batch-submitter.settings.js';
import type { NewRequest } from './request.repository.js';

/** How long the newest router version is kept before the table is read again. */
const VERSION_REFRESH_MS = 60_000;

interface LoadedVersion {
  stored: StoredRouterVersion;
  router: Router;
}

/**
 * Chooses each queued request's first model: the chain's first, unless the newest router version for the
 * chain's first and next model scores it above its threshold and `ROUTING=learned`, in which case pass 1
 * runs on the next model. Under `shadow` (the default) every request is scored and recorded but starts
 * on the first model; under `off`, or with no trained version, nothing is scored.
 */
@Injectable()
export class RoutingService {
  private readonly logger = new Logger(RoutingService.name);
  private cached: { at: number; version: LoadedVersion | null } | null = null;

  constructor(
    @Inject(RouterRepository) private readonly routers: RouterRepository,
    @Inject(SUBMITTER_SETTINGS) private readonly settings: SubmitterSettings,
  ) {}

  /** The first model of each request, in order; the routing records are written in the caller's transaction. */
  async firstModels(manager: EntityManager, queued: ReadonlyArray<{ metadata: RequestMetadata; pr: NewRequest['pr'] }>): Promise<string[]> {
    const [cheapModel, nextModel] = this.settings.modelChain as [string, string | undefined];
    const mode = this.settings.routing ?? 'shadow';
    if (queued.length === 0 || mode === 'off' || nextModel === undefined) return queued.map(() => cheapModel);
    const version = await this.newestVersion(manager, cheapModel, nextModel);
    if (!version) return queued.map(() => cheapModel);
    const history = historyFromStored(version.stored.history);
    const rows = queued.map(({ metadata, pr }) => {
      const known = { ...pr, repo: metadata.repo, promptVersion: metadata.promptVersion };
      return featureVector({ ...known, promptTokens: promptTokensOf(known, cheapModel, this.settings.prompts) }, history);
    });
    const scores = version.router.scores(rows);
    const { threshold } = version.stored;
    const records = queued.map(({ metadata }, i): RoutingDecisionRecord => {
      const score = scores[i]!;
      const route = score > threshold;
      const model = route && mode === 'learned' ? nextModel : cheapModel;
      const comparison = `p(fail) ${score.toFixed(4)} ${route ? '>' : '≤'} ${threshold.toFixed(4)} (router v${version.stored.version})`;
      return {
        requestId: metadata.requestId,
        promptVersion: metadata.promptVersion,
        contentHash: metadata.contentHash,
        modelVersion: version.stored.version,
        score,
        threshold,
        mode,
        decision: route ? 'routed' : 'cheap_first',
        reason: route ? (mode === 'learned' ? `${comparison}: pass 1 on ${nextModel}` : `shadow: would start on ${nextModel}, ${comparison}`) : comparison,
        model,
      };
    });
    await this.routers.recordDecisions(manager, records);
    return records.map((record) => record.model);
  }

  /** The newest version, read at most once a minute; one that cannot be read is logged and ignored (cheap first). */
  private async newestVersion(manager: EntityManager, cheapModel: string, strongModel: string): Promise<LoadedVersion | null> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < VERSION_REFRESH_MS) return this.cached.version;
    let version: LoadedVersion | null = null;
    const stored = await this.routers.findVersion(manager, { cheapModel, strongModel });
    if (stored) {
      try {
        version = { stored, router: new Router(stored.trained) };
      } catch (error) {
        this.logger.warn(`router version ${stored.version} ignored, every request starts on ${cheapModel}: ${(error as Error).message}`);
      }
    }
    this.cached = { at: now, version };
    return version;
  }
}
