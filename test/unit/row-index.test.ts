import { deduplicate, rowIdentity, RowIdentitySet } from '../../core/pipeline/row-index';
import { rowDigest } from '../../training/split';

const digest = (i: number) => rowDigest(['x'], [String(i)]);

describe('row identities', () => {
  test('a set encodes to 8 bytes a row and decodes to the same members', () => {
    const set = RowIdentitySet.fromIdentities([3, 1, 2, 1].map((i) => rowIdentity(digest(i))));
    expect(set.size).toBe(3);
    const bytes = set.encode();
    expect(bytes).toHaveLength(24);
    const back = RowIdentitySet.decode(bytes, 'x.rows');
    expect([...back.identities()]).toEqual([...set.identities()]);
    for (const i of [1, 2, 3]) expect(back.has(rowIdentity(digest(i)))).toBe(true);
    expect(back.has(rowIdentity(digest(4)))).toBe(false);
  });

  test('membership holds for many rows (binary search over the sorted words)', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => rowIdentity(digest(i)));
    const set = RowIdentitySet.fromIdentities(ids.filter((_, i) => i % 2 === 0));
    ids.forEach((id, i) => expect(set.has(id)).toBe(i % 2 === 0));
  });

  test('a file that is not a sidecar is refused by name', () => {
    expect(() => RowIdentitySet.decode(new Uint8Array(7), 'processed/m/a.rows')).toThrow(
      /processed\/m\/a\.rows is not a row identity file/,
    );
    expect(() => RowIdentitySet.fromIdentities(['xyz'])).toThrow(/not a row identity/);
  });

  test('union merges sidecars', () => {
    const a = RowIdentitySet.fromIdentities([1, 2].map((i) => rowIdentity(digest(i))));
    const b = RowIdentitySet.fromIdentities([2, 3].map((i) => rowIdentity(digest(i))));
    const union = RowIdentitySet.union([a, b, RowIdentitySet.empty()]);
    expect(union.size).toBe(3);
    expect([...union.identities()]).toEqual([
      ...RowIdentitySet.fromIdentities([1, 2, 3].map((i) => rowIdentity(digest(i)))).identities(),
    ]);
  });

  test('deduplicate keeps first occurrences of new rows and counts both kinds of duplicate', () => {
    const seen = RowIdentitySet.fromIdentities([rowIdentity(digest(1))]);
    const rows = ['r1', 'r2', 'r2-again', 'r3', 'r1-again'];
    const digests = [1, 2, 2, 3, 1].map(digest);
    const result = deduplicate(rows, digests, seen);
    expect(result.kept).toEqual(['r2', 'r3']);
    expect(result.duplicatesOfProcessed).toBe(2);
    expect(result.duplicatesWithinFile).toBe(1);
    expect(result.keptIdentities.size).toBe(2);
  });
});
