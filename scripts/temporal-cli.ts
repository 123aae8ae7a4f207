import { resolveTemporalCli } from '../core/temporal-cli';

// Prints the path of the Temporal CLI, building or fetching it first if needed.
resolveTemporalCli()
  .then((cli) => console.log(cli))
  .catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
