/** An S3 ETag without its quotes (and a weak validator's W/): `"abc"` -> `abc`. S3 and its clients disagree on quoting; compare unquoted. */
export const unquoteEtag = (etag: string | undefined): string =>
  (etag ?? '')
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
