import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { recordPart } from './collector';
import { eventually, irisRow, type PlatformProcess, startPlatformProcess } from './platform-process';

/**
 * Bad uploads: files the iris data contract must refuse (no header: the spec names the columns;
 * labels from a closed set; at least 30 usable rows; at most 5% of rows dropped), uploaded with
 * the AWS SDK to incoming/iris/ of the platform process. Each must end in quarantine/iris/ with
 * its report, nothing may stay in incoming/ or vanish, and the champion must not change.
 */

const CLASSES = ['Iris-setosa', 'Iris-versicolor', 'Iris-virginica'];
const BIG_MB = Number(process.env.RELIABILITY_BIG_UPLOAD_MB ?? 100);

const line = (i: number, label = CLASSES[i % 3]) => Object.values(irisRow(i)).join(',') + `,${label}`;
const rows = (n: number, make: (i: number) => string = (i) => line(i)) =>
  Array.from({ length: n }, (_, i) => make(i)).join('\n') + '\n';

/** Each must be refused by the contract; the name says why. */
function corpus(): { file: string; body: Buffer | string }[] {
  const valid = rows(60);
  return [
    { file: 'empty.csv', body: Buffer.alloc(0) },
    { file: 'binary-garbage.bin', body: Buffer.concat([randomBytes(4096), Buffer.from([0])]) },
    { file: 'semicolons.csv', body: valid.replace(/,/g, ';') },
    { file: 'bom-only.csv', body: Buffer.from([0xef, 0xbb, 0xbf]) },
    {
      file: 'ragged.csv',
      body: rows(60, (i) =>
        line(i)
          .split(',')
          .slice(0, 1 + (i % 5))
          .join(','),
      ),
    },
    { file: 'wrong-types.csv', body: rows(60, (i) => `abc,def,${i},x${i},${CLASSES[i % 3]}`) },
    { file: 'one-class.csv', body: rows(60, (i) => line(i, 'Iris-setosa')) },
    { file: 'unknown-labels.csv', body: rows(60, (i) => line(i, `Iris-unknown-${i % 3}`)) },
    { file: 'missing-labels.csv', body: rows(60, (i) => line(i, '')) },
    {
      file: 'duplicated-header.csv',
      body: 'sepal_length,sepal_width,petal_length,petal_width,class\n'.repeat(2) + rows(5),
    },
    { file: 'too-few-rows.csv', body: rows(10) },
    { file: 'all-missing.csv', body: rows(60, (i) => `,,,,${CLASSES[i % 3]}`) },
    { file: 'nul-bytes.csv', body: valid.replace(/\n/g, '\u0000\n') },
    {
      file: 'crlf-garbage.csv',
      body: Array.from({ length: 60 }, (_, i) => `garbage ${i}\r"unterminated,${i}\r\n,,\r`).join(''),
    },
    { file: 'iris.csv.gz', body: gzipSync(valid) },
    {
      file: 'iris.json',
      body: JSON.stringify(
        Array.from({ length: 60 }, (_, i) => ({ ...irisRow(i), class: CLASSES[i % 3] })),
        null,
        2,
      ),
    },
    {
      file: 'latin1.csv',
      body: Buffer.from(
        rows(60, (i) => line(i, 'Iris-sétosa')),
        'latin1',
      ),
    },
    { file: 'quote-bomb.csv', body: `"${'a,'.repeat(50_000)}\n${valid}` },
  ];
}

/** BIG_MB of plausible rows ending in a byte that is not UTF-8 (a Latin-1 export): refused only after a full read. */
async function writeBigFile(path: string): Promise<number> {
  const out = createWriteStream(path);
  const chunk = rows(20_000);
  const target = BIG_MB * 2 ** 20;
  for (let written = 0; written < target; written += chunk.length) {
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  out.write(Buffer.from([0xe9, 0x0a]));
  await new Promise<void>((resolve) => out.end(() => resolve()));
  return statSync(path).size;
}

describe('bad uploads: malformed files under incoming/iris/', () => {
  let platform: PlatformProcess;
  let scratch: string;

  beforeAll(async () => {
    platform = await startPlatformProcess();
    scratch = mkdtempSync(join(tmpdir(), 'reliability-uploads-'));
  });

  afterAll(async () => {
    await platform?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  const keys = async (prefix: string) => {
    const all: string[] = [];
    let token: string | undefined;
    do {
      const page = await platform.s3.send(
        new ListObjectsV2Command({ Bucket: platform.endpoints.dataBucket, Prefix: prefix, ContinuationToken: token }),
      );
      all.push(...(page.Contents ?? []).map((o) => o.Key as string));
      token = page.NextContinuationToken;
    } while (token);
    return all;
  };
  const champion = async () =>
    ((await (await fetch(`${platform.endpoints.apiUrl}/models/iris`)).json()) as { champion?: { version: number } })
      .champion?.version;

  test('every file ends in quarantine/ with its report; nothing lost; the champion unchanged', async () => {
    const championBefore = await champion();
    const files = corpus();
    const started = performance.now();
    for (const { file, body } of files) {
      await platform.s3.send(
        new PutObjectCommand({ Bucket: platform.endpoints.dataBucket, Key: `incoming/iris/${file}`, Body: body }),
      );
    }
    const bigPath = join(scratch, 'big.csv');
    const bigSize = await writeBigFile(bigPath);
    const bigStarted = performance.now();
    // Streamed from disk: the SDK needs the length of a stream body up front.
    await platform.s3.send(
      new PutObjectCommand({
        Bucket: platform.endpoints.dataBucket,
        Key: 'incoming/iris/big-latin1.csv',
        Body: createReadStream(bigPath),
        ContentLength: bigSize,
      }),
    );
    const uploadSeconds = (performance.now() - bigStarted) / 1000;
    const names = [...files.map((f) => f.file), 'big-latin1.csv'];

    const settled = await eventually(
      'every upload to leave incoming/',
      async () => {
        const [incoming, quarantined, processed] = await Promise.all([
          keys('incoming/'),
          keys('quarantine/iris/'),
          keys('processed/iris/'),
        ]);
        const done = names.filter(
          (n) => quarantined.includes(`quarantine/iris/${n}.report.json`) || processed.some((k) => k.includes(n)),
        );
        return incoming.length === 0 && done.length === names.length ? { quarantined, processed } : undefined;
      },
      150_000,
    ).catch(async () => ({ quarantined: await keys('quarantine/iris/'), processed: await keys('processed/iris/') }));
    const seconds = (performance.now() - started) / 1000;
    const incomingLeft = await keys('incoming/');

    const outcome = await Promise.all(
      names.map(async (name) => {
        const quarantined =
          settled.quarantined.includes(`quarantine/iris/${name}`) &&
          settled.quarantined.includes(`quarantine/iris/${name}.report.json`);
        const processed = settled.processed.some((k) => k.includes(name));
        let kinds = '';
        if (quarantined) {
          const report = await platform.s3.send(
            new GetObjectCommand({ Bucket: platform.endpoints.dataBucket, Key: `quarantine/iris/${name}.report.json` }),
          );
          kinds = [
            ...new Set(
              (
                JSON.parse((await report.Body?.transformToString()) ?? '{}') as { problems: { kind: string }[] }
              ).problems.map((p) => p.kind),
            ),
          ].join(', ');
        }
        return { name, quarantined, processed, kinds };
      }),
    );
    const championAfter = await champion();
    recordPart({
      part: 'Bad uploads',
      what: `${names.length} malformed files uploaded with the AWS SDK to incoming/iris/ of the platform process (the ${(bigSize / 2 ** 20).toFixed(0)} MiB one streamed from disk). "Survived": the file is in quarantine/iris/ with its .report.json. "Lost": still in incoming/, in neither place, or (wrongly) accepted into processed/.`,
      rows: outcome.map((o) => ({
        case: o.name,
        tried: 1,
        survived: o.quarantined && !o.processed ? 1 : 0,
        lost: o.quarantined && !o.processed ? 0 : 1,
        notes: o.quarantined
          ? `quarantined: ${o.kinds}`
          : o.processed
            ? 'ACCEPTED into processed/'
            : 'NOT FOUND in quarantine/ or processed/',
      })),
      measurements: {
        'objects in / out': `${names.length} uploaded; ${outcome.filter((o) => o.quarantined).length} quarantined, ${outcome.filter((o) => o.processed).length} processed, ${incomingLeft.length} left in incoming/`,
        [`${(bigSize / 2 ** 20).toFixed(0)} MiB upload (streamed)`]: `${uploadSeconds.toFixed(1)} s`,
        'all files settled in': `${seconds.toFixed(1)} s`,
        'champion before / after': `v${championBefore} / v${championAfter}`,
      },
    });

    expect(outcome.filter((o) => !o.quarantined || o.processed)).toEqual([]);
    expect(incomingLeft).toEqual([]);
    expect(championAfter).toBe(championBefore);
  });
});
