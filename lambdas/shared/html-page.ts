import { createHash } from 'node:crypto';

/**
 * A self-contained HTML page: one inline style, one inline script, no external asset, and a
 * Content-Security-Policy that allows exactly those two (by hash) and requests to this origin.
 */

export interface PageParts {
  readonly title: string;
  readonly style: string;
  readonly script: string;
  /** The body's markup before the script. */
  readonly body: string;
  /** Where forms may post: 'self' for a page that submits one, else 'none'. */
  readonly formAction: "'self'" | "'none'";
}

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

export function selfContainedPage(parts: PageParts): {
  readonly html: string;
  readonly headers: Readonly<Record<string, string>>;
} {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${parts.title}</title>
<style>${parts.style}</style>
</head>
<body>
${parts.body.trim()}
<script>${parts.script}</script>
</body>
</html>
`;
  const headers = {
    'content-security-policy': `default-src 'none'; script-src ${hash(parts.script)}; style-src ${hash(parts.style)}; connect-src 'self'; form-action ${parts.formAction}; base-uri 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
  };
  return { html, headers };
}
