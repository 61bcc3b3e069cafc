/**
 * What a person who opens Postlog's address in a browser sees: where things are. A page of
 * links, no script (the CSP allows none inline); the dashboard will live here.
 */
export function frontPage(version: string, hasGraphql: boolean): string {
  const link = (href: string, text: string, what: string) => `<li><a href="${href}">${text}</a> — ${what}</li>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Postlog</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0; } .version { color: #777; margin-top: 0; } li { margin: .4rem 0; }
</style>
</head>
<body>
<h1>Postlog</h1>
<p class="version">version ${version}</p>
<p>Self-hosted email delivery: the HTTP APIs, SMTP submission and the delivery engine run here.</p>
<ul>
${link('/docs', 'API documentation', 'every route, with its answers (OpenAPI at /docs/json)')}
${hasGraphql ? link('/graphql', 'GraphQL analytics', 'delivery, open and click reports') : ''}
${link('/health', 'Health', 'whether the event log takes appends')}
${link('/ready', 'Readiness', 'whether this process takes traffic')}
</ul>
<p>The web dashboard is on its way; until then the CLI (<code>npx postlog --help</code>) and the API do every task.</p>
</body>
</html>
`;
}
