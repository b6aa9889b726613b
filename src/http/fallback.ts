import { registeredRoutes } from './api.js';
import { plainRoutes } from './openapi.js';

function matches(template: string, path: string): boolean {
  const expected = template.split('/').filter(Boolean);
  const actual = path.split('/').filter(Boolean);
  return expected.length === actual.length && expected.every((segment, i) => segment.startsWith('{') || segment.toLowerCase() === actual[i]!.toLowerCase());
}

/** Methods the API serves on a path (empty when the path is unknown). */
export function allowedMethods(path: string): string[] {
  const routes = [...registeredRoutes.map(({ spec }) => spec), ...plainRoutes];
  return routes.filter((spec) => matches(spec.route, path)).map((spec) => spec.method);
}
