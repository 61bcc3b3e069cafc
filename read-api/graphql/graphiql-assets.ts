import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Where the page loads GraphiQL's files from: this server, never a CDN. */
export const GRAPHIQL_ASSETS_PATH = '/graphql/assets';

/**
 * The package whose build yoga's own GraphiQL page loads from unpkg (graphql-yoga 5.24 names
 * 4.5.x): the same files, served from node_modules.
 */
export const GRAPHIQL_PACKAGE = '@graphql-yoga/graphiql';

const JS = 'text/javascript; charset=utf-8';

/** The files of the package the page needs, by the name they are served under. */
const PACKAGE_FILES: Record<string, { file: string; type: string }> = {
  'graphiql.css': { file: 'dist/graphiql.css', type: 'text/css; charset=utf-8' },
  'yoga-graphiql.js': { file: 'dist/yoga-graphiql.umd.js', type: JS },
  // Monaco's editor workers, by the label Monaco asks for (see START below)
  'editor.worker.js': { file: 'dist/monacoeditorwork/editor.worker.bundle.js', type: JS },
  'json.worker.js': { file: 'dist/monacoeditorwork/json.worker.bundle.js', type: JS },
  'graphql.worker.js': { file: 'dist/monacoeditorwork/graphql.worker..bundle.js', type: JS }, // sic: two dots
};

/**
 * The page's only script of its own, a file so that the CSP needs no 'unsafe-inline' for scripts:
 * Monaco gets its workers from this server (yoga's page fetches them from unpkg into blob: URLs),
 * and GraphiQL is rendered with the options the page carries as JSON data.
 */
const START = `'use strict';
const workers = { editorWorkerService: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' };
self.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl: (_moduleId, label) => '${GRAPHIQL_ASSETS_PATH}/' + (workers[label] || workers.editorWorkerService),
};
document.addEventListener('DOMContentLoaded', () => {
  const options = JSON.parse(document.getElementById('graphiql-options').textContent);
  YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), options);
});
`;

export interface GraphiqlAsset {
  body: Buffer;
  type: string;
}

/**
 * GraphiQL's files from node_modules, read once, by name; undefined when the package is not
 * installed (then GraphiQL is yoga's page, from unpkg: see graphql-routes.ts).
 */
export function loadGraphiqlAssets(): Map<string, GraphiqlAsset> | undefined {
  let root: string;
  try {
    root = dirname(createRequire(import.meta.url).resolve(`${GRAPHIQL_PACKAGE}/package.json`));
  } catch {
    return undefined;
  }
  const assets = new Map<string, GraphiqlAsset>([['start.js', { body: Buffer.from(START), type: JS }]]);
  for (const [name, { file, type }] of Object.entries(PACKAGE_FILES))
    assets.set(name, { body: readFileSync(join(root, file)), type });
  return assets;
}

/**
 * The GraphiQL page: every script and style from GRAPHIQL_ASSETS_PATH, nothing inline but the
 * options, as JSON data (not run, so no CSP exception; `<` escaped so no value can end the element).
 */
export function graphiqlPage(options: { title?: string | undefined } & Record<string, unknown>): string {
  const title = (options.title ?? 'GraphiQL').replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const json = JSON.stringify(options).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="stylesheet" href="${GRAPHIQL_ASSETS_PATH}/graphiql.css">
<script src="${GRAPHIQL_ASSETS_PATH}/start.js"></script>
<script src="${GRAPHIQL_ASSETS_PATH}/yoga-graphiql.js"></script>
</head>
<body id="body" class="no-focus-outline">
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root">Loading ${title}…</div>
<script type="application/json" id="graphiql-options">${json}</script>
</body>
</html>
`;
}
