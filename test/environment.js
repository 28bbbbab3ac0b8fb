// onnxruntime-node creates output tensors with the host's typed arrays, while onnxruntime-common,
// loaded inside jest's VM context, checks them with `instanceof` against the sandbox's own
// constructors and refuses them. Sharing the host's constructors makes both sides agree.
const { TestEnvironment } = require('jest-environment-node');

// The AWS SDK's 7-line Node < 22 support warning, printed once per test file, is switched off with
// the SDK's own switch (see core/sdk-node-version-warning.ts); set before each test file's copy of
// process.env is made, so the CLIs and platforms the tests spawn inherit it. Other warnings print.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ||= 'true';

const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
];

class SharedTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SharedTypedArraysEnvironment;
