import { Migration20261123000000_core } from './Migration20261123000000_core';
import { Migration20261123010000_automations } from './Migration20261123010000_automations';
import { Migration20261123020000_jobs } from './Migration20261123020000_jobs';
import { Migration20261124000000_run_list_indexes } from './Migration20261124000000_run_list_indexes';
import { Migration20261124010000_housekeeping_indexes } from './Migration20261124010000_housekeeping_indexes';

/** Listed explicitly so migrations run the same under tsx, jest and a compiled build. */
export const migrationsList = [
  { name: 'Migration20261123000000_core', class: Migration20261123000000_core },
  { name: 'Migration20261123010000_automations', class: Migration20261123010000_automations },
  { name: 'Migration20261123020000_jobs', class: Migration20261123020000_jobs },
  { name: 'Migration20261124000000_run_list_indexes', class: Migration20261124000000_run_list_indexes },
  { name: 'Migration20261124010000_housekeeping_indexes', class: Migration20261124010000_housekeeping_indexes },
];
