import type { Client } from '@temporalio/client';
import type { Knex } from '@mikro-orm/knex';
import type { Orm } from '../db/orm';
import type { RunStore } from '../db/run-store';
import type { Config } from '../core/config';
import type { Logger } from '../core/logger';
import type { RunHub } from './run-hub';
import type { Metrics } from './metrics';

/** What the API is built from: `createApp(deps)` takes it, tests pass the same real parts. */
export interface ApiDeps {
  config: Config;
  orm: Orm;
  knex: Knex;
  store: RunStore;
  temporal: Client;
  hub: RunHub;
  log: Logger;
  metrics: Metrics;
}
