import { resetFigures } from './collector';

/** Each run starts with no figures, so the report only shows this run's. */
export default function globalSetup(): void {
  resetFigures();
}
