import { Module } from '@nestjs/common';
import { DemoCommand } from './commands/demo.command.js';
import { DlqCommand, DlqListCommand, DlqReplayCommand } from './commands/dlq.command.js';
import { IngestCommand } from './commands/ingest.command.js';
import { ReconcileCommand } from './commands/reconcile.command.js';
import { ReportCommand } from './commands/report.command.js';
import { ReplayCommand } from './commands/replay.command.js';
import { RoutingCommand, RoutingEvaluateCommand, RoutingTrainCommand } from './commands/routing.command.js';
import { RunCommand } from './commands/run.command.js';
import { RetryBatchCommand } from './commands/retry-batch.command.js';
import { StatusCommand } from './commands/status.command.js';

@Module({ providers: [DemoCommand, IngestCommand, ReconcileCommand, StatusCommand, RetryBatchCommand, ReportCommand, RunCommand, ReplayCommand, DlqCommand, DlqListCommand, DlqReplayCommand, RoutingCommand, RoutingTrainCommand, RoutingEvaluateCommand] })
export class CliModule {}
