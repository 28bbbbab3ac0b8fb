/**
 * The part of the WebAssembly JavaScript API the kernels use. TypeScript declares it only in the
 * DOM libraries (this project compiles against ES2022 + Node's types, which leave it out).
 */
declare namespace WebAssembly {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- merged with esbuild's declaration of the same name
  interface Module {}
  const Module: { new (bytes: Uint8Array): Module };

  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
  }
  interface Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  const Memory: { new (descriptor: MemoryDescriptor): Memory };

  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  const Instance: { new (module: Module, imports: Record<string, Record<string, unknown>>): Instance };
}
