/**
 * The few protobuf encodings the ONNX writer does by hand, because protobufjs does them per element:
 * it queues one operation object per number (and one Buffer per string) before writing, so a
 * forest's node lists (millions of numbers) took gigabytes of heap. Here a list is written straight
 * into one growing byte array: numeric lists packed (wire type 2; parsers accept packed and unpacked
 * alike, onnxruntime's included), strings as repeated length-delimited fields.
 */

const LENGTH_DELIMITED = 2;

/** A growing byte buffer with the protobuf primitives the lists need. */
class ByteWriter {
  private buffer: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(capacity: number) {
    this.buffer = new Uint8Array(Math.max(16, capacity));
    this.view = new DataView(this.buffer.buffer);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  /** A varint of a non-negative integer below 2^53, or of a negative one as its 64-bit two's complement. */
  varint(value: number): void {
    this.reserve(10);
    if (value < 0) {
      let v = BigInt.asUintN(64, BigInt(value));
      while (v >= 0x80n) {
        this.buffer[this.length++] = Number(v & 0x7fn) | 0x80;
        v >>= 7n;
      }
      this.buffer[this.length++] = Number(v);
      return;
    }
    if (value <= 0x7fffffff) {
      let v = value;
      while (v >= 0x80) {
        this.buffer[this.length++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buffer[this.length++] = v;
      return;
    }
    let v = value;
    while (v >= 0x80) {
      this.buffer[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buffer[this.length++] = v;
  }

  float32(value: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, value, true);
    this.length += 4;
  }

  bytes(value: Uint8Array): void {
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }

  /** The bytes written (a view, not a copy). */
  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

/** The bytes of a field's tag. */
function tag(field: number, wireType: number): Uint8Array {
  const w = new ByteWriter(5);
  w.varint(field * 8 + wireType);
  return w.result();
}

/**
 * A length-delimited field holding the given chunks, as chunks (the header, then the chunks
 * themselves, uncopied), so nested messages are concatenated once at the end.
 */
export function delimited(field: number, chunks: readonly Uint8Array[]): Uint8Array[] {
  const header = new ByteWriter(15);
  header.bytes(tag(field, LENGTH_DELIMITED));
  header.varint(chunks.reduce((sum, c) => sum + c.length, 0));
  return [header.result(), ...chunks];
}

/** A packed repeated varint field (int64/int32 lists) of `values`. */
export function packedVarints(field: number, values: ArrayLike<number>): Uint8Array[] {
  const w = new ByteWriter(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isSafeInteger(v)) throw new Error(`not an integer: ${v} at index ${i}`);
    w.varint(v);
  }
  return delimited(field, [w.result()]);
}

/** A packed repeated float (32-bit) field of `values`. */
export function packedFloats(field: number, values: ArrayLike<number>): Uint8Array[] {
  const w = new ByteWriter(values.length * 4);
  for (let i = 0; i < values.length; i++) w.float32(values[i]);
  return delimited(field, [w.result()]);
}

/** A repeated bytes field of UTF-8 `values`, each distinct string encoded once. */
export function repeatedStrings(field: number, values: readonly string[]): Uint8Array[] {
  const encoded = new Map<string, Uint8Array>();
  const w = new ByteWriter(values.length * 8);
  for (const value of values) {
    let entry = encoded.get(value);
    if (!entry) {
      const text = Buffer.from(value, 'utf8');
      const one = new ByteWriter(text.length + 6);
      one.bytes(tag(field, LENGTH_DELIMITED));
      one.varint(text.length);
      one.bytes(text);
      entry = one.result();
      encoded.set(value, entry);
    }
    w.bytes(entry);
  }
  return [w.result()];
}
