// The UI's one HTML page and its stylesheet, served by ui-server.ts. The page is a shell: the views (runs,
// run, compare, playground) are drawn by ui-script.ts from the JSON API. No inline script or style, so the
// server's Content-Security-Policy can forbid both.

export { UI_SCRIPT } from "./ui-script.js";

export const UI_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>adaptlm ui</title>
<link rel="stylesheet" href="/ui.css">
<script src="/ui.js" defer></script>
</head>
<body>
<header>
  <strong class="brand">adaptlm</strong>
  <nav>
    <a href="#/runs" data-testid="nav-runs">Runs</a>
    <a href="#/playground" data-testid="nav-playground">Playground</a>
  </nav>
  <button type="button" id="reload" data-testid="reload" title="read the results folder again">Reload folder</button>
</header>
<main id="view" data-testid="view"><p>Loading…</p></main>
<noscript>This page needs JavaScript (served by this adaptlm process; nothing is loaded from elsewhere).</noscript>
</body>
</html>
`;

export const UI_STYLE = `
:root { --line: #d9d9de; --soft: #f5f5f7; --ok: #0a7a28; --bad: #b3261e; --accent: #2856c7; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; margin: 0; }
header { display: flex; gap: 20px; align-items: center; padding: 10px 24px; border-bottom: 1px solid var(--line);
  background: var(--soft); }
header nav a { margin-right: 14px; color: var(--accent); text-decoration: none; font-weight: 600; }
header button { margin-left: auto; }
.brand { font-size: 17px; }
main { max-width: 1280px; margin: 0 auto; padding: 8px 24px 48px; }
h2 { font-size: 19px; margin: 20px 0 8px; } h3 { font-size: 15px; margin: 18px 0 6px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
pre { white-space: pre-wrap; word-break: break-word; background: var(--soft); padding: 6px 8px; margin: 4px 0;
  max-height: 320px; overflow: auto; font-size: 12px; }
.ok { color: var(--ok); font-weight: 600; } .bad { color: var(--bad); font-weight: 600; }
.muted { color: #666; } .error { color: var(--bad); background: #fdecea; padding: 8px 10px; border-radius: 4px; }
.toolbar { display: flex; gap: 10px; align-items: center; margin: 10px 0; flex-wrap: wrap; }
input[type=search], input[type=text], input[type=number], select, textarea { font: inherit; padding: 4px 6px; }
textarea { width: 100%; min-height: 90px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.charts figure { margin: 0; border: 1px solid var(--line); padding: 6px; background: white; }
.charts img { display: block; max-width: 100%; }
.example { border: 1px solid var(--line); border-radius: 4px; padding: 8px 12px; margin: 10px 0; }
.example h4 { margin: 0 0 6px; font-size: 14px; }
.label { color: #666; font-size: 12px; margin-top: 6px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; } dt { color: #666; } dd { margin: 0; }
form.playground { display: grid; grid-template-columns: max-content 1fr; gap: 8px 12px; max-width: 900px; }
form.playground .wide { grid-column: 1 / 3; }
.busy { opacity: 0.6; }
`;
