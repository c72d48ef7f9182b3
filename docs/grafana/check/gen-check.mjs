// Turns a Grafana dashboard JSON file into TypeScript that `tsc --noEmit` checks against
// Grafana's published schema (@grafana/schema): the dashboard model, and each panel's
// options and custom field config against its panel plugin's types. JSON's strings are
// checked against the schema's string enums by their values (`${Enum}`), and object
// literals get TypeScript's excess-property check, so a misspelt or unknown field fails.
//
// usage: node gen-check.mjs DASHBOARD.json OUT_DIR
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [, , input, outDir] = process.argv;
if (!input || !outDir) {
  console.error('usage: node gen-check.mjs DASHBOARD.json OUT_DIR');
  process.exit(2);
}
const dashboard = JSON.parse(readFileSync(input, 'utf8'));

// Panel plugin -> module of its generated option types.
const plugins = {
  timeseries: ['TimeSeries', 'timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen', true],
  stat: ['Stat', 'stat/panelcfg/x/StatPanelCfg_types.gen', false],
  gauge: ['Gauge', 'gauge/panelcfg/x/GaugePanelCfg_types.gen', false],
  bargauge: ['BarGauge', 'bargauge/panelcfg/x/BarGaugePanelCfg_types.gen', false],
  'state-timeline': ['StateTimeline', 'statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen', true],
};

const lines = [
  "import type { Dashboard } from '@grafana/schema';",
];
for (const [name, mod, hasField] of Object.values(plugins)) {
  const what = hasField ? `Options as ${name}Options, FieldConfig as ${name}FieldConfig` : `Options as ${name}Options`;
  lines.push(`import type { ${what} } from '@grafana/schema/dist/esm/raw/composable/${mod}';`);
}
lines.push(
  '',
  '/** A value as JSON spells it: string enums by their values, recursively. */',
  'type Json<T> = T extends string ? `${T}` : T extends number | boolean | null | undefined ? T : T extends ReadonlyArray<infer U> ? Array<Json<U>> : T extends object ? { [K in keyof T]: Json<T[K]> } : T;',
  '',
  `export const dashboard: Json<Dashboard> = ${JSON.stringify(dashboard, null, 2)};`,
  '',
);

const walk = (panels) => panels.flatMap((p) => [p, ...(p.panels ? walk(p.panels) : [])]);
let n = 0;
for (const p of walk(dashboard.panels ?? [])) {
  if (p.type === 'row') continue;
  const plugin = plugins[p.type];
  if (!plugin) {
    console.error(`panel ${p.id} (${p.title}): type ${JSON.stringify(p.type)} has no schema here; add it to gen-check.mjs`);
    process.exit(1);
  }
  const [name, , hasField] = plugin;
  n += 1;
  lines.push(`export const panel${p.id}Options: Json<${name}Options> = ${JSON.stringify(p.options ?? {}, null, 2)};`);
  const custom = p.fieldConfig?.defaults?.custom;
  if (custom !== undefined) {
    if (!hasField) {
      console.error(`panel ${p.id} (${p.title}): ${p.type} panels have no custom field config`);
      process.exit(1);
    }
    lines.push(`export const panel${p.id}Custom: Json<${name}FieldConfig> = ${JSON.stringify(custom, null, 2)};`);
  }
  for (const t of p.targets ?? []) {
    if (typeof t.expr !== 'string' || t.expr.length === 0 || typeof t.refId !== 'string') {
      console.error(`panel ${p.id} (${p.title}): every target needs a refId and a PromQL expr`);
      process.exit(1);
    }
  }
}
writeFileSync(join(outDir, 'dashboard.check.ts'), lines.join('\n') + '\n');
console.log(`gen-check: ${n} panels of ${input} written for tsc`);
